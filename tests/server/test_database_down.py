"""The real server started while its PostgreSQL database is unreachable: it answers 503 JSON
with Retry-After everywhere, then migrates and serves once the database answers, without a
restart; a database lost later is a 503 again, not a 500."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import create_pg_database, drop_pg_database
from tests.server_process import free_port, run_cli, running_server
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.server]

PASSWORD = "database-down-password"
BACK_WITHIN_SECONDS = 30


@pytest.fixture
def database_url() -> Iterator[str]:
    """A throwaway database, not migrated: the server must migrate it itself."""
    url = create_pg_database("bridgedesk_down", migrate=False)
    yield url
    drop_pg_database(url)


def assert_unavailable_json(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)
    assert int(response.headers["Retry-After"]) >= 1


def migrated_revision(url: str) -> str | None:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        exists = connection.execute("SELECT to_regclass('alembic_version')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def test_server_waits_for_its_database_then_migrates_and_serves(
    database_url: str, tmp_path: Path
) -> None:
    real = make_url(database_url)
    proxy_port = free_port()  # nothing listens here until the proxy starts
    proxied_url = real.set(port=proxy_port).render_as_string(hide_password=False)
    env = {"BRIDGEDESK_DATABASE_RETRY_SECONDS": "1"}

    with (
        TcpProxy(proxy_port, (real.host or "127.0.0.1", real.port or 5432)) as proxy,
        running_server(proxied_url, tmp_path, extra_env=env, healthy=False) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        # Down: every kind of route is a 503 with Retry-After, never a 500 or a dropped socket.
        assert_unavailable_json(client.get("/healthz"))
        assert_unavailable_json(client.get("/api/v1/users/me"))
        assert_unavailable_json(
            client.post("/api/v1/auth/token", json={"email": "a@b.example", "password": "x"})
        )
        page = client.get("/login")
        assert page.status_code == 503
        assert int(page.headers["Retry-After"]) >= 1
        assert migrated_revision(database_url) is None

        # Back: the same process migrates the database and serves.
        proxy.start()
        came_back = time.monotonic()
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() - came_back < BACK_WITHIN_SECONDS, server.log.read_text()
            time.sleep(0.2)
        print(f"back and migrated {time.monotonic() - came_back:.1f} s after the proxy started")
        assert migrated_revision(database_url) is not None

        run_cli(database_url, "user", "add", "admin@down.example", "--role", "admin",
                "--password", PASSWORD)  # fmt: skip
        token = client.post(
            "/api/v1/auth/token", json={"email": "admin@down.example", "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        me = client.get("/api/v1/users/me", headers=bearer)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "admin@down.example"

        # Lost again after start: the pooled connections break, and the answer is still a 503.
        proxy.stop()
        assert_unavailable_json(client.get("/api/v1/users/me", headers=bearer))
        assert client.get("/healthz").status_code == 503
        assert "Traceback" not in server.log.read_text()
