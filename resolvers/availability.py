"""Available-to-promise for one SKU, from the ERP's stock, allocations and planned movements.

The projection: projected(t) = on hand - allocated to open orders + every planned movement
dated up to t (receipts in, planned demand such as production consumption out; a movement
already late counts from today). A promise must survive the demand already on the books,
so the quantity available to promise at a date is the least projected quantity over that
date and every later date the ERP has plans for (the horizon is everything on the books):

    available(t) = min(projected(s) for s >= t)

`available` never falls as t grows, so the promise date for a quantity is the earliest
day from which `available` covers it (today when stock already does), None when the plans
never leave enough; `can_promise` at a date is `date >= promise date`, never a
contradiction of it. `timeline` and `promise_points` are pure functions of the plans.

Where a receipt's date comes from: the ERP's stock as it is (`availability_now`, what the 360
page shows without asking for a promise), or re-dated by the SRM's latest supplier confirmation
and the MES's planned end (`supplied_availability`: `atp`, and a product's availability asked for
its promise; see `resolvers.supply_dates`). `promise_date_source` names the system the promise
date comes from: ERP when stock on hand covers it, else the system that dated the receipts
arriving that day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound
from resolvers.money import ZERO
from resolvers.supply_dates import report, supplied_stock
from sources.records import Receipt, Stock


@dataclass(frozen=True)
class Availability:
    sku: str
    warehouse: str | None
    on_hand: Decimal
    allocated: Decimal
    incoming: Decimal
    projected: Decimal
    available: Decimal
    can_promise: bool
    promise_date: dt.date | None
    receipts: tuple[Receipt, ...] = ()  # the planned movements counted, by date
    promise_date_source: str | None = None


def timeline(
    free_now: Decimal, movements: Iterable[tuple[dt.date, Decimal]], today: dt.date
) -> list[tuple[dt.date, Decimal]]:
    """(day, projected quantity from that day on): today first, then one point per day with
    a planned movement (a late one counts today)."""
    by_day: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for day, quantity in movements:
        by_day[max(day, today)] += quantity
    points, running = [], free_now
    for day in sorted(set(by_day) | {today}):
        running += by_day.get(day, ZERO)
        points.append((day, running))
    return points


def promise_points(points: list[tuple[dt.date, Decimal]]) -> list[tuple[dt.date, Decimal]]:
    """(day, available to promise from that day on): the least projected quantity over the
    day and every later point, so what is promised is never needed by a later demand."""
    result, least = [], None
    for day, projected in reversed(points):
        least = projected if least is None else min(least, projected)
        result.append((day, least))
    return result[::-1]


def value_on(points: list[tuple[dt.date, Decimal]], on: dt.date) -> Decimal:
    """The step function's value at `on`: that of the last point not after it (the first
    point, today's, for a date before today)."""
    value = points[0][1]
    for day, quantity in points:
        if day > on:
            break
        value = quantity
    return value


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
    movements = [(receipt.expected_date, receipt.quantity) for row in rows for receipt in row.receipts]
    incoming = sum((qty for day, qty in movements if max(day, today) <= on), ZERO)
    projection = timeline(on_hand - allocated, movements, today)
    promisable = promise_points(projection)
    available = value_on(promisable, on)
    promise_date = next((day for day, atp_quantity in promisable if atp_quantity >= quantity), None)
    receipts = tuple(sorted((r for row in rows for r in row.receipts), key=lambda r: (r.expected_date, r.id)))
    return Availability(
        sku=sku,
        warehouse=warehouse,
        on_hand=on_hand,
        allocated=allocated,
        incoming=incoming,
        projected=value_on(projection, on),
        available=available,
        can_promise=available >= quantity,
        promise_date=promise_date,
        receipts=receipts,
        promise_date_source="ERP"
        if promise_date == today and on_hand - allocated >= quantity
        else source_of(promise_date, receipts, today),
    )


def source_of(day: dt.date | None, receipts: Iterable[Receipt], today: dt.date) -> str | None:
    """The system a promise date comes from: the one that dated the receipts arriving that day
    (a late one arrives today), the ERP when stock on hand covers it."""
    if day is None:
        return None
    arriving = {r.date_source for r in receipts if r.quantity > 0 and max(r.expected_date, today) == day}
    return next((name for name in ("SRM", "MES") if name in arriving), "ERP")


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
    """The availability itself when the stock is already loaded, else an awaitable of it.

    Computed once per request for each (SKU, date, quantity): on a 360 page the same
    product shows under many order lines.
    """
    check_quantity(quantity)
    if warehouse is None:
        stock = ctx.loaders.stock_by_sku.load_now(sku)
        if not inspect.isawaitable(stock):
            key = ("availability", sku, on, quantity)
            found = ctx.derived.get(key)
            if found is None or found[0] is not stock:  # a `@fresh` field may have loaded the stock again
                on_day = on or ctx.today
                availability = compute(sku, stock, warehouse=None, on=on_day, quantity=quantity, today=ctx.today)
                found = ctx.derived[key] = (stock, availability)
            return found[1]
    return availability_of_sku(ctx, sku, warehouse=warehouse, on=on, quantity=quantity)


async def availability_of_sku(
    ctx: Context, sku: str, *, warehouse: str | None, on: dt.date | None, quantity: Decimal = Decimal(1)
) -> Availability:
    check_quantity(quantity)
    stock, _ = await asyncio.gather(ctx.loaders.stock_by_sku.load(sku), check_warehouse(ctx, warehouse))
    return compute(sku, stock, warehouse=warehouse, on=on or ctx.today, quantity=quantity, today=ctx.today)


async def supplied_availabilities(
    ctx: Context, skus: list[str], *, warehouse: str | None, on: dt.date | None, quantity: Decimal, path: object
) -> list[Availability | Exception]:
    """Availability per SKU with receipts dated by the SRM and MES (one call each for all SKUs);
    their failures are reported at `path` and those receipts keep the ERP's dates."""
    check_quantity(quantity)
    (stock, failures), _ = await asyncio.gather(supplied_stock(ctx, skus), check_warehouse(ctx, warehouse))
    report(ctx, path, failures)
    answers: list[Availability | Exception] = []
    for sku in skus:
        rows = stock[sku]
        if isinstance(rows, Exception):
            answers.append(rows)
        else:
            answers.append(
                compute(sku, rows, warehouse=warehouse, on=on or ctx.today, quantity=quantity, today=ctx.today)
            )
    return answers


async def supplied_availability(
    ctx: Context, sku: str, *, warehouse: str | None, on: dt.date | None, quantity: Decimal, path: object
) -> Availability:
    (answer,) = await supplied_availabilities(ctx, [sku], warehouse=warehouse, on=on, quantity=quantity, path=path)
    if isinstance(answer, Exception):
        raise answer
    return answer


async def atp(
    ctx: Context, sku: str, quantity: Decimal, warehouse: str | None, on: dt.date | None, path: object = None
) -> Availability:
    """`Query.atp`: like a product's availability asked for its promise, but an unknown SKU is NOT_FOUND."""
    check_quantity(quantity)
    product, answer = await asyncio.gather(
        ctx.loaders.product_by_sku.load(sku),
        supplied_availability(ctx, sku, warehouse=warehouse, on=on, quantity=quantity, path=path),
    )
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}.")
    return answer
