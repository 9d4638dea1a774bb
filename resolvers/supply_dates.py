"""Incoming receipts dated by the system that knows best.

The ERP plans a purchase receipt on the date its purchase-order line was placed for, and a
production receipt on the production order's due date. The SRM knows the supplier's latest
confirmation, the MES the production order's planned end. ATP, promise dates, quotes,
kitting, delivery risk and material requirements take a receipt's date from there
(`date_source` SRM or MES, the ERP's date kept in `erp_date`): an unconfirmed line keeps the
date it was placed for, as the SRM has it. A receipt neither system knows, or whose system
cannot be read, keeps the ERP's date (`date_source` ERP); the failure is returned beside the
answer, so the caller reports it (SOURCE_UNAVAILABLE naming the SRM or MES) and still answers.

Backend calls: the stock (ERP), then every purchase order and production order its receipts
name, in one call each (SRM, MES), whatever the number of SKUs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from resolvers.context import Context
from resolvers.errors import Failure, expected
from sources import SourceError
from sources.records import ProductionOrder, PurchaseOrder, Receipt, Stock

Stocks = dict[str, list[Stock] | Failure]


def po_line_of(document: str) -> tuple[str, int] | None:
    """("PO-2026-00012", 2) from the ERP's "PO-2026-00012/2"; None for anything else."""
    number, _, line = document.rpartition("/")
    return (number, int(line)) if number and line.isdigit() else None


async def load_all(loader: Any, keys: Iterable[str]) -> dict[str, Any]:
    """key -> what the loader answered (a record, None, or the error that cost it)."""
    wanted = sorted(set(keys))
    answers = await asyncio.gather(*(loader.load(key) for key in wanted), return_exceptions=True)
    return {key: expected(answer) for key, answer in zip(wanted, answers, strict=True)}


def redate(receipt: Receipt, orders: dict[str, Any], production: dict[str, Any]) -> Receipt:
    """The receipt dated by the SRM or MES when one of them knows its document."""
    if receipt.document is None or receipt.quantity <= 0:
        return receipt
    if receipt.kind == "PURCHASE":
        ref = po_line_of(receipt.document)
        order = orders.get(ref[0]) if ref else None
        if not isinstance(order, PurchaseOrder) or ref is None:
            return receipt
        line = next((line for line in order.lines if line.line_no == ref[1]), None)
        day = line and (line.confirmed_date or line.promised_date)
        source = "SRM"
    elif receipt.kind == "PRODUCTION":
        made = production.get(receipt.document)
        if not isinstance(made, ProductionOrder) or made.status == "DONE":
            return receipt
        day, source = made.planned_end, "MES"
    else:
        return receipt
    if day is None:
        return receipt
    return msgspec.structs.replace(receipt, expected_date=day, date_source=source, erp_date=receipt.expected_date)


def failures_of(*answers: dict[str, Any]) -> list[SourceError]:
    found: list[SourceError] = []
    for answer in answers:
        for value in answer.values():
            if isinstance(value, SourceError) and all(value is not seen for seen in found):
                found.append(value)
    return found


async def supplied_stock(ctx: Context, skus: Sequence[str]) -> tuple[Stocks, list[SourceError]]:
    """Per SKU its stock rows (or what cost them) with receipts dated by the SRM and MES, and the
    SRM's and MES's failures (their receipts keep the ERP's dates)."""
    wanted = list(dict.fromkeys(skus))
    answers = await asyncio.gather(*(ctx.loaders.stock_by_sku.load(sku) for sku in wanted), return_exceptions=True)
    stock: Stocks = {sku: expected(answer) for sku, answer in zip(wanted, answers, strict=True)}
    return await redated(ctx, stock)


async def redated(ctx: Context, stock: Stocks) -> tuple[Stocks, list[SourceError]]:
    """`stock` with its receipts dated by the SRM and MES (see the module)."""
    numbers, ids = set(), set()
    for rows in stock.values():
        if isinstance(rows, list):
            for row in rows:
                for receipt in row.receipts:
                    if receipt.document and receipt.quantity > 0:
                        if receipt.kind == "PURCHASE" and (ref := po_line_of(receipt.document)):
                            numbers.add(ref[0])
                        elif receipt.kind == "PRODUCTION":
                            ids.add(receipt.document)
    orders, production = await asyncio.gather(
        load_all(ctx.loaders.purchase_order_by_number, numbers), load_all(ctx.loaders.production_order_by_id, ids)
    )
    result: Stocks = {}
    for sku, rows in stock.items():
        if not isinstance(rows, list):
            result[sku] = rows
            continue
        result[sku] = [
            msgspec.structs.replace(row, receipts=[redate(r, orders, production) for r in row.receipts])
            if any(r.document for r in row.receipts)
            else row
            for row in rows
        ]
    return result, failures_of(orders, production)


def report(ctx: Context, path: Any, failures: Iterable[SourceError]) -> None:
    """The SRM's or MES's failures beside an answer that kept the ERP's dates instead."""
    for failure in failures:
        ctx.report_partial(path, failure)


def days_between(later: dt.date | None, earlier: dt.date | None) -> int | None:
    return None if later is None or earlier is None else (later - earlier).days
