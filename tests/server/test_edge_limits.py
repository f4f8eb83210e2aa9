"""The edge against the real `bridgedesk serve`: bodies over the limit are refused before
they are read (fast, and without the server's memory growing), sign-in is throttled per
account until its window moves on, and no access-log line holds a feed key."""

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_process import RunningServer, run_cli, running_server

PASSWORD = "edge-test-password"
MIB = 1024 * 1024
BODY = 50 * MIB
WINDOW_SECONDS = 15


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    """A real server (one process, SQLite) with a short sign-in window and its access log on."""
    folder: Path = tmp_path_factory.mktemp("edge")
    url = f"sqlite:///{folder / 'edge.db'}"
    run_cli(url, "migrate")
    email = f"admin-{uuid.uuid4().hex[:6]}@provider.example"
    run_cli(url, "user", "add", email, "--role", "admin", "--password", PASSWORD)
    env = {"BRIDGEDESK_SIGN_IN_WINDOW_SECONDS": str(WINDOW_SECONDS)}
    with running_server(url, folder, extra_env=env, access_log=True) as server:
        yield server, email


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _send_big_body(base_url: str, path: str, *, chunked: bool) -> tuple[int, float]:
    """POST 50 MiB to `path` over a raw socket while reading the answer: (status, seconds).

    The body is sent from a thread that stops when the server hangs up, as a client would; the
    status line is read as soon as the server sends it."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()
    piece = b"[" + b"1," * (MIB // 2 - 1) + b"1]"  # 1 MiB of JSON-ish text

    def send() -> None:
        try:
            connection.sendall(head)
            for _ in range(BODY // len(piece)):
                data = piece if not chunked else b"%x\r\n%s\r\n" % (len(piece), piece)
                connection.sendall(data)
            if chunked:
                connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: the rest is never read

    started = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    try:
        while b"\r\n" not in answer:
            data = connection.recv(4096)
            if not data:
                break
            answer += data
    finally:
        elapsed = time.monotonic() - started
        connection.close()
        sender.join(timeout=10)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, elapsed


# The bulk CDR import, sign-in, a booking, a page form: none takes 50 MiB.
ROUTES = ["/api/v1/cdrs", "/api/v1/auth/token", "/api/v1/conferences", "/login"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ROUTES)
def test_a_50_mib_body_is_a_413_within_2_s_and_the_server_does_not_grow(edge_server, path, chunked):
    server, _ = edge_server
    before = _rss_kib(server.pid)
    status, elapsed = _send_big_body(server.base_url, path, chunked=chunked)
    assert status == 413, status
    assert elapsed < 2.0, elapsed
    grown_mib = (_rss_kib(server.pid) - before) / 1024
    print(f"{path} chunked={chunked}: {status} in {elapsed:.3f} s, RSS {grown_mib:+.1f} MiB")
    assert grown_mib < 100, grown_mib
    # And the server still serves.
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200


def test_the_413_is_json_naming_the_limit(edge_server):
    server, _ = edge_server
    response = httpx.post(
        f"{server.base_url}/api/v1/auth/token", content=b"x" * (2 * MIB), timeout=10
    )
    assert response.status_code == 413
    assert response.json()["limit"] == 1_048_576 and response.json()["detail"]


def test_20_wrong_passwords_lock_the_account_until_the_window_moves_on(edge_server):
    server, email = edge_server
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        statuses = [
            client.post(
                "/api/v1/auth/token", json={"email": email, "password": "wrong"}
            ).status_code
            for _ in range(20)
        ]
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses
        right = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert right.status_code == 429, right.text
        wait = int(right.headers["Retry-After"])
        assert 1 <= wait <= WINDOW_SECONDS
        time.sleep(wait + 0.5)  # the window is a setting, 15 s here
        again = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert again.status_code == 200, again.text


def test_no_access_log_line_holds_a_feed_key(edge_server):
    server, email = edge_server
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        if token.status_code == 429:  # the throttle test above may still hold the account
            time.sleep(int(token.headers["Retry-After"]) + 0.5)
            token = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        customer = client.post("/api/v1/customers", json={"name": "Logged", "timezone": "UTC"})
        key = client.post("/api/v1/auth/feed-keys").json()["key"]
        del client.headers["Authorization"]
        feed = f"/api/v1/customers/{customer.json()['id']}/calendar.ics"
        assert client.get(feed, params={"key": key}).status_code == 200
        assert client.get(feed, params={"key": "x" + key}).status_code == 401
    deadline = time.monotonic() + 5
    while "calendar.ics" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log.read_text()
    lines = [line for line in log.splitlines() if "calendar.ics" in line]
    assert len(lines) >= 2, log[-2000:]
    assert all("key=[redacted]" in line for line in lines), lines
    assert key not in log and key[:16] not in log
