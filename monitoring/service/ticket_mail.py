"""The help desk's emails to customers about their tickets, each with the desk's numbers and
address (settings)."""

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import outbox
from monitoring.models import Ticket
from monitoring.service.contracts import BEST_EFFORT_TERMS


async def acknowledge(session: AsyncSession, ticket: Ticket, to: str) -> None:
    """Tell the customer's user who opened the ticket that it arrived, and when to expect an
    answer."""
    await outbox.enqueue_email(
        session,
        topic="ticket_received",
        to=[to],
        template="monitoring/email/ticket_received.txt",
        context={"ticket": ticket, "free_minutes": BEST_EFFORT_TERMS.free_minutes},
        dedupe_key=f"ticket-received-{ticket.id}",
    )
