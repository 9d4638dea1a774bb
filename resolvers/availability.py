"""Available-to-promise for one SKU, from the ERP's stock, allocations and receipts.

available(date) = on hand - allocated to open orders + open receipts expected by
`date`. The promise date for a quantity is the earliest day the cumulative
availability covers it (today when stock already does; a receipt already late
counts from today); None when no known receipt covers it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from dataclasses import dataclass
from decimal import Decimal
from typing import Awaitable

from sources.records import Stock

from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound
from resolvers.money import ZERO


@dataclass(frozen=True)
class Availability:
    sku: str
    warehouse: str | None
    on_hand: Decimal
    allocated: Decimal
    incoming: Decimal
    available: Decimal
    can_promise: bool
    promise_date: dt.date | None


def compute(
    sku: str,
    stock: list[Stock],
    *,
    warehouse: str | None,
    on: dt.date,
    quantity: Decimal,
    today: dt.date,
) -> Availability:
    rows = [row for row in stock if warehouse is None or row.warehouse == warehouse]
    on_hand = sum((row.on_hand for row in rows), ZERO)
    allocated = sum((row.allocated for row in rows), ZERO)
    receipts = sorted(
        ((max(receipt.expected_date, today), receipt.quantity) for row in rows for receipt in row.receipts),
        key=lambda pair: pair[0],
    )
    incoming = sum((qty for day, qty in receipts if day <= on), ZERO)
    free_now = on_hand - allocated
    promise_date: dt.date | None = None
    if free_now >= quantity:
        promise_date = today
    else:
        cumulative = free_now
        for day, qty in receipts:
            cumulative += qty
            if cumulative >= quantity:
                promise_date = day
                break
    available = free_now + incoming
    return Availability(
        sku=sku,
        warehouse=warehouse,
        on_hand=on_hand,
        allocated=allocated,
        incoming=incoming,
        available=available,
        can_promise=available >= quantity,
        promise_date=promise_date,
    )


async def check_warehouse(ctx: Context, warehouse: str | None) -> None:
    if warehouse is None:
        return
    known = {w.id for w in await ctx.loaders.warehouses.load("*")}
    if warehouse not in known:
        raise BadUserInput(f"Unknown warehouse {warehouse!r}; known warehouses: {', '.join(sorted(known))}.")


def check_quantity(quantity: Decimal) -> None:
    if not quantity.is_finite() or quantity <= 0:
        raise BadUserInput(f"quantity must be a positive number, got {quantity}.")


def availability_now(
    ctx: Context, sku: str, *, warehouse: str | None, on: dt.date | None, quantity: Decimal = Decimal(1)
) -> Availability | Awaitable[Availability]:
    """The availability itself when the stock is already loaded, else an awaitable of it."""
    check_quantity(quantity)
    if warehouse is None:
        stock = ctx.loaders.stock_by_sku.load_now(sku)
        if not inspect.isawaitable(stock):
            return compute(sku, stock, warehouse=None, on=on or ctx.today, quantity=quantity, today=ctx.today)
    return availability_of_sku(ctx, sku, warehouse=warehouse, on=on, quantity=quantity)


async def availability_of_sku(
    ctx: Context, sku: str, *, warehouse: str | None, on: dt.date | None, quantity: Decimal = Decimal(1)
) -> Availability:
    check_quantity(quantity)
    stock, _ = await asyncio.gather(ctx.loaders.stock_by_sku.load(sku), check_warehouse(ctx, warehouse))
    return compute(sku, stock, warehouse=warehouse, on=on or ctx.today, quantity=quantity, today=ctx.today)


async def atp(ctx: Context, sku: str, quantity: Decimal, warehouse: str | None, on: dt.date | None) -> Availability:
    """`Query.atp`: like a product's availability, but an unknown SKU is NOT_FOUND."""
    check_quantity(quantity)
    product, answer = await asyncio.gather(
        ctx.loaders.product_by_sku.load(sku),
        availability_of_sku(ctx, sku, warehouse=warehouse, on=on, quantity=quantity),
    )
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}.")
    return answer
