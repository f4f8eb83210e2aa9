"""Sign-in throttling (bridgedesk/throttle.py) on the API token route and the page login: per
account and per client address, 429 with Retry-After, lifted when the window moves on; and
the bound on concurrent password hashes."""

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from bridgedesk import auth
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings
from tests.conftest import PASSWORD, page_login


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BRIDGEDESK_SIGN_IN_MAX_FAILURES_PER_ACCOUNT", "5")
    monkeypatch.setenv("BRIDGEDESK_SIGN_IN_MAX_FAILURES_PER_ADDRESS", "8")
    monkeypatch.setenv("BRIDGEDESK_SIGN_IN_WINDOW_SECONDS", "600")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _token(client, email: str, password: str):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


async def test_an_account_is_locked_for_the_window_then_signs_in(db, limits, make_user, anonymous):
    user = await make_user(Role.OPERATOR)
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        statuses = [(await _token(anonymous, user.email, "wrong")).status_code for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2
        right = await _token(anonymous, user.email, PASSWORD)
        assert right.status_code == 429
        assert right.headers["Retry-After"] == "600" and right.json()["retry_after"] == 600
        # The page login answers the same for the same account.
        form = await page_login(anonymous, {"email": user.email, "password": PASSWORD})
        assert form.status_code == 429 and form.headers["Retry-After"] == "600"
        # Another account from the same address is not locked by these (3 failures left).
        other = await make_user(Role.OPERATOR)
        assert (await _token(anonymous, other.email, PASSWORD)).status_code == 200
        clock.move_to(start + timedelta(seconds=599))
        assert (await _token(anonymous, user.email, PASSWORD)).status_code == 429
        clock.move_to(start + timedelta(seconds=601))
        assert (await _token(anonymous, user.email, PASSWORD)).status_code == 200


async def test_an_address_guessing_many_accounts_is_throttled(db, limits, make_user, anonymous):
    user = await make_user(Role.OPERATOR)
    for _ in range(8):  # each a different account: no account reaches its limit
        answer = await _token(anonymous, f"{uuid.uuid4().hex[:8]}@nowhere.example", "guess")
        assert answer.status_code == 401
    refused = await _token(anonymous, user.email, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


async def test_page_login_failures_count_too(db, limits, make_user, anonymous):
    user = await make_user(Role.SCHEDULER)
    for _ in range(5):
        wrong = await page_login(anonymous, {"email": user.email, "password": "wrong"})
        assert wrong.status_code == 401
    locked = await page_login(anonymous, {"email": user.email, "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert (await _token(anonymous, user.email, PASSWORD)).status_code == 429


async def test_password_hashes_run_at_most_n_at_once(monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_PASSWORD_HASH_CONCURRENCY", "2")
    get_settings.cache_clear()
    auth._hash_slots.clear()
    running = 0
    most = 0
    lock = threading.Lock()

    class CountingHasher:
        """Counts the verifications running at once (each holds its thread 50 ms)."""

        def verify(self, stored: str, password: str) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1
            return False

    monkeypatch.setattr(auth, "_hasher", CountingHasher())
    try:
        await asyncio.gather(*(auth.password_matches("x", "y") for _ in range(8)))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        auth._hash_slots.clear()
    assert most == 2
