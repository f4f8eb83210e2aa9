"""Escalation past a dropped site's recovery window (SPEC §5, §6): the site's audio link is
dialed, the desk's problem-call procedure opens, and the contact chain (the site's technical
contacts, then the conference's scheduler, then the customer's primary contact) is notified
one step every `contact_step`, each step an outbox email and an incident event. Called by
`recovery.py`'s supervision pass for each leg past its window."""

from datetime import timedelta

from bridge.models import Incident, Leg
from bridge.service import procedure
from bridge.service.bookings import ConferenceRef, Contact, SiteRef
from bridge.service.leg_states import AUDIO, AUDIO_SPEED_KBPS, LegState, dial_leg
from bridge.service.supervision import SupervisionPass, record_event, set_state
from bridgedesk import outbox


async def escalate(state: SupervisionPass, leg: Leg) -> None:
    """Past the window: the audio link, then the contact chain step by step."""
    incident = await state.session.get(Incident, leg.incident_id)
    if incident is None or incident.closed_at is not None:
        return
    if incident.audio_fallback_at is None:
        if state.now < incident.recovery_deadline:
            return
        incident.audio_fallback_at = state.now
        site = state.sites.get(leg.site_id)
        audio_uri = (site.audio_uri if site else None) or leg.audio_uri
        if audio_uri:
            await _dial_audio_link(state, leg, audio_uri)
            set_state(state, leg, LegState.AUDIO_FALLBACK)
            await record_event(
                state, incident.id, "audio_fallback_dialed", f"audio link {audio_uri}"
            )
        else:
            set_state(state, leg, LegState.FAILED)
            await record_event(
                state, incident.id, "no_fallback", "the site has no audio fallback URI"
            )
        # Past the window the desk's problem-call procedure opens (SPEC §6).
        await procedure.open_procedure(
            state.session,
            incident,
            site=state.sites.get(leg.site_id),
            conference=state.conferences.get(leg.conference_id),
            sites=state.sites,
            now=state.now,
        )
    await _notify_contacts(state, leg, incident)


async def _dial_audio_link(state: SupervisionPass, leg: Leg, audio_uri: str) -> None:
    audio = Leg(
        conference_id=leg.conference_id,
        site_id=leg.site_id,
        bridge_id=leg.bridge_id,
        kind=AUDIO,
        parent_leg_id=leg.id,
        origin="audio_fallback",
        sip_uri=audio_uri,
        audio_uri=None,
        speed_kbps=AUDIO_SPEED_KBPS,
        state=LegState.DIALING,
        redials=0,
        created_at=state.now,
        state_changed_at=state.now,
    )
    state.session.add(audio)
    await state.session.flush()
    await dial_leg(state.session, audio, "audio_fallback", now=state.now)
    state.changes += 1


def contact_chain(site: SiteRef | None, conference: ConferenceRef | None) -> list[Contact]:
    """SPEC §5: the site's technical contacts in order, then the conference's scheduler,
    then the customer's primary contact."""
    chain = list(site.contacts) if site else []
    if conference is not None:
        chain.extend(c for c in (conference.scheduler, conference.primary_contact) if c)
    return chain


async def _notify_contacts(state: SupervisionPass, leg: Leg, incident: Incident) -> None:
    assert incident.audio_fallback_at is not None
    site = state.sites.get(leg.site_id)
    conference = state.conferences.get(leg.conference_id)
    chain = contact_chain(site, conference)
    if state.policy.contact_step <= timedelta(0):
        due = len(chain)
    else:
        elapsed = state.now - incident.audio_fallback_at
        due = min(len(chain), 1 + int(elapsed / state.policy.contact_step))
    for step in range(incident.contacts_notified, due):
        contact = chain[step]
        role = _chain_role(step, site, conference)
        message = None
        if contact.email:
            message = await outbox.enqueue_email(
                state.session,
                topic="site_down",
                to=[contact.email],
                template="bridge/email/site_down.txt",
                context={
                    "contact": contact,
                    "role": role,
                    "step": step + 1,
                    "site_name": site.name if site else f"site {leg.site_id}",
                    "conference": conference,
                    "incident": incident,
                    "audio_link": leg.state == LegState.AUDIO_FALLBACK,
                },
                dedupe_key=f"bridge-incident-{incident.id}-contact-{step}",
            )
        reachable = contact.email or contact.phone or contact.mobile or contact.pager or "-"
        await record_event(
            state,
            incident.id,
            "contact_notified" if message else "contact_unreachable",
            f"step {step + 1}: {role} {contact.name}".strip(),
            recipient=contact.email or reachable,
            outbox_message_id=message.id if message else None,
        )
        await procedure.record_automatic(
            state.session,
            incident.id,
            step,
            emailed=message is not None,
            at=state.now,
            recipient=contact.email or reachable,
            outbox_message_id=message.id if message else None,
        )
        incident.contacts_notified = step + 1
        state.changes += 1


def _chain_role(step: int, site: SiteRef | None, conference: ConferenceRef | None) -> str:
    site_contacts = len(site.contacts) if site else 0
    if step < site_contacts:
        return "site technical contact"
    if conference is not None and conference.scheduler and step == site_contacts:
        return "scheduler"
    return "customer primary contact"
