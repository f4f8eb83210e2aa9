"""The one rule of what may be dialed (SPEC §5), as a table of good and bad addresses: the form
every path checks, the `tel:` to gateway mapping, and the provider's deny list."""

import ipaddress

import pytest

from bridgedesk.settings import Settings
from bridgedesk.sip_uri import (
    DialPolicy,
    UndialableUri,
    address_problem,
    host_and_port,
    parse_networks,
    sip_uri_problem,
)

GATEWAY = "sip:{number}@gw.provider.example"
DEFAULT = DialPolicy.from_settings(Settings())  # no gateway, link-local denied
WITH_GATEWAY = DialPolicy.from_settings(
    Settings(pstn_gateway=GATEWAY), own_uris=["sip:bridge1@10.1.0.5", "sips:b2@[2001:db8::5]"]
)

GOOD_SIP = [
    "sip:room@10.0.0.7",
    "sip:room@10.0.0.7:5060",
    "sips:room@video.customer.example:5061",
    "sip:video.customer.example",
    "sip:room@[2001:db8::7]:5080",
    "sip:+4755501@gw.example;user=phone",
    "sip:room@host:1",
    "sip:room@host:65535",
    "sip:r%20m@host",
]
BAD_SIP = [
    ("", "required"),
    ("room@10.0.0.7", "Not a SIP URI"),
    ("http://room.example", "Not a SIP URI"),
    ("sip:", "Not a SIP URI"),
    ("sip:room@", "Not a SIP URI"),
    ("sip:room@host:0", "between 1 and 65535"),
    ("sip:room@host:65536", "between 1 and 65535"),
    ("sip:room@host:99999", "between 1 and 65535"),
    ("sip:room@host:", "Not a SIP URI"),
    ("sip:room @host", "whitespace"),
    ("sip:room@host\r\nVia: forged", "control characters"),
    ("sip:room@host\x00", "control characters"),
    ("sip:room@host\x7f", "control characters"),
    ("sip:room@host\t", "whitespace"),
    ("sip:room@ho_st", "Not a SIP URI"),
    ("sip:room@-host", "Not a SIP URI"),
    ("sip:" + "a" * 300 + "@host", "at most 300"),
    ("tel:+15550100", "Not a SIP URI"),  # a SIP URI proper; a site's address may be tel:
]


@pytest.mark.parametrize("uri", GOOD_SIP)
def test_good_sip_uris_pass_every_check(uri):
    assert sip_uri_problem(uri) is None
    assert address_problem(uri) is None
    assert DEFAULT.dial_uri(uri) == uri
    assert WITH_GATEWAY.dial_uri(uri) == uri


@pytest.mark.parametrize("uri, reason", BAD_SIP)
def test_bad_sip_uris_are_refused_with_the_reason(uri, reason):
    problem = sip_uri_problem(uri)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "uri, dialed",
    [
        ("tel:+15550100", "sip:+15550100@gw.provider.example"),
        ("tel:+1-555-0100", "sip:+15550100@gw.provider.example"),
        ("tel:+44(20)7946.0000", "sip:+442079460000@gw.provider.example"),
    ],
)
def test_tel_numbers_go_through_the_gateway_and_nowhere_without_one(uri, dialed):
    assert address_problem(uri) is None
    assert WITH_GATEWAY.dial_uri(uri) == dialed
    with pytest.raises(UndialableUri, match="BRIDGEDESK_PSTN_GATEWAY") as refused:
        DEFAULT.dial_uri(uri)
    assert refused.value.status_code == 422


@pytest.mark.parametrize(
    "uri",
    ["tel:15550100", "tel:+", "tel:+1 555 0100", "tel:+1555;phone-context=x", "tel:+abc", "tel:"],
)
def test_tel_uris_must_be_global_numbers(uri):
    assert address_problem(uri) is not None
    assert WITH_GATEWAY.problem(uri) is not None


@pytest.mark.parametrize(
    "uri",
    [
        "sip:meta@169.254.169.254",
        "sip:meta@169.254.169.254:80",
        "sip:room@[fe80::1]",
        "sip:room@[FE80::abcd]:5062",
        "sip:room@[::ffff:169.254.169.254]",  # the same address, written as IPv6
        "sip:bridge1@10.1.0.5",  # a registered bridge itself (5060 by default)
        "sip:other@10.1.0.5:5060",
        "sips:b2@[2001:db8::5]:5061",
    ],
)
def test_targets_the_provider_denies_are_refused(uri):
    problem = WITH_GATEWAY.problem(uri)
    assert problem is not None
    assert "network the provider does not call" in problem or "own bridges" in problem


@pytest.mark.parametrize(
    "uri",
    [
        "sip:room@10.1.0.5:5070",  # the bridge's machine, another endpoint (one-box installs)
        "sip:room@169.253.255.255",
        "sip:room@[fe7f::1]",
        "sip:room@metadata.internal",  # names are not resolved (bridgedesk/sip_uri.py)
    ],
)
def test_neighbours_of_denied_targets_are_dialable(uri):
    assert WITH_GATEWAY.problem(uri) is None


def test_a_gateway_inside_the_deny_list_is_refused_too():
    policy = DialPolicy.from_settings(Settings(pstn_gateway="sip:{number}@169.254.0.9"))
    assert "does not call" in (policy.problem("tel:+15550100") or "")


def test_the_deny_list_is_configurable_and_checked_when_read():
    settings = Settings(sip_deny_networks="10.0.0.0/8, 192.0.2.1")
    assert parse_networks(settings.sip_deny_networks) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
    )
    policy = DialPolicy.from_settings(settings)
    assert policy.problem("sip:room@10.9.9.9") and policy.problem("sip:x@192.0.2.1:7000")
    assert policy.problem("sip:room@169.254.1.1") is None  # the default was replaced
    with pytest.raises(ValueError):
        Settings(sip_deny_networks="10.0.0.0/33")
    with pytest.raises(ValueError):
        Settings(pstn_gateway="sip:gw.example")  # no {number}


def test_host_and_port_default_by_scheme():
    assert host_and_port("sip:room@Host.Example.") == ("host.example", 5060)
    assert host_and_port("sips:room@[2001:db8::7]") == ("2001:db8::7", 5061)
    with pytest.raises(ValueError):
        host_and_port("tel:+15550100")
