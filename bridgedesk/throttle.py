"""Sign-in throttling: failed sign-ins are counted per account and per client address over a
sliding window; at the limit, sign-in answers 429 with `Retry-After` until the window moves on.

Counts live in the web process's memory (each `serve` worker counts its own), so a restart
forgets them; what they bound is guessing speed, which a restart does not raise much.
"""

import math
from collections import deque
from dataclasses import dataclass, field

from bridgedesk.clock import utcnow
from bridgedesk.errors import TooManyRequests
from bridgedesk.settings import get_settings

# Guessed emails are attacker-chosen keys: past this many, expired windows are dropped, and
# if that is not enough the oldest keys go (forgetting an old failure only relaxes a limit).
MAX_KEYS = 100_000


class TooManySignIns(TooManyRequests):
    message = "Too many failed sign-ins; wait before trying again."


@dataclass
class SignInThrottle:
    _failures: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    @staticmethod
    def _keys(email: str, address: str | None) -> list[tuple[tuple[str, str], int]]:
        settings = get_settings()
        keys = [(("account", email.strip().lower()), settings.sign_in_max_failures_per_account)]
        if address:
            keys.append((("address", address), settings.sign_in_max_failures_per_address))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        window = get_settings().sign_in_window_seconds
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def check(self, email: str, address: str | None) -> None:
        """Raise TooManySignIns while the account or the address is at its limit."""
        now = utcnow().timestamp()
        window = get_settings().sign_in_window_seconds
        waits = [
            failures[-limit] + window - now
            for key, limit in self._keys(email, address)
            if len(failures := self._recent(key, now)) >= limit
        ]
        if waits:
            raise TooManySignIns(retry_after=max(1, math.ceil(max(waits))))

    def failed(self, email: str, address: str | None) -> None:
        now = utcnow().timestamp()
        if len(self._failures) >= MAX_KEYS:
            self._forget(now)
        for key, _limit in self._keys(email, address):
            self._failures.setdefault(key, deque()).append(now)

    def _forget(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) >= MAX_KEYS:
            del self._failures[next(iter(self._failures))]

    def clear(self) -> None:
        self._failures.clear()


sign_in_throttle = SignInThrottle()
