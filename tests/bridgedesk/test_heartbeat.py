"""The worker's heartbeat as operators see it: `/healthz` reports it (200 either way, the
worker's state beside the database's), and operators' and admins' pages carry a banner while
it is stale. Run on PostgreSQL, where a heartbeat committed beside the test's transaction is
seen by the health check's own connection, as the worker's is in production."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import text

from bridgedesk.db import sync_engine_for
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BANNER = "The worker is not running"


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def committed_beat(engines, database_urls) -> Iterator[object]:
    """`beat(at)`: a worker's heartbeat row committed as the worker would; removed after."""
    engines("postgresql")
    engine = sync_engine_for(database_urls["postgresql"])

    def beat(at: datetime, *, role: str = "scheduler") -> None:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO bridgedesk_worker_heartbeats (worker, role, started_at, last_beat)"
                    " VALUES (:w, :role, :at, :at)"
                ),
                {"w": f"test-host:{role}", "role": role, "at": at},
            )

    yield beat
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM bridgedesk_worker_heartbeats"))
    engine.dispose()


async def test_healthz_says_the_worker_is_down_when_it_never_beat(anonymous):
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["worker"] == {"last_heartbeat": None, "ok": False}


async def test_healthz_reports_a_fresh_heartbeat_and_then_a_stale_one(committed_beat, anonymous):
    stale_after = get_settings().worker_heartbeat_stale_seconds
    with time_machine.travel(NOW, tick=False) as clock:
        committed_beat(NOW - timedelta(seconds=1))
        response = await anonymous.get("/healthz")
        assert response.status_code == 200
        assert response.json()["worker"] == {
            "last_heartbeat": (NOW - timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
            "ok": True,
        }
        clock.shift(timedelta(seconds=stale_after + 1))
        response = await anonymous.get("/healthz")
    # The web side is fine: still 200, and the worker's state is reported, not hidden.
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["worker"]["ok"] is False
    assert response.json()["worker"]["last_heartbeat"] is not None


async def test_a_standby_worker_does_not_count_as_the_scheduler(committed_beat, anonymous):
    committed_beat(datetime.now(UTC), role="standby")
    assert (await anonymous.get("/healthz")).json()["worker"]["ok"] is False


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
async def test_operators_and_admins_pages_carry_a_banner_while_the_worker_is_down(
    committed_beat, sign_in, make_user, role
):
    page = await sign_in(await make_user(role))
    down = await page.get("/confirmations")
    assert down.status_code == 200
    assert BANNER in down.text
    committed_beat(datetime.now(UTC))
    up = await page.get("/confirmations")
    assert up.status_code == 200
    assert BANNER not in up.text


async def test_customers_never_see_the_banner(sign_in, make_user, make_customer):
    customer = await make_customer()
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    response = await page.get("/conferences/new")
    assert response.status_code == 200
    assert BANNER not in response.text
