"""The SIP URI rule shared by the API, the services and the engine: what may be dialed."""

import re

MAX_SIP_URI_LENGTH = 300

# sip:/sips:, an optional user part, a host (name, IPv4 or [IPv6]), an optional port, and
# optional ;parameters. No whitespace or control characters anywhere: the URI goes into a
# Request-Line verbatim, so anything else could split or forge SIP headers.
_SIP_URI = re.compile(
    r"""
    ^(?P<scheme>sips?):
    (?:(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+)@)?
    (?P<host>
        [A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.?
      | \[[0-9A-Fa-f:.]+\]
    )
    (?::(?P<port>[0-9]{1,5}))?
    (?P<params>(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%\[\]:]+)?)*)$
    """,
    re.VERBOSE,
)


def sip_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be dialed, or None when it can."""
    if not isinstance(uri, str) or not uri:
        return "A SIP URI is required."
    if len(uri) > MAX_SIP_URI_LENGTH:
        return f"A SIP URI has at most {MAX_SIP_URI_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        return "A SIP URI may not contain whitespace or control characters."
    match = _SIP_URI.match(uri)
    if match is None:
        return "Not a SIP URI: expected sip:[user@]host[:port] or sips:..."
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return "The port of a SIP URI must be between 1 and 65535."
    return None


def host_and_port(uri: str) -> tuple[str, int]:
    """The host and port an OPTIONS request for `uri` goes to (5060/5061 by default)."""
    match = _SIP_URI.match(uri)
    if match is None:
        raise ValueError(f"not a SIP URI: {uri!r}")
    host = match.group("host").strip("[]")
    default = 5061 if match.group("scheme") == "sips" else 5060
    return host, int(match.group("port") or default)
