"""The customer list's `risk` filter: a figure no backend holds, evaluated without reading a table.

Risk is derived in the gateway from the CRM's rating, the ERP's overdue receivables and the
desk's open complaints (`resolvers.risk`), so no system can filter by it. The CRM pages the
candidates instead, in the list's order from its cursor, with every other filter and the
caller's row-level scope pushed down (`RISK_BATCH` at a time); the risk of each candidate page
is computed in one batch per system (ERP parties, invoices, orders, open items; desk
tickets), and the matching customers are kept until the page holds `first` and one more
(which says `hasNextPage`). At most `MAX_RISK_CANDIDATES` candidates are checked for a page:
past them with the page still short, the list is BAD_USER_INPUT naming `risk`, asking to
narrow it; with the page full but unscanned candidates left, `hasNextPage` is true (the next
page may then be empty).

An exact `totalCount` (or a `summary`) needs the risk of every candidate: it is computed only
when selected, by the same scan from the first candidate, and only for a list of at most
`MAX_RISK_CANDIDATES` candidates (BAD_USER_INPUT naming `risk` past them, after the one CRM
call that counts them). A page scan after it re-reads the CRM's pages but no risk: the
request's loaders and derived receivables hold them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from resolvers import access
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.keysets import Order
from resolvers.risk import RiskLevel, risk_of_customers
from sources.lists import Bucket, ListQuery, Summary
from sources.records import Customer

RISK_BATCH = 200  # candidates per CRM page, and per batch of risk calls
MAX_RISK_CANDIDATES = 2000  # candidates checked for one page, or counted for a totalCount

Keyset = tuple[str | int | float, str]
NARROW = "Narrow the list (`tiers`, `region`, `industry`, `team`, `ownerId`, `search`)."


@dataclass(frozen=True)
class RiskPage:
    rows: list[tuple[Customer, Keyset]]
    more: bool
    total: int | None  # None: not asked for
    summary: Summary | None


def check_levels(ctx: Context, risk: Sequence[str] | None) -> frozenset[str] | None:
    """The asked risk levels (None: no filter); filtering by risk reveals it, so it needs Customer.risk."""
    if risk is None:
        return None
    if not ctx.can_read("Customer.risk"):
        raise access.Forbidden("Not authorised to filter by `risk`: it reveals Customer.risk.")
    return frozenset(RiskLevel(level).value for level in risk)


async def risk_page(
    ctx: Context,
    filters: tuple[tuple[str, str], ...],
    order: Order,
    after: Keyset | None,
    levels: frozenset[str],
    *,
    first: int,
    count: bool,
) -> RiskPage:
    """The page of customers after `after` whose risk is one of `levels`; with `count`, their exact number
    and summary too."""
    total, summary = None, None
    if count:
        every, _ = await _scan(ctx, filters, order, None, levels, wanted=None)
        total, summary = len(every), _summary_of([customer for customer, _ in every])
        if after is None:
            return RiskPage(every[:first], len(every) > first, total, summary)
    rows, more = await _scan(ctx, filters, order, after, levels, wanted=first)
    return RiskPage(rows, more, total, summary)


async def _scan(
    ctx: Context,
    filters: tuple[tuple[str, str], ...],
    order: Order,
    after: Keyset | None,
    levels: frozenset[str],
    *,
    wanted: int | None,
) -> tuple[list[tuple[Customer, Keyset]], bool]:
    """The matching candidates after `after` in order, and whether more follow: `wanted` and one more
    (None: every candidate, at most MAX_RISK_CANDIDATES of them)."""
    crm = ctx.loaders.backends.crm
    rows: list[tuple[Customer, Keyset]] = []
    checked = 0
    while True:
        if checked >= MAX_RISK_CANDIDATES:
            if wanted is not None and len(rows) >= wanted:
                return rows[:wanted], True
            raise BadUserInput(
                f"`risk` is computed per customer from three systems: fewer than `first` of the "
                f"{MAX_RISK_CANDIDATES:,} customers a page checks at most matched. {NARROW}"
            )
        query = ListQuery(filters=filters, sort=order.spelled, after=after, limit=RISK_BATCH)
        page = await crm.customer_list(query)
        if wanted is None and page.total > MAX_RISK_CANDIDATES:
            raise BadUserInput(
                f"`risk` is computed per customer from three systems: `totalCount` and `summary` count at most "
                f"{MAX_RISK_CANDIDATES:,} customers, and {page.total:,} match the other filters. {NARROW}"
            )
        risks = await risk_of_customers(ctx, page.items)
        for customer, risk, keyset in zip(page.items, risks, page.cursors, strict=True):
            if isinstance(risk, Exception):
                raise risk
            if risk.value in levels:
                rows.append((customer, keyset))
        checked += len(page.items)
        if wanted is not None and len(rows) > wanted:
            return rows[:wanted], True
        if not page.more or not page.cursors:
            return rows, False
        after = page.cursors[-1]


def _summary_of(customers: Sequence[Customer]) -> Summary:
    """What the CRM's summary says of a list, for the customers the gateway matched (count by tier and region)."""
    groups = {
        name: [
            Bucket(key=key, count=n, amount=Decimal("0.00"))
            for key, n in sorted(Counter(values).items(), key=lambda item: (item[0] is not None, item[0] or ""))
        ]
        for name, values in (
            ("tier", [c.tier.value if c.tier is not None else None for c in customers]),
            ("region", [c.region for c in customers]),
        )
    }
    return Summary(count=len(customers), groups=groups)
