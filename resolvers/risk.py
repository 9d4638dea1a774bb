"""A customer's risk, derived live from three systems.

Points, summed: credit rating (A and better 0, BBB/BB 1, B 2, CCC and worse 3,
unknown 1); overdue receivables (any 1, more than 90 days or more than half the
credit limit 2); open complaints at the desk (one 1, three or more 2).
0-1 is LOW, 2-3 MEDIUM, 4 and more HIGH.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from enum import Enum

from resolvers.batches import only
from resolvers.context import Context
from resolvers.receivables import Receivables, receivables_of_customers
from resolvers.relations import tickets_of_customers
from sources.records import Customer, Ticket, TicketKind, TicketStatus

OPEN_TICKET_STATUSES = frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS})


class RiskLevel(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


def rating_points(rating: str | None) -> int:
    if not rating:
        return 1
    if rating in {"AAA", "AA", "A"}:
        return 0
    if rating in {"BBB", "BB"}:
        return 1
    if rating == "B":
        return 2
    return 3


async def risk_of_customers(ctx: Context, customers: Sequence[Customer]) -> list[RiskLevel | Exception]:
    """Per customer its risk, or the exception that cost it: receivables and tickets of all at once."""
    receivables, tickets = await asyncio.gather(
        receivables_of_customers(ctx, customers), tickets_of_customers(ctx, customers)
    )
    risks: list[RiskLevel | Exception] = []
    for customer, owed, raised in zip(customers, receivables, tickets, strict=True):
        if isinstance(owed, Exception):
            risks.append(owed)
        elif isinstance(raised, Exception):
            risks.append(raised)
        else:
            risks.append(risk_from(customer, owed, raised))
    return risks


def risk_from(customer: Customer, receivables: Receivables | None, tickets: list[Ticket]) -> RiskLevel:
    points = rating_points(customer.credit_rating)
    if receivables is not None and receivables.overdue_balance > 0:
        oldest = receivables.oldest_overdue_days
        half_limit = (receivables.credit_limit or 0) / 2
        points += 2 if oldest > 90 or (half_limit and receivables.overdue_balance > half_limit) else 1
    complaints = sum(1 for t in tickets if t.kind is TicketKind.COMPLAINT and t.status in OPEN_TICKET_STATUSES)
    points += 2 if complaints >= 3 else 1 if complaints else 0
    return RiskLevel.HIGH if points >= 4 else RiskLevel.MEDIUM if points >= 2 else RiskLevel.LOW


async def risk_of_customer(ctx: Context, customer: Customer) -> RiskLevel:
    return only(await risk_of_customers(ctx, [customer]))
