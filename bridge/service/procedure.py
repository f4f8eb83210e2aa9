"""The problem-call procedure (SPEC §6, seed 002): once a site is not back within the recovery
window, the desk works an ordered list of people to call and records every attempt and its
outcome; the contact-chain emails the bridge sends itself are recorded as attempts too.

It lives beside the incidents it follows (bridge), not in monitoring: the steps are built from
the bridge's own directory of sites and conferences, the automatic attempts are written by
drop recovery in the same unit of work as the email they record, and the checklist is shown
on the bridge's live page.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Incident, Leg, ProcedureAttempt, ProcedureStep
from bridge.service.bookings import ConferenceRef, Contact, SiteRef
from bridge.service.leg_states import VIDEO, LegState
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import InvalidInput, NotFound
from bridgedesk.identity import Actor


class IncidentNotFound(NotFound):
    message = "No such incident."


class ProcedureNotOpen(NotFound):
    message = "This incident has no problem-call procedure (the site came back in time)."


class StepNotFound(NotFound):
    message = "The procedure has no such step."


# What a person trying one step can come back with (SPEC §6 "Problem calls").
Outcome = Literal["reached", "voicemail_left", "receptionist_paged", "pager", "mobile", "no_answer"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
OUTCOME_LABELS: dict[str, str] = {
    "reached": "Reached",
    "voicemail_left": "Voicemail, message left",
    "receptionist_paged": "Receptionist asked to page",
    "pager": "Pager tried",
    "mobile": "Mobile tried",
    "no_answer": "No answer",
}
# What the bridge records when it works a step itself (the contact-chain email).
AUTOMATIC_OUTCOMES = ("emailed", "unreachable")
ATTEMPT_LABELS: dict[str, str] = {
    **OUTCOME_LABELS,
    "emailed": "Emailed",
    "unreachable": "No email address",
}
AUTOMATIC = "automatic"
# More steps than any conference has people to ask; bounds the position in a path.
MAX_STEPS = 1000

# The seed's order, with why each step is there. A site's technical contact is tried on
# every way of reaching them in turn: voicemail, receptionist, pager, mobile.
STEP_PURPOSES: dict[str, str] = {
    "site_contact": "Site technical contact: voicemail, then receptionist, then pager, then mobile",
    "scheduler": "The person who scheduled the conference",
    "troubled_room": "Call the troubled room itself",
    "connected_room": "Participants in a connected room: ask for another contact at the site",
    "other_site_contact": "Another site's contact: ask for another contact at the site",
    "primary_contact": "Last: the customer's primary contact",
}


@dataclass(frozen=True)
class PlannedStep:
    kind: str
    contact: Contact
    site_id: int | None
    # The step's place in drop recovery's contact chain (its automatic email), if any.
    chain_index: int | None = None


def plan_steps(
    site: SiteRef | None,
    conference: ConferenceRef | None,
    connected: Sequence[SiteRef],
    others: Sequence[SiteRef],
) -> list[PlannedStep]:
    """The procedure's steps in the seed's order; `connected` are the rooms still in the call,
    `others` every other site of the conference (their contacts are asked for another one).

    The chain indexes follow `escalation.contact_chain`: the site's contacts, the scheduler,
    the primary contact."""
    steps: list[PlannedStep] = []
    chain = 0
    for contact in site.contacts if site else ():
        steps.append(PlannedStep("site_contact", contact, site.id if site else None, chain))
        chain += 1
    if conference is not None and conference.scheduler is not None:
        steps.append(PlannedStep("scheduler", conference.scheduler, None, chain))
        chain += 1
    if site is not None:
        room = Contact(name=site.name, email=None, phone=site.sip_uri)
        steps.append(PlannedStep("troubled_room", room, site.id))
    for other in connected:
        room = Contact(name=other.name, email=None, phone=other.sip_uri)
        steps.append(PlannedStep("connected_room", room, other.id))
    for other in others:
        for contact in other.contacts:
            steps.append(PlannedStep("other_site_contact", contact, other.id))
    if conference is not None and conference.primary_contact is not None:
        steps.append(PlannedStep("primary_contact", conference.primary_contact, None, chain))
    return steps


async def open_procedure(
    session: AsyncSession,
    incident: Incident,
    *,
    site: SiteRef | None,
    conference: ConferenceRef | None,
    sites: Mapping[int, SiteRef],
    now: datetime,
) -> int:
    """Write the incident's steps once (the incident outlived its recovery window); returns how
    many steps it has. Running it again changes nothing."""
    existing = await session.scalar(
        select(ProcedureStep.id).where(ProcedureStep.incident_id == incident.id).limit(1)
    )
    if existing is not None:
        return 0
    connected_ids = list(
        await session.scalars(
            select(Leg.site_id)
            .where(
                Leg.conference_id == incident.conference_id,
                Leg.kind == VIDEO,
                Leg.state == LegState.CONNECTED,
                Leg.site_id != incident.site_id,
            )
            .order_by(Leg.id)
        )
    )
    connected = [sites[i] for i in dict.fromkeys(connected_ids) if i in sites]
    held = [h.site_id for h in conference.sites] if conference else []
    others = [sites[i] for i in held if i != incident.site_id and i in sites]
    planned = plan_steps(site, conference, connected, others)
    for position, step in enumerate(planned, start=1):
        session.add(
            ProcedureStep(
                incident_id=incident.id,
                position=position,
                kind=step.kind,
                purpose=STEP_PURPOSES[step.kind][:200],
                chain_index=step.chain_index,
                site_id=step.site_id,
                contact_name=step.contact.name[:200],
                email=step.contact.email,
                phone=step.contact.phone,
                pager=step.contact.pager,
                mobile=step.contact.mobile,
                opened_at=now,
            )
        )
    await session.flush()
    return len(planned)


async def record_automatic(
    session: AsyncSession,
    incident_id: int,
    chain_index: int,
    *,
    emailed: bool,
    at: datetime,
    recipient: str,
    outbox_message_id: int | None,
) -> None:
    """Drop recovery worked the chain's step itself: its email (or that it had no address)."""
    step = await session.scalar(
        select(ProcedureStep).where(
            ProcedureStep.incident_id == incident_id, ProcedureStep.chain_index == chain_index
        )
    )
    if step is None:
        return
    session.add(
        ProcedureAttempt(
            step_id=step.id,
            incident_id=incident_id,
            at=at,
            outcome="emailed" if emailed else "unreachable",
            note=f"email to {recipient}" if emailed else "no email address",
            made_by_id=None,
            made_by=AUTOMATIC,
            outbox_message_id=outbox_message_id,
        )
    )


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    outcome: str
    note: str
    made_by: str
    automatic: bool


@dataclass(frozen=True)
class StepView:
    position: int
    kind: str
    purpose: str
    contact_name: str
    email: str | None
    phone: str | None
    pager: str | None
    mobile: str | None
    site_id: int | None
    attempts: list[AttemptView] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return any(a.outcome == "reached" for a in self.attempts)

    @property
    def tried(self) -> bool:
        """A person worked this step (the automatic email alone does not count)."""
        return any(not a.automatic for a in self.attempts)


@dataclass(frozen=True)
class ProcedureView:
    incident_id: int
    conference_id: int
    site_id: int
    opened_at: datetime
    closed: bool
    steps: list[StepView]

    @property
    def reached(self) -> bool:
        return any(step.reached for step in self.steps)

    @property
    def current(self) -> int | None:
        """The first step nobody has worked yet: where the desk goes on."""
        if self.reached:
            return None
        return next((s.position for s in self.steps if not s.tried), None)


async def procedures_for(
    session: AsyncSession, incident_ids: Sequence[int]
) -> dict[int, ProcedureView]:
    """The procedures of these incidents (only those that have one), for the live page."""
    ids = [i for i in dict.fromkeys(incident_ids) if 1 <= i <= MAX_KEY]
    if not ids:
        return {}
    incidents = {
        i.id: i for i in await session.scalars(select(Incident).where(Incident.id.in_(ids)))
    }
    steps = (
        await session.scalars(
            select(ProcedureStep)
            .where(ProcedureStep.incident_id.in_(ids))
            .order_by(ProcedureStep.incident_id, ProcedureStep.position)
        )
    ).all()
    attempts: dict[int, list[AttemptView]] = {}
    for a in await session.scalars(
        select(ProcedureAttempt)
        .where(ProcedureAttempt.incident_id.in_(ids))
        .order_by(ProcedureAttempt.at, ProcedureAttempt.id)
    ):
        attempts.setdefault(a.step_id, []).append(
            AttemptView(a.at, a.outcome, a.note, a.made_by, a.made_by_id is None)
        )
    grouped: dict[int, list[StepView]] = {}
    opened: dict[int, datetime] = {}
    for s in steps:
        opened.setdefault(s.incident_id, s.opened_at)
        grouped.setdefault(s.incident_id, []).append(
            StepView(
                position=s.position,
                kind=s.kind,
                purpose=s.purpose,
                contact_name=s.contact_name,
                email=s.email,
                phone=s.phone,
                pager=s.pager,
                mobile=s.mobile,
                site_id=s.site_id,
                attempts=attempts.get(s.id, []),
            )
        )
    return {
        incident_id: ProcedureView(
            incident_id=incident_id,
            conference_id=incidents[incident_id].conference_id,
            site_id=incidents[incident_id].site_id,
            opened_at=opened[incident_id],
            closed=incidents[incident_id].closed_at is not None,
            steps=views,
        )
        for incident_id, views in grouped.items()
    }


async def get_procedure(session: AsyncSession, incident_id: int) -> ProcedureView:
    """The incident's procedure; provider staff only (the router's role check)."""
    if not 1 <= incident_id <= MAX_KEY or await session.get(Incident, incident_id) is None:
        raise IncidentNotFound()
    found = await procedures_for(session, [incident_id])
    if incident_id not in found:
        raise ProcedureNotOpen()
    return found[incident_id]


async def record_attempt(
    session: AsyncSession,
    incident_id: int,
    position: int,
    *,
    outcome: str,
    note: str = "",
    by: Actor,
) -> ProcedureView:
    """One call the desk made for one step and how it went; answers the whole procedure.
    `outcome` is checked here, one rule for the API and the live page's checklist."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"The outcome is one of: {', '.join(OUTCOMES)}.")
    if not 1 <= incident_id <= MAX_KEY:
        raise IncidentNotFound()
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound()
    step = (
        await session.scalar(
            select(ProcedureStep).where(
                ProcedureStep.incident_id == incident_id, ProcedureStep.position == position
            )
        )
        if 1 <= position <= MAX_STEPS
        else None
    )
    if step is None:
        opened = await session.scalar(
            select(ProcedureStep.id).where(ProcedureStep.incident_id == incident_id).limit(1)
        )
        raise StepNotFound() if opened is not None else ProcedureNotOpen()
    session.add(
        ProcedureAttempt(
            step_id=step.id,
            incident_id=incident_id,
            at=utcnow(),
            outcome=outcome,
            note=note[:500],
            made_by_id=by.user_id,
            made_by=by.name or by.email,
        )
    )
    await session.flush()
    return await get_procedure(session, incident_id)
