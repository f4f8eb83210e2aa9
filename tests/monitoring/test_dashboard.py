"""/metrics (parsed by prometheus_client), the public status page and the staff dashboard,
whose charts are checked for the figures they carry."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from bridgedesk.identity import Role

NOW = datetime(2027, 6, 16, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


async def _world(client_as, make_customer):
    customer = await make_customer()
    operator = await client_as(Role.OPERATOR)
    # 6 hours down on the 2nd: June so far is 15.5 days = 22,320 minutes elapsed, but the
    # month counts whole: 43,200 minutes; (43,200 - 360) / 43,200 = 99.167 %.
    outage = await operator.post(
        "/api/v1/outages",
        json={
            "component": "bridge",
            "start": "2027-06-02T00:00:00Z",
            "end": "2027-06-02T06:00:00Z",
        },
    )
    assert outage.status_code == 201, outage.text
    window = await operator.post(
        "/api/v1/maintenance-windows",
        json={
            "component": "reservations",
            "start": "2027-06-20T01:00:00Z",
            "end": "2027-06-20T03:00:00Z",
            "reason": "Database upgrade",
        },
    )
    assert window.status_code == 201
    for severity in ("SL3", "SL3", "SL1"):
        made = await operator.post(
            "/api/v1/tickets",
            json={
                "customer_id": customer.id,
                "severity": severity,
                "summary": "s",
                "description": "d",
                "channel": "phone",
            },
        )
        assert made.status_code == 201
    return customer, operator


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_parse_and_carry_the_figures(db, client_as, make_customer, anonymous):
    await _world(client_as, make_customer)
    response = await anonymous.get("/metrics")  # the in-process client is on loopback
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("bridgedesk_availability_percent", (("component", "bridge"),))] == 99.167
    assert samples[("bridgedesk_downtime_minutes", (("component", "bridge"),))] == 360
    assert samples[("bridgedesk_downtime_budget_left_minutes", (("component", "bridge"),))] == 72
    assert samples[("bridgedesk_tickets_open", (("severity", "SL3"),))] == 2
    assert samples[("bridgedesk_tickets_open", (("severity", "SL1"),))] == 1
    assert samples[("bridgedesk_outbox_backlog", ())] >= 1  # the maintenance notices
    assert (
        "bridgedesk_ticket_breaches_total",
        (("kind", "response"), ("severity", "SL4")),
    ) in samples


async def test_metrics_off_loopback_need_a_staff_token(db, app, client_as):
    remote = httpx.ASGITransport(app=app, client=("203.0.113.7", 4444))
    async with httpx.AsyncClient(transport=remote, base_url="http://testserver") as client:
        assert (await client.get("/metrics")).status_code == 401
    operator = await client_as(Role.OPERATOR)
    scheduler = await client_as(Role.SCHEDULER)
    for who, status in ((operator, 200), (scheduler, 403)):
        token = who.headers["Authorization"]
        async with httpx.AsyncClient(
            transport=remote, base_url="http://testserver", headers={"Authorization": token}
        ) as client:
            assert (await client.get("/metrics")).status_code == status


async def test_the_status_page_needs_no_sign_in(db, client_as, make_customer, anonymous):
    await _world(client_as, make_customer)
    page = await anonymous.get("/status")
    assert page.status_code == 200
    assert 'data-component="bridge" data-state="unknown"' in page.text  # never probed
    assert "Database upgrade" in page.text and "2027-06-20 01:00 UTC" in page.text


def _bars(html: str, chart: str) -> dict[str, str]:
    svg = re.search(rf'<svg class="chart" data-chart="{chart}".*?</svg>', html, re.S)
    assert svg, chart
    return dict(re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', svg.group(0)))


async def test_the_dashboard_draws_the_figures_with_their_targets(db, client_as, make_customer):
    await _world(client_as, make_customer)
    scheduler = await client_as(Role.SCHEDULER)
    assert (await scheduler.get("/dashboard")).status_code == 403
    finance = await client_as(Role.FINANCE)
    page = await finance.get("/dashboard?months=3")
    assert page.status_code == 200, page.text
    assert _bars(page.text, "availability-bridge") == {
        "2027-04": "100",
        "2027-05": "100",
        "2027-06": "99.167",
    }
    assert _bars(page.text, "availability-reservations")["2027-06"] == "100"
    assert _bars(page.text, "tickets") == {"SL1": "1", "SL2": "0", "SL3": "2", "SL4": "0"}
    assert 'class="target" data-value="99"' in page.text
    assert 'class="target" data-value="3"' in page.text  # failed calls: below 3 %


async def test_bad_queries_are_4xx_not_500(db, client_as):
    operator = await client_as(Role.OPERATOR)
    for url in (
        "/api/v1/uptime?month=2027-13&component=bridge",
        "/api/v1/uptime?month=June&component=bridge",
        "/api/v1/uptime?month=2027-06&component=billing",
        "/api/v1/call-stats?month=2027-06",
        "/api/v1/tickets?status=lost",
        "/api/v1/tickets/99999999999",
    ):
        response = await operator.get(url)
        assert 400 <= response.status_code < 500, (url, response.text)
        assert response.json()["detail"]
    future = (NOW + timedelta(hours=1)).isoformat()
    response = await operator.post(
        "/api/v1/outages",
        json={"component": "bridge", "start": "2027-06-16T10:00:00Z", "end": future},
    )
    assert response.status_code == 422


async def test_the_status_page_follows_the_prober(db, anonymous, make_bridge):
    from monitoring.service.probing import probe_round
    from tests.monitoring.test_probing import ScriptedProbes

    await make_bridge(sip_uri="sip:bridge1@127.0.0.1")
    probes = ScriptedProbes()
    for minute in range(3):  # the health URL fails twice: the reservation site is down
        await probe_round(
            db,
            NOW - timedelta(minutes=3 - minute),
            client=probes,
            health=("http://127.0.0.1:8000/healthz", minute == 0, "HTTP 503"),
        )
    page = (await anonymous.get("/status")).text
    assert 'data-component="bridge" data-state="up"' in page
    assert 'data-component="reservations" data-state="down"' in page
    assert 'data-testid="open-outages"' in page


async def test_the_status_page_shows_maintenance_in_progress(db, client_as, anonymous):
    operator = await client_as(Role.OPERATOR)
    made = await operator.post(
        "/api/v1/maintenance-windows",
        json={
            "component": "bridge",
            "start": (NOW + timedelta(minutes=5)).isoformat(),
            "end": (NOW + timedelta(hours=1)).isoformat(),
            "reason": "Swap power supply",
        },
    )
    assert made.status_code == 201
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        page = (await anonymous.get("/status")).text
    assert 'data-component="bridge" data-state="maintenance"' in page
    assert "Swap power supply" in page


async def test_the_reporting_zone_comes_from_the_settings(db, client_as, monkeypatch):
    from bridgedesk.settings import get_settings

    monkeypatch.setenv("BRIDGEDESK_REPORTING_TIMEZONE", "Europe/Berlin")
    get_settings.cache_clear()
    try:
        operator = await client_as(Role.OPERATOR)
        # April begins in Berlin at 22:00 UTC on 31 March (midnight CEST): half in each month.
        made = await operator.post(
            "/api/v1/outages",
            json={
                "component": "bridge",
                "start": "2027-03-31T21:30:00Z",
                "end": "2027-03-31T22:30:00Z",
            },
        )
        assert made.status_code == 201
        march = (await operator.get("/api/v1/uptime?month=2027-03&component=bridge")).json()
        april = (await operator.get("/api/v1/uptime?month=2027-04&component=bridge")).json()
    finally:
        get_settings.cache_clear()
    assert march["timezone"] == "Europe/Berlin"
    assert march["minutes_in_month"] == 743 * 60
    assert (march["downtime_minutes"], april["downtime_minutes"]) == (30, 30)


async def test_certification_figures_come_from_the_apps_provider(db, client_as, monkeypatch):
    """Monitoring may not import certification: the app registers a provider (here the
    test plays the app) and the chart draws what it gives."""
    from monitoring.service import dashboard

    asked: list[list[str]] = []

    async def provider(session, months):
        asked.append(list(months))
        return [None, 87.5, 100.0]

    monkeypatch.setattr(dashboard, "_certification_figures", [])
    dashboard.register_certification_figures(provider)
    operator = await client_as(Role.OPERATOR)
    page = (await operator.get("/dashboard?months=3")).text
    assert asked == [["2027-04", "2027-05", "2027-06"]]
    assert _bars(page, "certification") == {"2027-04": "", "2027-05": "87.5", "2027-06": "100"}
    assert "not reported to this dashboard" not in page


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("GET", "/api/v1/uptime?month=9999-12&component=bridge", None),
        ("GET", "/api/v1/uptime?month=1969-12&component=bridge", None),
        ("GET", "/api/v1/call-stats?month=9999-12&customer_id=1", None),
        (
            "POST",
            "/api/v1/outages",
            {
                "component": "bridge",
                "start": "2027-06-01T00:00:00Z",
                "end": "2027-06-01T01:00:00Z",
                "note": "a\x00b",
            },
        ),
        (
            "POST",
            "/api/v1/outages",
            {
                "component": "bridge",
                "start": "9999-12-31T23:00:00-05:00",
                "end": "2027-06-01T01:00:00Z",
            },
        ),
        (
            "POST",
            "/api/v1/maintenance-windows",
            {
                "component": "bridge",
                "start": "2027-07-01T00:00:00Z",
                "end": "2027-07-09T00:00:00Z",
                "reason": "too long",
            },
        ),
        ("PATCH", "/api/v1/outages/2147483648", {"force_majeure": True}),
        ("PUT", "/api/v1/customers/1/sla-policy", {"policy_id": 2147483647}),
        (
            "POST",
            "/api/v1/tickets",
            {
                "customer_id": 1,
                "severity": "SL5",
                "summary": "s",
                "description": "d",
                "channel": "web",
            },
        ),
        ("POST", "/api/v1/tickets/1/escalate", {"tier": "4"}),
    ],
)
async def test_hostile_input_is_a_clean_4xx(db, client_as, make_customer, method, url, body):
    await make_customer()
    admin = await client_as(Role.ADMIN)
    response = await admin.request(method, url, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


async def test_customers_read_the_months_intervals_on_the_availability_page(
    db, client_as, make_customer, make_user
):
    await _world(client_as, make_customer)
    late = await (await client_as(Role.OPERATOR)).post(
        "/api/v1/maintenance-windows",
        json={
            "component": "bridge",
            "start": "2027-06-17T01:00:00Z",
            "end": "2027-06-17T02:00:00Z",
            "reason": "Urgent patch",
        },
    )
    assert late.status_code == 201
    with time_machine.travel(NOW + timedelta(days=2), tick=False):  # after the window
        scheduler = await client_as(Role.SCHEDULER)
        page = await scheduler.get("/uptime?month=2027-06")
    assert page.status_code == 200
    # The manual outage (360) and the window told 13 h ahead (60) are downtime.
    assert '<td data-testid="downtime">420.00</td>' in page.text
    assert 'data-kind="maintenance" data-counted-as="downtime"' in page.text
    assert "too late" in page.text and "Urgent patch" in page.text
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        assert (await scheduler.get("/uptime?month=June")).status_code == 422
