"""The buying side: supplier ratings, purchase-contract reconciliation, budget overruns (SRM, CLM).

**Rating** of a supplier, from its own receipts (SRM): on-time rate = receipts on or before
the date their purchase-order line was placed for / receipts; acceptance rate = accepted /
received quantity (incoming inspection). Null without receipts.

**Purchase contracts** of a supplier (CLM): the purchase contracts naming it. They belong to no
customer (their counterparty is the supplier), so, as `contract(id)` answers them, only callers who
see every customer see them; a seller (own or team) gets FORBIDDEN, and no CLM call is made.

**Reconciliation** of a purchase contract (CLM) with its purchase orders, receipts, invoices
and payments (SRM). Amounts are net. Per order: received = accepted quantity x the line's unit
price; invoiced = its invoices; paid = their payments. Every mismatch is listed:
- INVOICED_MORE_THAN_RECEIVED: an order's invoices exceed the value of what was accepted;
- RECEIVED_NOT_INVOICED: accepted goods not invoiced `UNINVOICED_DAYS` after their last receipt;
- PAID_MORE_THAN_INVOICED / PAID_LESS_THAN_INVOICED: an invoice paid above its amount, or past
  its due date and paid less;
- CONTRACT_EXCEEDED: the orders placed on the contract exceed its amount;
- ORDER_OUTSIDE_CONTRACT_PERIOD: an order placed before the contract's start or after its end;
- OTHER_SUPPLIER: an order on the contract from another supplier than the contract's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from resolvers.access import not_visible
from resolvers.batches import each
from resolvers.context import Context
from resolvers.money import ZERO, money
from sources.records import (
    Budget,
    Contract,
    ContractKind,
    GoodsReceipt,
    PurchaseOrder,
    SupplierInvoice,
    SupplierPayment,
)

UNINVOICED_DAYS = 30


@dataclass(frozen=True)
class SupplierRating:
    receipts: int
    on_time_receipts: int
    received_quantity: Decimal
    accepted_quantity: Decimal
    on_time_rate: Decimal | None
    acceptance_rate: Decimal | None


def rating(orders: list[PurchaseOrder], receipts: list[GoodsReceipt]) -> SupplierRating:
    promised = {(o.number, line.line_no): line.promised_date for o in orders for line in o.lines}
    on_time = 0
    for receipt in receipts:
        day = promised.get((receipt.po_number, receipt.line_no))
        if day is not None and receipt.received_at <= day:
            on_time += 1
    received = sum((r.quantity for r in receipts), ZERO)
    accepted = sum((r.accepted_quantity for r in receipts), ZERO)
    return SupplierRating(
        receipts=len(receipts),
        on_time_receipts=on_time,
        received_quantity=received,
        accepted_quantity=accepted,
        on_time_rate=ratio(Decimal(on_time), Decimal(len(receipts))),
        acceptance_rate=ratio(accepted, received),
    )


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(Decimal("0.0001")) if whole else None


async def ratings(ctx: Context, codes: list[str]) -> list[SupplierRating | Exception]:
    """Per supplier its rating: one SRM call for the orders and one for the receipts of all of them."""
    orders, receipts = await asyncio.gather(
        each([ctx.loaders.purchase_orders_by_supplier.load(code) for code in codes]),
        each([ctx.loaders.goods_receipts_by_supplier.load(code) for code in codes]),
    )
    answers: list[SupplierRating | Exception] = []
    for found, got in zip(orders, receipts, strict=True):
        failed = next((x for x in (found, got) if isinstance(x, Exception)), None)
        answers.append(failed if failed is not None else rating(found, got))
    return answers


@dataclass(frozen=True)
class Mismatch:
    kind: str
    reference: str  # the purchase order, invoice or contract concerned
    expected: Decimal | None
    actual: Decimal | None
    message: str


@dataclass(frozen=True)
class Reconciliation:
    contract_amount: Decimal | None
    ordered_amount: Decimal
    received_amount: Decimal
    invoiced_amount: Decimal
    paid_amount: Decimal
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class PurchaseFile:
    """A purchase contract's orders with their receipts, invoices and payments."""

    orders: list[PurchaseOrder]
    receipts: dict[str, list[GoodsReceipt]]
    invoices: dict[str, list[SupplierInvoice]]
    payments: dict[str, list[SupplierPayment]]


async def purchase_file(ctx: Context, contract: Contract) -> PurchaseFile:
    """Orders (SRM, by contract), then their receipts and invoices, then the invoices' payments."""
    orders = await ctx.loaders.purchase_orders_by_contract.load(contract.number)
    numbers = [o.number for o in orders]
    receipts, invoices = await asyncio.gather(
        ctx.loaders.goods_receipts_by_po.load_many(numbers), ctx.loaders.supplier_invoices_by_po.load_many(numbers)
    )
    ids = [i.id for found in invoices for i in found]
    payments = await ctx.loaders.supplier_payments_by_invoice.load_many(ids)
    return PurchaseFile(
        orders=orders,
        receipts=dict(zip(numbers, receipts, strict=True)),
        invoices=dict(zip(numbers, invoices, strict=True)),
        payments=dict(zip(ids, payments, strict=True)),
    )


def order_value(order: PurchaseOrder) -> Decimal:
    return money(sum((line.quantity * (line.unit_price or ZERO) for line in order.lines), ZERO))


def reconcile(contract: Contract, file: PurchaseFile, today: dt.date) -> Reconciliation:
    mismatches: list[Mismatch] = []
    ordered = received_total = invoiced_total = paid_total = ZERO
    for order in file.orders:
        ordered += order_value(order)
        price = {line.line_no: line.unit_price or ZERO for line in order.lines}
        receipts = file.receipts.get(order.number, [])
        received = money(sum((r.accepted_quantity * price.get(r.line_no, ZERO) for r in receipts), ZERO))
        invoices = [i for i in file.invoices.get(order.number, []) if i.status != "CANCELLED"]
        invoiced = money(sum((i.amount for i in invoices), ZERO))
        received_total += received
        invoiced_total += invoiced
        if invoiced > received:
            mismatches.append(
                Mismatch(
                    "INVOICED_MORE_THAN_RECEIVED",
                    order.number,
                    received,
                    invoiced,
                    f"{order.number}: invoiced {invoiced}, but goods accepted are worth {received}.",
                )
            )
        last = max((r.received_at for r in receipts), default=None)
        if received > invoiced and last is not None and (today - last).days > UNINVOICED_DAYS:
            mismatches.append(
                Mismatch(
                    "RECEIVED_NOT_INVOICED",
                    order.number,
                    received,
                    invoiced,
                    f"{order.number}: goods worth {received} accepted, last on {last}; only {invoiced} invoiced.",
                )
            )
        for invoice in invoices:
            paid = money(sum((p.amount for p in file.payments.get(invoice.id, [])), ZERO))
            paid_total += paid
            if paid > invoice.amount:
                mismatches.append(
                    Mismatch(
                        "PAID_MORE_THAN_INVOICED",
                        invoice.number,
                        invoice.amount,
                        paid,
                        f"Invoice {invoice.number} of {invoice.amount} was paid {paid}.",
                    )
                )
            elif paid < invoice.amount and invoice.due_date is not None and invoice.due_date < today:
                mismatches.append(
                    Mismatch(
                        "PAID_LESS_THAN_INVOICED",
                        invoice.number,
                        invoice.amount,
                        paid,
                        f"Invoice {invoice.number} of {invoice.amount} was due {invoice.due_date}; paid {paid}.",
                    )
                )
        day = order.ordered_at
        if day is not None and (
            (contract.start_date and day < contract.start_date) or (contract.end_date and day > contract.end_date)
        ):
            mismatches.append(
                Mismatch(
                    "ORDER_OUTSIDE_CONTRACT_PERIOD",
                    order.number,
                    None,
                    None,
                    f"{order.number} was placed {day}, outside {contract.start_date}..{contract.end_date}.",
                )
            )
        if contract.supplier_code and order.supplier_code != contract.supplier_code:
            mismatches.append(
                Mismatch(
                    "OTHER_SUPPLIER",
                    order.number,
                    None,
                    None,
                    f"{order.number} is from {order.supplier_code}, the contract with {contract.supplier_code}.",
                )
            )
    if contract.amount is not None and ordered > contract.amount:
        mismatches.append(
            Mismatch(
                "CONTRACT_EXCEEDED",
                contract.number,
                contract.amount,
                ordered,
                f"Orders on {contract.number} add up to {ordered}, over its amount {contract.amount}.",
            )
        )
    return Reconciliation(
        contract_amount=contract.amount,
        ordered_amount=money(ordered),
        received_amount=money(received_total),
        invoiced_amount=money(invoiced_total),
        paid_amount=money(paid_total),
        mismatches=mismatches,
    )


def is_purchase(contract: Contract) -> bool:
    return contract.kind == ContractKind.PURCHASE


async def purchase_orders_of_contract(ctx: Context, contract: Contract) -> list[PurchaseOrder]:
    if not is_purchase(contract):
        return []
    return await ctx.loaders.purchase_orders_by_contract.load(contract.number)


async def file_of_contract(ctx: Context, contract: Contract) -> PurchaseFile | None:
    """A purchase contract's file, gathered once per request however many fields read it; None for others."""
    if not is_purchase(contract):
        return None
    key = ("purchase-file", contract.id)
    found = ctx.derived.get(key)
    if found is None:
        found = ctx.derived[key] = asyncio.ensure_future(purchase_file(ctx, contract))
    return await asyncio.shield(found)


async def reconciliation_of_contract(ctx: Context, contract: Contract) -> Reconciliation | None:
    """A purchase contract's reconciliation; None for other kinds."""
    file = await file_of_contract(ctx, contract)
    return None if file is None else reconcile(contract, file, ctx.today)


async def purchase_contracts_of_suppliers(ctx: Context, codes: list[str]) -> list[list[Contract] | Exception]:
    """Per supplier code its purchase contracts: one CLM call for all of them (see the module's docstring)."""
    if ctx.scope != "all":
        return [not_visible(f"the purchase contracts of supplier {code}") for code in codes]
    found = await each([ctx.loaders.contracts_by_supplier.load(code) for code in codes])
    return [f if isinstance(f, Exception) else [c for c in f if is_purchase(c)] for f in found]


def overrun(budget: Budget) -> Decimal:
    """What is committed and spent beyond the budget (0 within it)."""
    return max(ZERO, budget.committed + budget.spent - budget.amount)
