"""Slow-moving stock: what sits in a warehouse with no issue for a number of days (ERP).

An issue is any movement out of stock (a shipment, production consumption, an adjustment
out), from the ERP's movement history. Per SKU and warehouse holding stock: on hand, its value
at standard cost, the day of its last issue (null: none in the history the ERP keeps), and
the days since. A position is slow-moving when it has stock on hand and its last issue is
more than `days` ago, or unknown. Ordered by value, largest first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from resolvers.availability import check_warehouse
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.money import money
from sources.kinds import StockHistory


class NoStockHistory(BadUserInput):
    """The ERP in use keeps no stock movement history the gateway can read."""


@dataclass(frozen=True)
class SlowMover:
    sku: str
    warehouse: str
    on_hand: Decimal
    unit_cost: Decimal | None
    value: Decimal | None
    last_issue_date: dt.date | None
    days_without_issue: int | None


async def slow_moving_stock(ctx: Context, days: int, warehouse: str | None) -> list[SlowMover]:
    if days < 1 or days > 3650:
        raise BadUserInput(f"days must be between 1 and 3650, got {days}.")
    erp = ctx.loaders.backends.erp
    if not isinstance(erp, StockHistory):
        raise NoStockHistory("The ERP in use keeps no stock movement history: slow-moving stock is not available.")
    last, _ = await asyncio.gather(erp.last_issues(), check_warehouse(ctx, warehouse))
    positions = [p for p in last if warehouse is None or p.warehouse == warehouse]
    skus = list(dict.fromkeys(p.sku for p in positions))
    stock, products = await asyncio.gather(
        ctx.loaders.stock_by_sku.load_many(skus), ctx.loaders.product_by_sku.load_many(skus)
    )
    on_hand = {(row.sku, row.warehouse): row.on_hand for rows in stock for row in rows}
    cost = {sku: (p.standard_cost if p else None) for sku, p in zip(skus, products, strict=True)}
    cutoff = ctx.today - dt.timedelta(days=days)
    found = []
    for p in positions:
        quantity = on_hand.get((p.sku, p.warehouse))
        if not quantity or quantity <= 0 or (p.last_issue_date is not None and p.last_issue_date >= cutoff):
            continue
        unit = cost.get(p.sku)
        found.append(
            SlowMover(
                sku=p.sku,
                warehouse=p.warehouse,
                on_hand=quantity,
                unit_cost=unit,
                value=None if unit is None else money(quantity * unit),
                last_issue_date=p.last_issue_date,
                days_without_issue=None if p.last_issue_date is None else (ctx.today - p.last_issue_date).days,
            )
        )
    found.sort(key=lambda m: (-(m.value or 0), m.sku, m.warehouse))
    return found
