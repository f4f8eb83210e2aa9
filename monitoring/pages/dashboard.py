"""The monitoring package's server-rendered pages: the staff dashboard, the public status
page, /metrics, and the help desk's pages (pages/tickets.py). Thin handlers over its service.

/metrics is open to scrapers on the loopback interface (where Prometheus or its agent runs
beside the service) and to provider staff with a bearer token from anywhere else; the
figures it shows (ticket counts, availability) are not for the open internet.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from bridgedesk.auth import CurrentActor, current_actor
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import Forbidden, NotAuthenticated
from bridgedesk.identity import Actor
from bridgedesk.web import render
from monitoring.models import COMPONENTS
from monitoring.pages import tickets as ticket_pages
from monitoring.pages.charts import Bar, bar_chart
from monitoring.service import dashboard, metrics, service_report, uptime
from monitoring.service.callstats import FAILED_CALLS_TARGET_PCT, ON_TIME_TARGET_PCT
from monitoring.service.desk_figures import PHONE_TARGET_SHARE

router = APIRouter(include_in_schema=False)
router.include_router(ticket_pages.router)

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _staff(actor: Actor) -> Actor:
    if not actor.is_provider:
        raise Forbidden("The dashboard is for provider staff.")
    return actor


def charts_for(figures: dashboard.Dashboard) -> dict[str, Markup]:
    months = figures.months
    charts: dict[str, Markup] = {}
    for component, reports in figures.availability.items():
        values = [float(r.availability_pct) for r in reports]
        charts[f"availability-{component}"] = bar_chart(
            f"availability-{component}",
            f"Availability of {component} per month (%)",
            [Bar(m, v, component) for m, v in zip(months, values, strict=True)],
            unit=" %",
            target=float(uptime.UPTIME_TARGET_PCT),
            y_min=min([98.0, *values]),
            y_max=100.0,
        )
    charts["failures"] = bar_chart(
        "failures",
        "Failed calls this month by cause (% of calls)",
        [
            Bar(
                c.label,
                float(c.share_of_calls_pct) if c.share_of_calls_pct is not None else None,
                "provider" if c.provider_side else "customer",
            )
            for c in figures.failures
        ],
        unit=" %",
        target=float(FAILED_CALLS_TARGET_PCT),
        target_label="ceiling",
        higher_is_better=False,
    )
    charts["desk-phone"] = bar_chart(
        "desk-phone",
        "Help-desk calls answered within 60 s per month (%)",
        [
            Bar(d.month, None if d.phone_share is None else float(d.phone_share) * 100)
            for d in figures.desk
        ],
        unit=" %",
        target=float(PHONE_TARGET_SHARE) * 100,
        y_max=100.0,
    )
    charts["on-time"] = bar_chart(
        "on-time",
        "Launches on time per month (%)",
        [Bar(m, v) for m, v in zip(months, figures.on_time, strict=True)],
        unit=" %",
        target=float(ON_TIME_TARGET_PCT),
        y_max=100.0,
    )
    charts["confirmations"] = bar_chart(
        "confirmations",
        "Bookings confirmed by their deadline per month (%)",
        [Bar(m, v) for m, v in zip(months, figures.confirmations, strict=True)],
        unit=" %",
        target=float(dashboard.CONFIRMATION_TARGET_PCT),
        y_max=100.0,
    )
    certification = figures.certification or [None] * len(months)
    charts["certification"] = bar_chart(
        "certification",
        "Certification deadlines met per month (%)",
        [Bar(m, v) for m, v in zip(months, certification, strict=True)],
        unit=" %",
        target=float(dashboard.CERTIFICATION_TARGET_PCT),
        y_max=100.0,
    )
    charts["tickets"] = bar_chart(
        "tickets",
        "Open help-desk tickets by severity",
        [Bar(s, float(c["open"]), "open") for s, c in figures.tickets_by_severity.items()],
    )
    charts["breaches"] = bar_chart(
        "breaches",
        "Missed help-desk clocks by kind (target: none)",
        [Bar(kind, float(n)) for kind, n in figures.breaches.items()],
        target=0.0,
        target_label="target",
        higher_is_better=False,
    )
    return charts


@router.get("/dashboard")
async def dashboard_page(
    request: Request,
    db: Db,
    actor: CurrentActor,
    months: Annotated[int, Query(ge=1, le=24)] = 6,
) -> Response:
    _staff(actor)
    figures = await dashboard.build(db, by=actor, months=months)
    return render(
        request,
        "monitoring/dashboard.html",
        {"figures": figures, "charts": charts_for(figures)},
        actor=actor,
    )


@router.get("/uptime")
async def uptime_page(
    request: Request,
    db: Db,
    actor: CurrentActor,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    """The month's report for every signed-in user: the figures and every interval behind
    them, with each window's notice time, so that a customer can recompute them."""
    chosen = month or dashboard.last_months(utcnow(), 1)[0][0]
    reports = [await uptime.monthly_report(db, c, chosen) for c in COMPONENTS]
    year, number = uptime.parse_month(chosen)
    previous = f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"
    following = f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"
    return render(
        request,
        "monitoring/uptime.html",
        {"reports": reports, "month": chosen, "previous": previous, "following": following},
        actor=actor,
    )


@router.get("/status")
async def status_page(request: Request, db: Db) -> Response:
    """Public: no sign-in. Current state per component and upcoming maintenance."""
    return render(
        request,
        "monitoring/status.html",
        {
            "states": await dashboard.component_states(db),
            "outages": await uptime.open_outages(db),
            "windows": await dashboard.upcoming_maintenance(db),
        },
    )


@router.get("/metrics")
async def metrics_page(request: Request, db: Db) -> Response:
    host = request.client.host if request.client else ""
    if host not in LOOPBACK:
        # Plain answers for scrapers, not the sign-in redirect pages get.
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            return Response(
                "Scrapers off the loopback interface need a bearer token.\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
                media_type="text/plain",
            )
        try:
            _staff(await current_actor(request, db))
        except (NotAuthenticated, Forbidden) as error:
            return Response(
                error.detail + "\n", status_code=error.status_code, media_type="text/plain"
            )
    return Response(await metrics.exposition(db), media_type=PROMETHEUS_TEXT)


@router.get("/customers/{customer_id:int}/service-report")
async def service_report_page(
    request: Request,
    customer_id: int,
    db: Db,
    actor: CurrentActor,
    month: Annotated[str, Query(max_length=7)] = "",
) -> Response:
    """A customer's month of commitments, for its own users and for staff; last month unless
    another is chosen."""
    if not month:
        local = utcnow()
        year, number = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        month = f"{year:04d}-{number:02d}"
    report = await service_report.build(db, customer_id, month, by=actor)
    year, number = uptime.parse_month(report.month)
    previous = f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"
    following = f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"
    context = {"report": report, "previous": previous, "following": following}
    return render(request, "monitoring/service_report_page.html", context, actor=actor)
