"""The command line's manners: `user add` asks for the password (twice, without echo) or reads
it from stdin, `invoices run` refuses a month that is not over, `serve --help` explains every
option, and `probe` reports while it waits."""

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, pool, select

from billing.service.periods import month_is_over
from bridge.engine.command import WaitProgress
from bridgedesk.app.cli import PasswordRefused, build_parser, read_password
from bridgedesk.db import sync_url
from bridgedesk.models import User
from tests.server_process import BIN


def _cli(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "bridgedesk"), *args],
        env={**os.environ, "BRIDGEDESK_DATABASE_URL": url},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _password_hash(url: str, email: str) -> str:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return str(connection.scalar(select(User.password_hash).where(User.email == email)))
    finally:
        engine.dispose()


def _args(*argv: str) -> object:
    return build_parser().parse_args(["user", "add", "who@example.com", "--role", "admin", *argv])


def test_user_add_asks_for_the_password_twice_when_none_is_given() -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed-password-1"

    assert read_password(_args(), prompt=prompt) == "typed-password-1"  # type: ignore[arg-type]
    assert asked == ["Password: ", "Password (again): "]


def test_user_add_refuses_two_different_passwords_and_a_short_one() -> None:
    answers = iter(["typed-password-1", "typed-password-2"])
    with pytest.raises(PasswordRefused, match="differ"):
        read_password(_args(), prompt=lambda _: next(answers))  # type: ignore[arg-type]
    with pytest.raises(PasswordRefused, match="at least 8"):
        read_password(_args(), prompt=lambda _: "short")  # type: ignore[arg-type]


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridgedesk.db'}"
    done = _cli(url, "user", "add", "ops@example.com", "--role", "operator", "--password-stdin",
                stdin="from-stdin-pass\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PasswordHasher().verify(_password_hash(url, "ops@example.com"), "from-stdin-pass")
    # Without a terminal and without a password, nothing is created and the reason is given.
    refused = _cli(url, "user", "add", "x@example.com", "--role", "operator", "--password-stdin",
                   stdin="")  # fmt: skip
    assert refused.returncode == 1
    assert "at least 8" in refused.stderr


def test_month_is_over_only_once_it_ended_everywhere() -> None:
    # November ends at 12:00 UTC on 1 December in UTC-12, the last zone to see it end.
    assert not month_is_over("2026-11", datetime(2026, 12, 1, 11, 59, tzinfo=UTC))
    assert month_is_over("2026-11", datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert not month_is_over("2027-01", datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


def test_invoices_run_refuses_the_current_month_unless_forced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridgedesk.db'}"
    current = datetime.now(UTC).strftime("%Y-%m")
    refused = _cli(url, "invoices", "run", "--month", current)
    assert refused.returncode == 1
    assert "not over" in refused.stderr and "--force" in refused.stderr
    forced = _cli(url, "invoices", "run", "--month", current, "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"{current}: 0 draft invoice(s)" in forced.stdout


def test_serve_help_describes_every_option() -> None:
    done = subprocess.run(
        [str(BIN / "bridgedesk"), "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for option, words in {
        "--host": "address to listen on",
        "--port": "TCP port",
        "--workers": "web server processes",
        "--log-level": "log level",
        "--no-access-log": "one line per request",
    }.items():
        assert option in done.stdout and words in done.stdout, option


def test_probe_progress_says_something_every_second_of_the_wait() -> None:
    progress = WaitProgress(30)
    lines = [progress.line(tenth / 10, "running") for tenth in range(0, 35)]
    printed = [line for line in lines if line is not None]
    assert printed == [
        "  waiting    1 s (answer timeout 30 s, running)",
        "  waiting    2 s (answer timeout 30 s, running)",
        "  waiting    3 s (answer timeout 30 s, running)",
    ]
