"""The probe API: strict validation (422, nothing stored), who may queue and read probes,
results that never change, and operators' re-classification of a cause kept beside them."""

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Probe, ProbeCauseChange, ProbeResult
from bridge.service.probes import Cause, cause_for_status, request_probe
from bridgedesk.identity import Role
from bridgedesk.sip_uri import host_and_port, sip_uri_problem
from tests.bridge.probe_rows import finished_probe


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _probe_tables(db: AsyncSession) -> list[list[tuple[Any, ...]]]:
    db.expire_all()
    return [
        [tuple(r) for r in await db.execute(select(Probe.id, Probe.status).order_by(Probe.id))],
        [
            tuple(r)
            for r in await db.execute(
                select(ProbeResult.id, ProbeResult.cause, ProbeResult.final_status)
            )
        ],
        [tuple(r) for r in await db.execute(select(ProbeCauseChange.id))],
    ]


BAD_BODIES = [
    {"sip_uri": "http://room.example.com"},
    {"sip_uri": "sip:"},
    {"sip_uri": "sip:@"},
    {"sip_uri": "room@127.0.0.1"},
    {"sip_uri": "sip:room@127.0.0.1 "},
    {"sip_uri": "sip:room @127.0.0.1"},
    {"sip_uri": "sip:room@127.0.0.1\r\nVia: forged"},
    {"sip_uri": "sip:room@127.0.0.1\x00"},
    {"sip_uri": "sip:room@127.0.0.1:99999"},
    {"sip_uri": "sip:room@127.0.0.1:0"},
    {"sip_uri": "sip:room@-bad-.example"},
    {"sip_uri": "sip:" + "a" * 290 + "@example.com"},
    {"sip_uri": 5060},
    {},
    {"sip_uri": "sip:room@127.0.0.1", "method": "REGISTER"},
    {"sip_uri": "sip:room@127.0.0.1", "method": "invite"},
    {"sip_uri": "sip:room@127.0.0.1", "hold_seconds": -1},
    {"sip_uri": "sip:room@127.0.0.1", "hold_seconds": 61},
    {"sip_uri": "sip:room@127.0.0.1", "hold_seconds": "NaN"},
    {"sip_uri": "sip:room@127.0.0.1", "answer_timeout_seconds": 0},
    {"sip_uri": "sip:room@127.0.0.1", "answer_timeout_seconds": 301},
    {"sip_uri": "sip:room@127.0.0.1", "purpose": "certification"},
]


async def test_malformed_probe_requests_are_422_and_store_nothing(db, client_as):
    operator = await client_as(Role.OPERATOR)
    before = await _probe_tables(db)
    for body in BAD_BODIES:
        response = await operator.post("/api/v1/probes", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"], body
    assert await _probe_tables(db) == before


@pytest.mark.parametrize(
    "uri",
    [
        "sip:room@127.0.0.1",
        "sip:127.0.0.1:5070",
        "sips:boardroom@video.example.com:5061",
        "sip:room-7@[::1]:5060",
        "sip:alice;day=tuesday@example.com;transport=udp",
        "sip:+15551234567@gw.example.com;user=phone",
    ],
)
def test_valid_sip_uris_pass(uri):
    assert sip_uri_problem(uri) is None


def test_host_and_port_default_by_scheme():
    assert host_and_port("sip:room@10.0.0.1") == ("10.0.0.1", 5060)
    assert host_and_port("sips:room@example.com") == ("example.com", 5061)
    assert host_and_port("sip:[::1]:5070") == ("::1", 5070)


@pytest.mark.parametrize(
    "status, cause",
    [
        (None, Cause.NETWORK),
        (408, Cause.NETWORK),
        (200, Cause.OK),
        (404, Cause.CLIENT_NOT_SYNCHRONIZED),
        (480, Cause.CLIENT_NOT_SYNCHRONIZED),
        (486, Cause.CLIENT_NOT_SYNCHRONIZED),
        (603, Cause.CLIENT_NOT_SYNCHRONIZED),
        (403, Cause.CLIENT_NOT_SYNCHRONIZED),
        (488, Cause.CLIENT_NOT_SYNCHRONIZED),
        (500, Cause.CLIENT_HARDWARE),
        (503, Cause.CLIENT_HARDWARE),
    ],
)
def test_final_status_to_cause(status, cause):
    assert cause_for_status(status) is cause


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN])
async def test_staff_queue_a_probe_and_read_it_back(db, client_as, role):
    client = await client_as(role)
    response = await client.post(
        "/api/v1/probes",
        json={"sip_uri": "sip:room@127.0.0.1:5999", "method": "INVITE", "hold_seconds": 3},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["result"] is None
    assert (body["method"], body["hold_seconds"], body["purpose"]) == ("INVITE", 3.0, "api")
    read = await client.get(f"/api/v1/probes/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("sip:meta@169.254.169.254", "does not call"),
        ("sip:room@[fe80::1]:5060", "does not call"),
        ("sip:room@10.20.0.1", "own bridges"),
        ("tel:+15550100", "PSTN_GATEWAY"),
    ],
)
async def test_a_probe_to_a_target_the_provider_does_not_call_is_422(
    db, client_as, make_bridge, uri, reason
):
    await make_bridge(sip_uri="sip:bridge@10.20.0.1")
    operator = await client_as(Role.OPERATOR)
    before = await _probe_tables(db)
    response = await operator.post("/api/v1/probes", json={"sip_uri": uri})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    assert await _probe_tables(db) == before


async def test_monitoring_may_still_ping_a_registered_bridge(db, make_bridge):
    await make_bridge(sip_uri="sip:bridge@10.20.0.1")
    view = await request_probe(
        db, sip_uri="sip:bridge@10.20.0.1", method="OPTIONS", purpose="uptime",
        provider_bridge=True,
    )  # fmt: skip
    assert view.status == "queued"


@pytest.mark.parametrize("role", [Role.FINANCE, Role.SCHEDULER, Role.BILLING])
async def test_others_may_not_queue_probes(db, client_as, role):
    client = await client_as(role)
    before = await _probe_tables(db)
    response = await client.post("/api/v1/probes", json={"sip_uri": "sip:room@127.0.0.1"})
    assert response.status_code == 403, response.text
    assert await _probe_tables(db) == before


async def test_unknown_probe_is_404(db, client_as):
    operator = await client_as(Role.OPERATOR)
    assert (await operator.get("/api/v1/probes/987654")).status_code == 404
    assert (await operator.get("/api/v1/probes/0")).status_code == 422
    assert (await operator.get(f"/api/v1/probes/{2**40}")).status_code == 422


async def test_a_probe_result_row_cannot_be_changed(db):
    """The database itself refuses an UPDATE of a result (a trigger), whoever issues it."""
    probe_id = await finished_probe(db)
    with pytest.raises((IntegrityError, DBAPIError)):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE bridge_probe_results SET cause = 'ok' WHERE probe_id = :p"),
                {"p": probe_id},
            )
    row = (
        await db.execute(select(ProbeResult.cause).where(ProbeResult.probe_id == probe_id))
    ).scalar_one()
    assert row == "client_not_synchronized"


async def test_operators_reclassify_a_cause_and_the_result_stays(db, client_as):
    probe_id = await finished_probe(db)
    result_before = (
        await db.execute(select(ProbeResult.__table__).where(ProbeResult.probe_id == probe_id))
    ).one()
    operator = await client_as(Role.OPERATOR)
    response = await operator.post(
        f"/api/v1/probes/{probe_id}/cause",
        json={"cause": "client_hardware", "note": "codec powered off, told by phone"},
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["cause"] == "client_hardware"
    assert result["measured_cause"] == "client_not_synchronized"
    assert result["reclassification_note"] == "codec powered off, told by phone"
    assert result["reclassified_by"] == operator.user.id  # type: ignore[attr-defined]
    assert result["passed"] is False
    # A later judgement wins; the engine's row is exactly what it was.
    admin = await client_as(Role.ADMIN)
    again = await admin.post(f"/api/v1/probes/{probe_id}/cause", json={"cause": "ok"})
    assert again.status_code == 200
    read = (await operator.get(f"/api/v1/probes/{probe_id}")).json()["result"]
    assert (read["cause"], read["passed"], read["final_status"]) == ("ok", True, 486)
    db.expire_all()
    result_after = (
        await db.execute(select(ProbeResult.__table__).where(ProbeResult.probe_id == probe_id))
    ).one()
    assert result_after == result_before


async def test_reclassification_refusals_change_nothing(db, client_as):
    done = await finished_probe(db)
    operator = await client_as(Role.OPERATOR)
    queued = (await operator.post("/api/v1/probes", json={"sip_uri": "sip:room@127.0.0.1"})).json()[
        "id"
    ]
    technician = await client_as(Role.TECHNICIAN)
    before = await _probe_tables(db)
    cases = [
        (operator, queued, {"cause": "network"}, 409),
        (operator, done, {"cause": "reservations"}, 422),
        (operator, done, {"cause": "network", "note": "x" * 501}, 422),
        (operator, done, {"cause": "network", "extra": 1}, 422),
        (operator, 987654, {"cause": "network"}, 404),
        (technician, done, {"cause": "network"}, 403),
    ]
    for client, probe_id, body, status in cases:
        response = await client.post(f"/api/v1/probes/{probe_id}/cause", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["detail"]
    assert await _probe_tables(db) == before
