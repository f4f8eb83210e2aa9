"""SIP OPTIONS pings over UDP, sent by hand rather than through pjsua2: a ping needs no call
slot and no media, and pjsua2 offers no plain out-of-dialog request with its answer's timing.

One request per ping, retransmitted as RFC 3261 says for non-INVITE requests over UDP (T1 =
500 ms, doubling, at most T2 = 4 s apart), until a final answer or the timeout.
"""

import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime

from bridgedesk.clock import utcnow
from bridgedesk.sip_uri import host_and_port

T1 = 0.5
T2 = 4.0


@dataclass(frozen=True)
class OptionsOutcome:
    started_at: datetime
    finished_at: datetime
    final_status: int | None
    provisional_ms: float | None
    round_trip_ms: float | None
    call_id: str
    detail: str


def send_options(uri: str, *, timeout: float, bind_host: str = "127.0.0.1") -> OptionsOutcome:
    """Ping `uri`; blocks until its final answer or `timeout` seconds."""
    call_id = f"{secrets.token_hex(12)}@bridgedesk"
    started_at = utcnow()
    try:
        host, port = host_and_port(uri)
        address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except (OSError, ValueError) as error:
        return OptionsOutcome(
            started_at, utcnow(), None, None, None, call_id, f"unreachable: {error}"
        )
    family, _, _, _, target = address
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((bind_host if family == socket.AF_INET else "::", 0))
        local_host, local_port = sock.getsockname()[:2]
        branch = f"z9hG4bK{secrets.token_hex(10)}"
        request = _options_request(uri, local_host, local_port, branch, call_id)
        sent = time.monotonic()
        deadline = sent + timeout
        interval = T1
        provisional_ms: float | None = None
        try:
            sock.sendto(request, target)
        except OSError as error:
            return OptionsOutcome(
                started_at, utcnow(), None, None, None, call_id, f"unreachable: {error}"
            )
        resend_at = sent + interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                return OptionsOutcome(
                    started_at,
                    utcnow(),
                    None,
                    provisional_ms,
                    None,
                    call_id,
                    f"no answer within {timeout:g} s",
                )
            sock.settimeout(max(0.001, min(deadline, resend_at) - now))
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                if time.monotonic() >= resend_at and provisional_ms is None:
                    interval = min(interval * 2, T2)
                    resend_at = time.monotonic() + interval
                    sock.sendto(request, target)
                elif time.monotonic() >= resend_at:
                    resend_at = time.monotonic() + T2  # after a 1xx, retransmit every T2
                    sock.sendto(request, target)
                continue
            except OSError as error:  # ICMP port unreachable on a connected route
                return OptionsOutcome(
                    started_at, utcnow(), None, None, None, call_id, f"unreachable: {error}"
                )
            status, reason = _status_of(data, call_id, branch)
            if status is None:
                continue  # not ours, or not a response
            elapsed_ms = (time.monotonic() - sent) * 1000
            if status < 200:
                provisional_ms = provisional_ms or elapsed_ms
                continue
            return OptionsOutcome(
                started_at,
                utcnow(),
                status,
                provisional_ms,
                elapsed_ms,
                call_id,
                f"{status} {reason}".strip(),
            )


def _options_request(uri: str, host: str, port: int, branch: str, call_id: str) -> bytes:
    tag = secrets.token_hex(6)
    local = f"[{host}]" if ":" in host else host
    lines = [
        f"OPTIONS {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {local}:{port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:bridgedesk@{local}:{port}>;tag={tag}",
        f"To: <{uri}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:bridgedesk@{local}:{port}>",
        "Accept: application/sdp",
        "User-Agent: bridgedesk-probe",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def _status_of(data: bytes, call_id: str, branch: str) -> tuple[int | None, str]:
    """The status of a response to our request (matched by Call-ID and Via branch)."""
    text = data.decode("utf-8", errors="replace")
    head, _, _ = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    first = lines[0].split(" ", 2)
    if len(first) < 2 or not first[0].startswith("SIP/2.0") or not first[1].isdigit():
        return None, ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    got_call_id = headers.get("call-id") or headers.get("i")
    via = headers.get("via") or headers.get("v") or ""
    if got_call_id != call_id or branch not in via:
        return None, ""
    return int(first[1]), first[2] if len(first) > 2 else ""
