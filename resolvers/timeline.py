"""A customer's timeline: events from every system, newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from resolvers.alerts import SourceName
from resolvers.context import Context
from resolvers.partial import gather_parts
from resolvers.relations import contracts_of_customer, invoices_of_customer, orders_of_customer, tickets_of_customer
from sources import SourceError
from sources.records import Customer


@dataclass(frozen=True)
class TimelineEvent:
    at: dt.datetime
    source: SourceName
    kind: str
    summary: str
    ref_id: str | None = None


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def crm_events(ctx: Context, customer: Customer) -> list[TimelineEvent]:
    activities = await ctx.loaders.activities_by_customer.load(customer.id)
    return [TimelineEvent(a.at, SourceName.CRM, f"ACTIVITY_{a.kind}", a.subject, a.id) for a in activities]


async def erp_events(ctx: Context, customer: Customer) -> list[TimelineEvent]:
    events = [
        TimelineEvent(
            o.ordered_at, SourceName.ERP, "ORDER_PLACED", f"Order {o.number} placed, {o.total} {o.currency}", o.id
        )
        for o in await orders_of_customer(ctx, customer)
        if o.ordered_at
    ]
    if not ctx.can_read("Customer.receivables"):
        return events  # invoice events quote amounts the caller may not read
    events += [
        TimelineEvent(
            _start_of(i.issued_at),
            SourceName.ERP,
            "INVOICE_ISSUED",
            f"Invoice {i.number} issued, {i.amount} {i.currency}, due {i.due_date}",
            i.id,
        )
        for i in await invoices_of_customer(ctx, customer)
        if i.issued_at
    ]
    return events


async def clm_events(ctx: Context, customer: Customer) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            _start_of(c.signed_at), SourceName.CLM, "CONTRACT_SIGNED", f"Contract {c.number} signed: {c.title}", c.id
        )
        for c in await contracts_of_customer(ctx, customer)
        if c.signed_at
    ]


async def desk_events(ctx: Context, customer: Customer) -> list[TimelineEvent]:
    events = []
    for t in await tickets_of_customer(ctx, customer):
        if t.opened_at:
            events.append(
                TimelineEvent(
                    t.opened_at,
                    SourceName.DESK,
                    "TICKET_OPENED",
                    f"{t.kind.value.title()} ticket opened: {t.subject}",
                    t.id,
                )
            )
        if t.resolved_at:
            events.append(
                TimelineEvent(t.resolved_at, SourceName.DESK, "TICKET_RESOLVED", f"Ticket resolved: {t.subject}", t.id)
            )
    return events


async def timeline_of_customer(
    ctx: Context, customer: Customer, first: int
) -> tuple[list[TimelineEvent], list[SourceError]]:
    events, failures = await gather_parts(
        crm_events(ctx, customer), erp_events(ctx, customer), clm_events(ctx, customer), desk_events(ctx, customer)
    )
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:first], failures
