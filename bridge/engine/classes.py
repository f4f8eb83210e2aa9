"""The classes of work the SIP engine serves, in the order it serves them (SPEC §5 "Engine
capacity and priority"): drop recovery and audio links first, then launches and added sites,
then certification tests, then probes. Plain values: the services and the engine share them."""

from enum import IntEnum


class WorkClass(IntEnum):
    # A dropped site's redial and an audio link: a meeting is waiting on them right now.
    RECOVERY = 0
    # Launches, ad hoc calls and sites added to a running meeting.
    LAUNCH = 1
    # Certification test calls (a technician or a deadline waits, not a meeting).
    CERTIFICATION = 2
    # Everything else: call-setup probes and pings.
    PROBE = 3


# Dials by purpose (bridge.service.leg_states dials legs with these purposes).
_DIAL_CLASSES = {
    "redial": WorkClass.RECOVERY,
    "audio_fallback": WorkClass.RECOVERY,
    "launch": WorkClass.LAUNCH,
    "adhoc": WorkClass.LAUNCH,
    "add_site": WorkClass.LAUNCH,
}
CERTIFICATION_PURPOSE = "certification"


def dial_class(purpose: str) -> WorkClass:
    """A dial's class; a dial for another purpose is served like a launch."""
    return _DIAL_CLASSES.get(purpose, WorkClass.LAUNCH)


def probe_class(purpose: str) -> WorkClass:
    return WorkClass.CERTIFICATION if purpose == CERTIFICATION_PURPOSE else WorkClass.PROBE
