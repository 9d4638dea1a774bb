"""Alerts about a customer, each from the system that knows the fact.

- OVERDUE_RECEIVABLE (ERP): open invoices past due; HIGH past 90 days, MEDIUM past 30.
- CREDIT_LIMIT (ERP): credit used above the limit (HIGH) or above 90 % of it (MEDIUM).
- MILESTONE_LATE (CLM): a milestone of a live contract past its due date, not done.
- TICKET_SLA (DESK): an open ticket past its SLA due time; HIGH for P1/P2.
- STOCK_SHORTAGE (ERP): a SKU on the customer's open orders whose warehouse has
  more allocated than on hand; HIGH when no known receipt covers the gap.

Supply-side alerts, asked for with `alerts(supply: true)` (they read the SRM and MES, and
the stock, so a page that does not ask pays nothing for them); see `resolvers.delivery`:
- SUPPLIER_DELAY (SRM): a supplier's late confirmation makes an open order late.
- PRODUCTION_LATE (MES): a production order the order waits for is planned to end late.
- QUALITY_HOLD (MES): a quality record of the order's lots or production is on hold.
For procurement, not about a customer (`Query.procurementAlerts`):
- BUDGET_OVERRUN (SRM): a category's committed and spent amounts exceed its budget.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from resolvers.batches import each
from resolvers.context import Context
from resolvers.delivery import RISK_STATUSES, delivery_risks, risk_alerts
from resolvers.partial import gather_parts
from resolvers.receivables import days_overdue, receivables_of_customer
from resolvers.relations import contracts_of_customer, orders_of_customer, tickets_of_customer
from resolvers.risk import OPEN_TICKET_STATUSES
from sources import SourceError
from sources.records import ContractStatus, Customer, Order, OrderStatus


class AlertKind(Enum):
    OVERDUE_RECEIVABLE = "OVERDUE_RECEIVABLE"
    CREDIT_LIMIT = "CREDIT_LIMIT"
    MILESTONE_LATE = "MILESTONE_LATE"
    TICKET_SLA = "TICKET_SLA"
    STOCK_SHORTAGE = "STOCK_SHORTAGE"
    SUPPLIER_DELAY = "SUPPLIER_DELAY"
    PRODUCTION_LATE = "PRODUCTION_LATE"
    QUALITY_HOLD = "QUALITY_HOLD"
    BUDGET_OVERRUN = "BUDGET_OVERRUN"


class SourceName(Enum):
    CRM = "CRM"
    ERP = "ERP"
    CLM = "CLM"
    DESK = "DESK"
    SRM = "SRM"
    MES = "MES"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    severity: str
    message: str
    source: SourceName
    ref_id: str | None = None


# The alerts that quote balances: only for callers who may read the receivables.
RECEIVABLE_KINDS = frozenset({AlertKind.OVERDUE_RECEIVABLE, AlertKind.CREDIT_LIMIT})
LIVE_CONTRACT_STATUSES = frozenset({ContractStatus.ACTIVE, ContractStatus.IN_APPROVAL})
ALLOCATING_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.PROCESSING})
SHIPPED_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.DONE})


async def receivable_alerts(ctx: Context, customer: Customer) -> list[Alert]:
    receivables = await receivables_of_customer(ctx, customer)
    if receivables is None:
        return []
    alerts = []
    overdue = [invoice for invoice in receivables.open_invoices if days_overdue(invoice, ctx.today) > 0]
    if overdue:
        oldest = max(overdue, key=lambda invoice: days_overdue(invoice, ctx.today))
        days = days_overdue(oldest, ctx.today)
        alerts.append(
            Alert(
                AlertKind.OVERDUE_RECEIVABLE,
                "HIGH" if days > 90 else "MEDIUM" if days > 30 else "LOW",
                f"{len(overdue)} invoice(s) overdue, {receivables.overdue_balance} {receivables.currency or ''}"
                f" in total; the oldest, {oldest.number}, is {days} days past due.".replace("  ", " "),
                SourceName.ERP,
                oldest.id,
            )
        )
    limit = receivables.credit_limit
    if limit is not None and limit > 0 and receivables.credit_used > limit * Decimal("0.9"):
        over = receivables.credit_used > limit
        alerts.append(
            Alert(
                AlertKind.CREDIT_LIMIT,
                "HIGH" if over else "MEDIUM",
                f"Credit used {receivables.credit_used} "
                + (
                    f"exceeds the limit {limit} by {receivables.over_limit_by}."
                    if over
                    else f"is above 90 % of the limit {limit}."
                ),
                SourceName.ERP,
                customer.refs.erp,
            )
        )
    return alerts


async def milestone_alerts(ctx: Context, customer: Customer) -> list[Alert]:
    alerts = []
    for contract in await contracts_of_customer(ctx, customer):
        if contract.status not in LIVE_CONTRACT_STATUSES:
            continue
        for milestone in contract.milestones:
            if milestone.done_at is None and milestone.due_date and milestone.due_date < ctx.today:
                days = (ctx.today - milestone.due_date).days
                alerts.append(
                    Alert(
                        AlertKind.MILESTONE_LATE,
                        "HIGH" if days > 30 else "MEDIUM",
                        f"Milestone {milestone.name!r} of contract {contract.number} is {days} days late.",
                        SourceName.CLM,
                        contract.id,
                    )
                )
    return alerts


async def ticket_alerts(ctx: Context, customer: Customer) -> list[Alert]:
    now = dt.datetime.now(dt.UTC)
    alerts = []
    for ticket in await tickets_of_customer(ctx, customer):
        if ticket.status in OPEN_TICKET_STATUSES and ticket.sla_due_at and ticket.sla_due_at < now:
            hours = int((now - ticket.sla_due_at).total_seconds() // 3600)
            alerts.append(
                Alert(
                    AlertKind.TICKET_SLA,
                    "HIGH" if ticket.priority in {"P1", "P2"} else "MEDIUM",
                    f"Ticket {ticket.id} ({ticket.priority}, {ticket.subject}) is {hours} h past its SLA.",
                    SourceName.DESK,
                    ticket.id,
                )
            )
    return alerts


async def stock_alerts(ctx: Context, customer: Customer) -> list[Alert]:
    needs: dict[tuple[str, str], str] = {}  # (sku, warehouse) -> the first open order that needs it
    for order in await orders_of_customer(ctx, customer):
        if order.status in ALLOCATING_STATUSES and order.warehouse:
            for line in order.lines:
                if line.quantity > (line.shipped_quantity or 0):
                    needs.setdefault((line.sku, order.warehouse), order.number)
    if not needs:
        return []
    skus = sorted({sku for sku, _ in needs})
    # Products and stock together, as order lists prefetch them, so both join the same batches.
    products, stocks = await asyncio.gather(
        ctx.loaders.product_by_sku.load_many(skus), ctx.loaders.stock_by_sku.load_many(skus)
    )
    product_of, stock_of = dict(zip(skus, products, strict=True)), dict(zip(skus, stocks, strict=True))
    alerts = []
    for (sku, warehouse), order_number in sorted(needs.items()):
        rows = [row for row in stock_of[sku] if row.warehouse == warehouse]
        short = sum((row.allocated - row.on_hand for row in rows), Decimal(0))
        if short <= 0:
            continue
        receipts = sorted((r for row in rows for r in row.receipts), key=lambda r: r.expected_date)
        covered = sum((r.quantity for r in receipts), Decimal(0)) >= short
        product = product_of[sku]
        alerts.append(
            Alert(
                AlertKind.STOCK_SHORTAGE,
                "MEDIUM" if covered else "HIGH",
                f"{product.name if product else sku} ({sku}) is short by {short} in {warehouse}"
                f" for open orders such as {order_number}; "
                + (f"receipts expected from {receipts[0].expected_date}." if covered else "no receipt covers the gap."),
                SourceName.ERP,
                sku,
            )
        )
    return alerts


# Orders shipped this recently still get QUALITY_HOLD alerts: a held lot may be on its way.
QUALITY_WINDOW_DAYS = 90


async def supply_alerts(ctx: Context, orders: list[Order]) -> tuple[list[Alert], list[SourceError]]:
    """SUPPLIER_DELAY, PRODUCTION_LATE and QUALITY_HOLD of these orders (see the module), and the
    SRM's or MES's failures that cost some of them."""
    since = ctx.today - dt.timedelta(days=QUALITY_WINDOW_DAYS)
    recent = [
        o
        for o in orders
        if o.status in RISK_STATUSES
        or (o.status in SHIPPED_STATUSES and o.ordered_at is not None and o.ordered_at.date() >= since)
    ]
    if not recent:
        return [], []
    (risks, failures), quality = await asyncio.gather(
        delivery_risks(ctx, recent), each([ctx.loaders.quality_by_sales_order.load(o.id) for o in recent])
    )
    alerts = []
    for order, risk, records in zip(recent, risks, quality, strict=True):
        if isinstance(records, SourceError) and all(records is not f for f in failures):
            failures.append(records)
        for kind, severity, message, source, ref in risk_alerts(order, risk, records):
            alerts.append(Alert(AlertKind(kind), severity, message, SourceName(source), ref))
    return alerts, failures


async def alerts_of_customer(
    ctx: Context, customer: Customer, supply: bool = False
) -> tuple[list[Alert], list[SourceError]]:
    parts = [milestone_alerts(ctx, customer), ticket_alerts(ctx, customer), stock_alerts(ctx, customer)]
    # Receivable alerts quote balances: only for callers who may read the receivables.
    if ctx.can_read("Customer.receivables"):
        parts.insert(0, receivable_alerts(ctx, customer))
    if not supply:
        return await gather_parts(*parts)
    (alerts, failures), (extra, supply_failures) = await asyncio.gather(
        gather_parts(*parts), _supply_part(ctx, customer)
    )
    return alerts + extra, failures + [f for f in supply_failures if all(f is not seen for seen in failures)]


async def _supply_part(ctx: Context, customer: Customer) -> tuple[list[Alert], list[SourceError]]:
    try:
        orders = await orders_of_customer(ctx, customer)
    except SourceError:
        return [], []  # the ERP's failure is the order-based parts' to report
    return await supply_alerts(ctx, orders)
