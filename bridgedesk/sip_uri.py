"""What may be dialed (SPEC §5): the one SIP URI rule every path applies (API, pages, CSV
import, the services that queue calls, the engine), the `tel:` to PSTN gateway mapping, and
the provider's deny list. Pure functions over settings; callers add what only the database
knows (the registered bridges' own endpoints).

The deny list is checked on IP literals only (a host name is compared with the bridges'
own host names, never resolved): resolving at validation time proves nothing about the
address the engine meets later (DNS may answer differently then), and would make saving a
site depend on the network. An operator who needs names kept out lists their networks.
"""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bridgedesk.errors import InvalidInput
from bridgedesk.settings import Settings, get_settings

MAX_SIP_URI_LENGTH = 300

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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
# RFC 3966 global numbers: "+", digits, and the visual separators people type ("-", ".",
# "(", ")"). Local numbers need a phone-context the gateway cannot guess, so they are refused.
_TEL_URI = re.compile(r"^tel:(?P<number>\+[0-9][0-9\-.()]{2,30})$")
_SEPARATORS = str.maketrans("", "", "-.()")


class UndialableUri(InvalidInput):
    message = "That address cannot be dialed."


@dataclass(frozen=True)
class SipTarget:
    scheme: str
    host: str  # without the brackets of an IPv6 literal, lower case
    port: int  # the scheme's default (5060, 5061 for sips) when the URI names none


def _text_problem(uri: object) -> str | None:
    if not isinstance(uri, str) or not uri:
        return "A SIP URI is required."
    if len(uri) > MAX_SIP_URI_LENGTH:
        return f"A SIP URI has at most {MAX_SIP_URI_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        return "A SIP URI may not contain whitespace or control characters."
    return None


def sip_uri_problem(uri: str) -> str | None:
    """Why `uri` is not a SIP URI the engine can place a call to, or None when it is."""
    problem = _text_problem(uri)
    if problem:
        return problem
    match = _SIP_URI.match(uri)
    if match is None:
        return "Not a SIP URI: expected sip:[user@]host[:port] or sips:..."
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return "The port of a SIP URI must be between 1 and 65535."
    return None


def address_problem(uri: str) -> str | None:
    """Why `uri` is not an address a site may have (a SIP URI or a global `tel:` number)."""
    if isinstance(uri, str) and uri.startswith("tel:"):
        problem = _text_problem(uri)
        if problem:
            return problem
        if _TEL_URI.match(uri) is None:
            return "A tel: URI is a global number: tel:+ followed by digits."
        return None
    return sip_uri_problem(uri)


def target_of(uri: str) -> SipTarget:
    """The scheme, host and port a SIP URI sends its requests to."""
    match = _SIP_URI.match(uri)
    if match is None or sip_uri_problem(uri):
        raise ValueError(f"not a SIP URI: {uri!r}")
    scheme = match.group("scheme")
    default = 5061 if scheme == "sips" else 5060
    host = match.group("host").strip("[]").rstrip(".").lower()
    return SipTarget(scheme, host, int(match.group("port") or default))


def host_and_port(uri: str) -> tuple[str, int]:
    """The host and port an OPTIONS request for `uri` goes to (5060/5061 by default)."""
    target = target_of(uri)
    return target.host, target.port


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """Comma-separated CIDRs (a bare address is its own /32 or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


@dataclass(frozen=True)
class DialPolicy:
    """Where the provider's bridges may send calls: the gateway `tel:` numbers go through,
    and the networks and endpoints (the bridges themselves) they must never reach."""

    gateway: str | None = None
    deny_networks: tuple[IpNetwork, ...] = ()
    deny_endpoints: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, own_uris: Iterable[str] = ()
    ) -> "DialPolicy":
        """The configured policy; `own_uris` are the provider's bridges, never a dial target.

        A bridge is denied as host and port, not host: on one machine (the demo, the tests,
        a small installation) the bridge and the sites it calls share an address.
        """
        settings = settings or get_settings()
        endpoints = set()
        for uri in own_uris:
            if sip_uri_problem(uri) is None:
                target = target_of(uri)
                endpoints.add((target.host, target.port))
        return cls(
            gateway=settings.pstn_gateway or None,
            deny_networks=parse_networks(settings.sip_deny_networks),
            deny_endpoints=frozenset(endpoints),
        )

    def dial_uri(self, uri: str) -> str:
        """The SIP URI the engine calls for `uri`; raises UndialableUri with the reason."""
        problem = address_problem(uri)
        if problem:
            raise UndialableUri(problem, field="sip_uri")
        if uri.startswith("tel:"):
            if not self.gateway:
                raise UndialableUri(
                    "tel: numbers are dialed through the provider's PSTN gateway, and none is "
                    "configured (BRIDGEDESK_PSTN_GATEWAY); give a sip: or sips: URI.",
                    field="sip_uri",
                )
            number = uri.removeprefix("tel:").translate(_SEPARATORS)
            uri = self.gateway.replace("{number}", number)
            problem = sip_uri_problem(uri)
            if problem:
                raise UndialableUri(f"The PSTN gateway gives no SIP URI: {problem}")
        self._check_target(target_of(uri), uri)
        return uri

    def problem(self, uri: str) -> str | None:
        """Why `uri` may not be dialed under this policy, or None when it may."""
        try:
            self.dial_uri(uri)
        except UndialableUri as refused:
            return refused.detail
        return None

    def check(self, uri: str, *, field_name: str = "sip_uri") -> None:
        """Refuse (422, naming the field) a URI that may not be dialed."""
        problem = self.problem(uri)
        if problem:
            raise UndialableUri(f"{field_name}: {problem}", field=field_name)

    def _check_target(self, target: SipTarget, uri: str) -> None:
        if (target.host, target.port) in self.deny_endpoints:
            raise UndialableUri(f"{uri} is one of the provider's own bridges.", field="sip_uri")
        try:
            address = ipaddress.ip_address(target.host)
        except ValueError:
            return  # a host name: not resolved here (see the module's docstring)
        mapped = getattr(address, "ipv4_mapped", None)
        for candidate in (address, mapped) if mapped else (address,):
            for network in self.deny_networks:
                if candidate.version == network.version and candidate in network:
                    raise UndialableUri(
                        f"{target.host} is in a network the provider does not call ({network}).",
                        field="sip_uri",
                    )
