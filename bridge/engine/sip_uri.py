"""The engine's name for the one SIP URI rule, which lives in the kernel (bridgedesk.sip_uri)
so that reservations and certification, below the bridge, apply the same rule."""

from bridgedesk.sip_uri import MAX_SIP_URI_LENGTH, host_and_port, sip_uri_problem

__all__ = ["MAX_SIP_URI_LENGTH", "host_and_port", "sip_uri_problem"]
