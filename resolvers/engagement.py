"""Talking to customers: logging an activity (CRM), opening a ticket and moving it along (DESK).

Each is one step, written to the system that owns the record under a key derived from
the caller's (resolvers/writes.py). The records the input names are looked up with the
row-level rules first: a customer, order, contract or ticket the caller may not see is
refused exactly as an unknown one, and nothing is written.
"""

from __future__ import annotations

import msgspec

from resolvers import customers, lookups
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.writes import once, rejected_input, step_key
from sources.errors import SourceRejected
from sources.idempotency import Progress
from sources.records import Activity, ActivityDraft, Ticket, TicketChange, TicketDraft

ACTIVITY_KINDS = ("CALL", "EMAIL", "MEETING", "VISIT", "NOTE")
MAX_SUBJECT = 200
MAX_NOTE = 2000


def _text(value: str, name: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit or not text.isprintable():
        raise BadUserInput(f"`{name}` must be 1 to {limit} printable characters, got {len(text)}.")
    return text


class Logged(msgspec.Struct, kw_only=True):
    activity: Activity


class Ticketed(msgspec.Struct, kw_only=True):
    ticket: Ticket


async def log_activity(ctx: Context, *, key: str, customer_id: str, kind: str, subject: str) -> Logged:
    arguments = {"customerId": customer_id, "kind": kind, "subject": subject}

    async def work(progress: Progress) -> tuple[Logged, bool]:
        text = _text(subject, "input.subject", MAX_SUBJECT)
        customer = await customers.customer_by_id(ctx, customer_id)
        by = ctx.principal.id if await ctx.loaders.sales_rep_by_id.load(ctx.principal.id) is not None else None
        draft = ActivityDraft(customer_id=customer.id, kind=kind, subject=text, by_rep_id=by)
        try:
            activity = await ctx.loaders.backends.crm.log_activity(step_key(ctx, key, "activity"), draft)
        except SourceRejected as exc:
            raise rejected_input(exc, {"customer_id": "input.customerId", "subject": "input.subject"}) from None
        return Logged(activity=activity), True

    return await once(ctx, "logActivity", key, arguments, Logged, work)


async def open_ticket(
    ctx: Context,
    *,
    key: str,
    customer_id: str,
    subject: str,
    kind: str,
    priority: str,
    order_id: str | None,
    contract_id: str | None,
) -> Ticketed:
    arguments = {
        "customerId": customer_id,
        "subject": subject,
        "kind": kind,
        "priority": priority,
        "orderId": order_id,
        "contractId": contract_id,
    }

    async def work(progress: Progress) -> tuple[Ticketed, bool]:
        text = _text(subject, "input.subject", MAX_SUBJECT)
        customer = await customers.customer_by_id(ctx, customer_id)
        if not customer.refs.desk:
            raise BadUserInput(f"`input.customerId`: customer {customer.id!r} has no account in the service desk.")
        order_ref = contract_number = None
        if order_id is not None:
            order = await lookups.order_by_id(ctx, order_id)
            if order.party_code != customer.refs.erp:
                raise BadUserInput(f"`input.orderId`: order {order_id!r} is not an order of this customer.")
            order_ref = order.id
        if contract_id is not None:
            contract = await lookups.contract_by_id(ctx, contract_id)
            if contract.counterparty_id != customer.refs.clm:
                raise BadUserInput(f"`input.contractId`: contract {contract_id!r} is not a contract of this customer.")
            contract_number = contract.number
        draft = TicketDraft(
            org_id=customer.refs.desk,
            subject=text,
            kind=kind,
            priority=priority,
            order_id=order_ref,
            contract_number=contract_number,
        )
        try:
            ticket = await ctx.loaders.backends.desk.open_ticket(step_key(ctx, key, "ticket"), draft)
        except SourceRejected as exc:
            raise rejected_input(exc, {"org_id": "input.customerId", "subject": "input.subject"}) from None
        return Ticketed(ticket=ticket), True

    return await once(ctx, "openTicket", key, arguments, Ticketed, work)


async def update_ticket_status(ctx: Context, *, key: str, ticket_id: str, status: str, note: str) -> Ticketed:
    arguments = {"ticketId": ticket_id, "status": status, "note": note}

    async def work(progress: Progress) -> tuple[Ticketed, bool]:
        text = _text(note, "input.note", MAX_NOTE)
        ticket = await lookups.ticket_by_id(ctx, ticket_id)
        change = TicketChange(status=status, note=text, by=ctx.principal.id)
        try:
            updated = await ctx.loaders.backends.desk.update_ticket(step_key(ctx, key, "status"), ticket.id, change)
        except SourceRejected as exc:
            if exc.status == 409:
                raise BadUserInput(f"`input.status`: {exc.detail}. Nothing was written.") from None
            raise rejected_input(exc, {"status": "input.status", "note": "input.note"}) from None
        return Ticketed(ticket=updated), True

    return await once(ctx, "updateTicketStatus", key, arguments, Ticketed, work)
