"""Delivery risk of a sales order, and the supply-side alerts of its customer.

For each open line (ordered less shipped) of an open order, its *coverage date*: the first day
from which the order's warehouse can meet every commitment on its books, this line's included
(for a DRAFT order, which allocates nothing yet, the first day its open quantity is available),
computed as ATP does (`availability`: the least projected quantity over the day and every
later planned date). A make-to-order production order (MES) for the line's product delays it
to its planned end. The order's projected date is its lines' latest; null when one can never
be covered by what is on the books.

Causes, each naming what it comes from:
- SUPPLIER_DELAY: the line is covered later than the ERP's own dates would cover it because a
  supplier confirmed a receipt the ERP counts on later (SRM); the purchase-order line named.
- PRODUCTION_LATE: the same for a production order's planned end (MES), or a make-to-order
  production order planned to end after the order's promised date.
- SHORTAGE: even on the ERP's own dates the line is covered after the promised date, or never.
Receipts are dated as `resolvers.supply_dates` dates them; when the SRM or MES cannot be read,
their receipts keep the ERP's dates and the failure is reported beside the answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from resolvers import availability
from resolvers.batches import each
from resolvers.context import Context
from resolvers.errors import Failure, expected
from resolvers.money import ZERO
from resolvers.supply_dates import Stocks, supplied_stock
from sources import SourceError
from sources.records import Order, OrderStatus, ProductionOrder, Stock

RISK_STATUSES = frozenset({OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.PROCESSING})
HOLD = "HOLD"


@dataclass(frozen=True)
class RiskCause:
    kind: str  # SUPPLIER_DELAY, PRODUCTION_LATE, SHORTAGE
    sku: str
    reference: str | None  # the purchase-order line or production order
    delay_days: int | None
    message: str


@dataclass(frozen=True)
class DeliveryRisk:
    order_id: str
    promised_date: dt.date | None
    projected_date: dt.date | None
    days_late: int | None
    at_risk: bool
    causes: list[RiskCause] = field(default_factory=list)


def coverage(
    rows: list[Stock], warehouse: str | None, quantity: Decimal, today: dt.date, *, erp_dates: bool
) -> dt.date | None:
    """First day from which the warehouse's projection leaves `quantity` free for good."""
    scoped = [row for row in rows if row.warehouse == warehouse]
    free = sum((row.on_hand - row.allocated for row in scoped), ZERO)
    moves = [
        ((r.erp_date or r.expected_date) if erp_dates else r.expected_date, r.quantity)
        for row in scoped
        for r in row.receipts
    ]
    points = availability.promise_points(availability.timeline(free, moves, today))
    return next((day for day, quantity_free in points if quantity_free >= quantity), None)


def later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The later of two coverage dates, None (never) beating any date."""
    return None if a is None or b is None else max(a, b)


def risk_of(order: Order, stock: Stocks, production: list[ProductionOrder], today: dt.date) -> DeliveryRisk | Failure:
    causes: list[RiskCause] = []
    projected: dt.date | None = today
    promised = order.promised_date
    for line in order.lines:
        open_quantity = line.quantity - (line.shipped_quantity or ZERO)
        if open_quantity <= 0:
            continue
        rows = stock.get(line.sku)
        if not isinstance(rows, list):
            return rows if rows is not None else SourceError("ERP", "stock", "no stock answer")
        # Allocated already holds a confirmed order's open quantity; a draft's must still be found.
        wanted = open_quantity if order.status == OrderStatus.DRAFT else ZERO
        supplied = coverage(rows, order.warehouse, wanted, today, erp_dates=False)
        on_erp_dates = coverage(rows, order.warehouse, wanted, today, erp_dates=True)
        line_date = supplied
        if on_erp_dates is None or (promised and on_erp_dates > promised):
            causes.append(
                RiskCause(
                    "SHORTAGE",
                    line.sku,
                    None,
                    None,
                    f"{line.sku}: {open_quantity} open in {order.warehouse}, "
                    + (f"covered only from {on_erp_dates}" if on_erp_dates else "not covered by anything on the books")
                    + " on the ERP's own dates.",
                )
            )
        if on_erp_dates is not None and (supplied is None or supplied > on_erp_dates):
            causes += moved_receipts(line.sku, rows, order.warehouse, supplied)
        for made in production:
            if made.sku == line.sku and made.status != "DONE" and made.planned_end:
                line_date = later(line_date, made.planned_end)
                if promised and made.planned_end > promised:
                    causes.append(
                        RiskCause(
                            "PRODUCTION_LATE",
                            line.sku,
                            made.id,
                            (made.planned_end - promised).days,
                            f"Production order {made.id} for {line.sku} is planned to end {made.planned_end}, "
                            f"after the promised {promised}.",
                        )
                    )
        projected = later(projected, line_date)
    days_late = None if projected is None or promised is None else max(0, (projected - promised).days)
    return DeliveryRisk(
        order_id=order.id,
        promised_date=promised,
        projected_date=projected,
        days_late=days_late,
        at_risk=projected is None or bool(days_late),
        causes=unique(causes),
    )


def moved_receipts(sku: str, rows: list[Stock], warehouse: str | None, covered: dt.date | None) -> list[RiskCause]:
    """The receipts the SRM or MES now dates later than the ERP did, from before the line's coverage
    date on their dates (`covered`; None: never) to after it: what moved the coverage."""
    causes = []
    for row in rows:
        if row.warehouse != warehouse:
            continue
        for r in row.receipts:
            if r.erp_date is None or r.expected_date <= r.erp_date or (covered is not None and r.erp_date >= covered):
                continue
            delay = (r.expected_date - r.erp_date).days
            if r.date_source == "SRM":
                text = f"The supplier confirmed {r.document} ({r.quantity} of {sku}) for {r.expected_date}"
                kind = "SUPPLIER_DELAY"
            else:
                text = f"Production order {r.document} ({r.quantity} of {sku}) is planned to end {r.expected_date}"
                kind = "PRODUCTION_LATE"
            causes.append(
                RiskCause(kind, sku, r.document, delay, f"{text}, {delay} days after the ERP's {r.erp_date}.")
            )
    return causes


def unique(causes: list[RiskCause]) -> list[RiskCause]:
    return list(dict.fromkeys(causes))


async def delivery_risks(
    ctx: Context, orders: list[Order]
) -> tuple[list[DeliveryRisk | None | Exception], list[SourceError]]:
    """Per order its delivery risk (None for orders no longer open), and the SRM's or MES's failures
    that left some receipts on the ERP's dates. Backend calls: stock (ERP), purchase orders (SRM),
    production orders and make-to-order production (MES), one each for all the orders."""
    open_orders = [o for o in orders if o.status in RISK_STATUSES]
    if not open_orders:
        return [None] * len(orders), []
    skus = sorted({line.sku for o in open_orders for line in o.lines})
    (stock, failures), made = await asyncio.gather(
        supplied_stock(ctx, skus), each([ctx.loaders.production_by_sales_order.load(o.id) for o in open_orders])
    )
    production = {o.id: expected(m) for o, m in zip(open_orders, made, strict=True)}
    for found in production.values():
        if isinstance(found, SourceError) and all(found is not f for f in failures):
            failures.append(found)
    answers: list[DeliveryRisk | None | Exception] = []
    for order in orders:
        if order.status not in RISK_STATUSES:
            answers.append(None)
            continue
        mto = production[order.id]
        answers.append(risk_of(order, stock, mto if isinstance(mto, list) else [], ctx.today))
    return answers, failures


async def delivery_risk(ctx: Context, order: Order) -> tuple[DeliveryRisk | None | Exception, list[SourceError]]:
    (answer,), failures = await delivery_risks(ctx, [order])
    return answer, failures


def risk_alerts(
    order: Order, risk: DeliveryRisk | None | Exception, quality: Any
) -> list[tuple[str, str, str, str, str]]:
    """(kind, severity, message, source, ref) of an order's supply-side alerts."""
    alerts = []
    if isinstance(risk, DeliveryRisk) and risk.at_risk:
        severity = "HIGH" if risk.days_late is None or risk.days_late > 7 else "MEDIUM"
        for kind, source in (("SUPPLIER_DELAY", "SRM"), ("PRODUCTION_LATE", "MES")):
            found = [cause for cause in risk.causes if cause.kind == kind]
            if found:
                late = "cannot be projected" if risk.projected_date is None else f"projected {risk.projected_date}"
                alerts.append(
                    (
                        kind,
                        severity,
                        f"Order {order.number} (promised {order.promised_date}) is {late}: {found[0].message}",
                        source,
                        order.id,
                    )
                )
    if isinstance(quality, list):
        held = [record for record in quality if record.disposition == HOLD]
        if held:
            alerts.append(
                (
                    "QUALITY_HOLD",
                    "HIGH",
                    f"Order {order.number}: {len(held)} quality record(s) on hold, e.g. {held[0].id} "
                    f"({held[0].kind.lower().replace('_', '-')} inspection of lot {held[0].lot_id}: "
                    f"{', '.join(held[0].defects) or 'failed'}).",
                    "MES",
                    order.id,
                )
            )
    return alerts
