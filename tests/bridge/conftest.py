"""Fixtures of the launch and recovery tests: short recovery settings, a booked conference."""

from datetime import timedelta

import pytest
import time_machine

from bridgedesk.auth import actor_of
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings
from tests.bridge.launches import T0


@pytest.fixture
def recovery_settings(monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_RECOVERY_WINDOW_SECONDS", "300")
    monkeypatch.setenv("BRIDGEDESK_REDIAL_BACKOFF_INITIAL_SECONDS", "10")
    monkeypatch.setenv("BRIDGEDESK_REDIAL_BACKOFF_CAP_SECONDS", "60")
    monkeypatch.setenv("BRIDGEDESK_CONTACT_CHAIN_STEP_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def conference(db, make_customer, make_site, make_user, make_conference):
    """Booked at T0 - 1 day for T0..T0+1h, two sites, the scheduler and primary contact known."""
    customer = await make_customer(
        primary_contact={"name": "Pat Primary", "email": "primary@customer.example"}
    )
    first = await make_site(
        customer=customer,
        name="Boardroom",
        sip_uri="sip:board@127.0.0.1",
        audio_uri="sip:board-audio@127.0.0.1",
        contacts=[
            {"name": "Tess Tech", "email": "tess@customer.example"},
            {"name": "Nick Night", "email": "nick@customer.example", "phone": "+1 555"},
        ],
    )
    second = await make_site(customer=customer, name="Lab", sip_uri="sip:lab@127.0.0.1")
    scheduler = await make_user(
        Role.SCHEDULER, customer_id=customer.id, email="sam@customer.example", name="Sam"
    )
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        booked = await make_conference(
            sites=[first, second], start=T0, end=T0 + timedelta(hours=1), by=actor_of(scheduler)
        )
    return booked
