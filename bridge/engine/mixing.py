"""pjsua2's conference bridge for bridge/engine/sip.py: a call's audio port is put in the
bridge once its media is active, the null device's silence goes out to it, and the calls of
one conference transmit to each other (the bridge sums what each site hears); a call leaves
its conference when it is dropped.
"""

import logging

import pjsua2 as pj

from bridge.engine.calls import Tracked

log = logging.getLogger("bridge.engine.sip")


class ConferenceBridge:
    """The calls of each conference in the bridge, read from the engine's live calls."""

    def __init__(self, calls: dict[str, Tracked]) -> None:
        self._calls = calls  # the engine's own dict: every live call
        self._groups: dict[int, set[str]] = {}  # conference -> keys of its calls
        self.null_port: pj.AudioMedia | None = None  # set once the endpoint has started

    def on_media_state(self, call: "pj.Call", tracked: Tracked) -> None:
        info = call.getInfo()
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                tracked.audio_index = media.index
                try:
                    stream = call.getStreamInfo(media.index)
                    tracked.codec = f"{stream.codecName}/{stream.codecClockRate}"
                except pj.Error:
                    pass
                try:
                    audio = call.getAudioMedia(media.index)
                    # The null device's silence goes out, so the far end (and an echo) has RTP
                    # even alone in its meeting. (pjsua2 measures a call's received level only
                    # while another call listens to it: a site alone reads 0.)
                    self.null_port.startTransmit(audio)  # type: ignore[union-attr]
                except pj.Error as error:
                    log.warning("%s: no audio port: %s", tracked.command.key, error.reason)
                    return
                if tracked.audio is None:
                    tracked.audio = audio
                    self.mix(tracked)
                return

    def mix(self, tracked: Tracked) -> None:
        """Connect the call both ways with every other call of its conference that has
        audio: each site hears all the others (pjsua2's conference bridge sums them)."""
        group = tracked.command.group
        if group is None or tracked.audio is None:
            return
        members = self._groups.setdefault(group, set())
        for key in members:
            other = self._calls.get(key)
            if other is None or other.audio is None or other.disconnected:
                continue
            try:
                tracked.audio.startTransmit(other.audio)
                other.audio.startTransmit(tracked.audio)
            except pj.Error as error:
                log.warning("mixing %s with %s failed: %s", tracked.command.key, key, error.reason)
        members.add(tracked.command.key)

    def leave(self, key: str, tracked: Tracked) -> None:
        """The call is dropped: out of its conference (the conference gone with its last)."""
        group = tracked.command.group
        if group is not None and group in self._groups:
            self._groups[group].discard(key)
            if not self._groups[group]:
                del self._groups[group]

    def clear(self) -> None:
        self.null_port = None
        self._groups.clear()
