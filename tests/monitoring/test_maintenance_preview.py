"""The maintenance form's check before saving: short notice by the report's own rule (a window
told less than the notice period ahead counts as downtime), and the conferences inside it."""

from datetime import timedelta

import pytest

from bridgedesk.clock import utcnow
from bridgedesk.errors import Forbidden
from bridgedesk.identity import Role
from monitoring.service import maintenance, uptime


@pytest.mark.parametrize(
    ("lead", "short"),
    [(timedelta(hours=48), False), (timedelta(hours=48) - timedelta(seconds=1), True)],
    ids=["exactly-48h", "a-second-short"],
)
async def test_short_notice_is_the_reports_rule(db, make_actor, lead, short):
    operator = await make_actor(Role.OPERATOR)
    now = utcnow()
    preview = await maintenance.preview_window(
        db, component="bridge", start=now + lead, end=now + lead + timedelta(hours=1),
        by=operator, now=now,
    )  # fmt: skip
    assert preview.short_notice is short
    # The report judges the same window, announced at that moment, the same way.
    assert uptime.notified_in_time(now, now + lead, preview.notice) is not short


async def test_the_conferences_inside_a_window_are_listed(db, make_actor, make_conference):
    operator = await make_actor(Role.OPERATOR)
    start = utcnow() + timedelta(days=3)
    inside = await make_conference(start=start, end=start + timedelta(hours=1))
    await make_conference(start=start + timedelta(hours=5), end=start + timedelta(hours=6))
    preview = await maintenance.preview_window(
        db, component="bridge", start=start - timedelta(minutes=30),
        end=start + timedelta(hours=2), by=operator,
    )  # fmt: skip
    assert [c.number for c in preview.conferences] == [inside.number]


async def test_only_window_managers_preview(db, make_actor):
    with pytest.raises(Forbidden):
        await maintenance.preview_window(
            db, component="bridge", start=utcnow(), end=utcnow() + timedelta(hours=1),
            by=await make_actor(Role.TECHNICIAN),
        )  # fmt: skip
