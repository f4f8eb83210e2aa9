"""Mixing against real peers: the legs of one conference hear each other through pjsua2's
conference bridge, the legs of two conferences do not, and an audio link standing in for a
dropped site hears the meeting.

Site A is a sipp that answers PCMA and plays recorded speech (sipp's g711a.pcap); site B is
a sipp that echoes whatever RTP it gets (-rtp_echo). B's leg can only receive sound if the
bridge sent it some: A's voice, mixed for B. Each leg's `rx_level` is pjsua2's received level
(0-255, peak over the last report), copied onto the leg by the supervision job.

The engine here runs ONE SIP process, so the negative case is a real one: both conferences
sit in the same conference bridge and only the per-conference connections keep them apart.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from bridge.models import Leg
from tests.conftest import own_database
from tests.sip.conferences import book_now, hang_up, jobs_on, run_jobs_until
from tests.sip.conftest import RunningEngine, sip_engine
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres

# Speech from the pcap reads well above this; the echo of the bridge's silence reads 0.
HEARD = 20
SILENCE = 5


@pytest.fixture(scope="module")
def one_process_engine() -> Iterator[RunningEngine]:
    # The wheel's 4 calls per process hold both 2-site conferences only with no reserve.
    with (
        own_database("bridgedesk_sipmix") as url,
        sip_engine(url, processes=1, env={"BRIDGEDESK_SIP_RECOVERY_RESERVE": "0"}) as engine,
    ):
        yield engine


@pytest.fixture
async def jobs(one_process_engine: RunningEngine, monkeypatch) -> AsyncIterator[str]:
    async with jobs_on(one_process_engine.database_url, monkeypatch) as url:
        yield url


def _level(leg: Leg) -> int:
    return leg.media_rx_level or 0


def _by_name(legs: list[Leg], site_ids: dict[int, str]) -> dict[str, Leg]:
    return {site_ids.get(leg.site_id, "?") + ("/audio" if leg.kind == "audio" else ""): leg
            for leg in legs}  # fmt: skip


async def test_sites_in_one_conference_hear_each_other(jobs, one_process_engine):
    url = jobs
    with (
        sipp_uas("answer_pcma_play", rtp_echo=False) as speaker,
        sipp_uas("answer", rtp_echo=True) as echo,
    ):
        conference_id = await book_now(
            url,
            [
                {"name": "Speaker", "sip_uri": speaker.uri("a")},
                {"name": "Echo", "sip_uri": echo.uri("b")},
            ],
        )
        connected = await run_jobs_until(
            url, conference_id, lambda ls: all(leg.state == "connected" for leg in ls),
            within=15, what="both legs connected",
        )  # fmt: skip
        echo_leg = connected[1]
        # B echoes what the bridge mixed for it: A's speech comes back on B's leg.
        heard = await run_jobs_until(
            url, conference_id, lambda ls: _level(ls[1]) >= HEARD,
            within=10, what="B's leg hears A through the mix",
        )  # fmt: skip
        await hang_up(url, conference_id)
    assert heard[1].id == echo_leg.id
    assert heard[0].media_rx_level is not None and heard[0].media_rx_level >= HEARD
    assert (heard[1].media_tx_packets or 0) > 0 and heard[1].media_loss_pct is not None
    assert "ETOOMANY" not in one_process_engine.log.read_text(errors="replace")


async def test_sites_in_two_conferences_do_not_hear_each_other(jobs, one_process_engine):
    """Conference 1: A (speech) and D (echo); conference 2: B and C (both echo). D hears A
    (the control); B hears only C's echo of the bridge's silence."""
    url = jobs
    with (
        sipp_uas("answer_pcma_play", rtp_echo=False) as speaker,
        sipp_uas("answer", rtp_echo=True) as echo,
    ):
        first = await book_now(
            url,
            [
                {"name": "Speaker", "sip_uri": speaker.uri("a")},
                {"name": "Listener", "sip_uri": echo.uri("d")},
            ],
        )
        second = await book_now(
            url,
            [
                {"name": "Echo B", "sip_uri": echo.uri("b")},
                {"name": "Echo C", "sip_uri": echo.uri("c")},
            ],
        )
        measured = lambda ls: all(  # noqa: E731
            leg.state == "connected" and leg.media_rx_level is not None for leg in ls
        )
        await run_jobs_until(url, first, measured, within=15, what="A and D connected")
        await run_jobs_until(url, second, measured, within=15, what="B and C connected")
        # A talks the whole time (D hears it); B's leg stays at silence meanwhile.
        levels: list[int] = []
        for _ in range(4):
            await run_jobs_until(
                url, first, lambda ls: _level(ls[1]) >= HEARD, within=10, what="D hears A"
            )
            b, c = await run_jobs_until(url, second, lambda ls: True, within=1, what="B, C")
            levels += [_level(b), _level(c)]
            await asyncio.sleep(2)
        await hang_up(url, first, second)
    assert max(levels) <= SILENCE, levels
    assert "ETOOMANY" not in one_process_engine.log.read_text(errors="replace")


async def test_the_audio_link_of_a_dropped_site_hears_the_meeting(jobs, one_process_engine):
    """Site V drops for good (answers once, hangs up, gone); past the (shortened) recovery
    window its audio link is dialed: an echoing sipp, which hears A's speech through the mix
    of V's conference, so the audio link's leg reads A's level back."""
    url = jobs
    with (
        sipp_uas("answer_pcma_play", rtp_echo=False) as speaker,
        sipp_uas("answer", rtp_echo=True) as audio_line,
    ):
        with sipp_uas("answer_then_bye", pause_ms=1500, extra_args=("-m", "1")) as video:
            conference_id = await book_now(
                url,
                [
                    {"name": "Speaker", "sip_uri": speaker.uri("a")},
                    {"name": "Vanishing", "sip_uri": video.uri("v"),
                     "audio_uri": audio_line.uri("audio")},
                ],
            )  # fmt: skip
            await run_jobs_until(
                url, conference_id, lambda ls: all(leg.state == "connected" for leg in ls),
                within=15, what="both connected",
            )  # fmt: skip
            await run_jobs_until(
                url, conference_id, lambda ls: ls[1].state in ("dropped", "reconnecting"),
                within=10, what="V's BYE seen as a drop",
            )  # fmt: skip
        linked = await run_jobs_until(
            url, conference_id,
            lambda ls: len(ls) == 3 and ls[2].kind == "audio" and ls[2].state == "connected",
            within=20, what="the audio link connected",
        )  # fmt: skip
        heard = await run_jobs_until(
            url, conference_id, lambda ls: _level(ls[2]) >= HEARD,
            within=10, what="the audio link hears the meeting",
        )  # fmt: skip
        await hang_up(url, conference_id)
    assert linked[1].state == "audio_fallback" and heard[2].parent_leg_id == linked[1].id
