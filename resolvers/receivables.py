"""A customer's receivables: balances, aging and credit, derived live from ERP data.

- open amount of an invoice = amount - paid, for OPEN and PARTIALLY_PAID invoices;
- overdue = open with a due date before today; aging buckets by days past due
  (not yet due is `current`);
- credit used = open receivables + the not yet invoiced part of confirmed,
  processing and shipped orders (what the customer owes or will owe), both on one
  basis: gross by default (the credit limit is what the customer may owe, tax
  included), or both net (`credit_basis = "net"`). Invoices are gross and orders net in
  every ERP, so the gateway puts them on the basis itself: an order's uninvoiced gross is
  (total + tax) - (invoiced + tax on the invoiced part); an open invoice's net is its open
  amount x net / gross. (Tryton's own `credit_amount` adds gross receivables to net
  orders; see docs/tryton.md.)
- credit available = limit - used (negative when over the limit).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sources.records import Customer, Invoice, InvoiceStatus, Order

from resolvers.context import Context
from resolvers.money import ZERO, money, total
from resolvers.relations import OPEN_ORDER_STATUSES

OPEN_INVOICE_STATUSES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID})
CREDIT_BASES = ("gross", "net")


def open_amount(invoice: Invoice) -> Decimal:
    if invoice.status not in OPEN_INVOICE_STATUSES:
        return ZERO
    return money((invoice.amount or ZERO) - (invoice.paid_amount or ZERO))


def days_overdue(invoice: Invoice, today: dt.date) -> int:
    if invoice.due_date is None or open_amount(invoice) <= 0:
        return 0
    return max(0, (today - invoice.due_date).days)


@dataclass(frozen=True)
class Aging:
    current: Decimal
    d1to30: Decimal
    d31to60: Decimal
    d61to90: Decimal
    over90: Decimal


def open_on_basis(invoice: Invoice, basis: str) -> Decimal:
    """The open amount (gross) of an invoice, or its net share on the net basis."""
    amount = open_amount(invoice)
    if basis == "gross" or invoice.net_amount is None or not invoice.amount:
        return amount
    return money(amount * invoice.net_amount / invoice.amount)


@dataclass(frozen=True)
class Receivables:
    currency: str | None
    open_balance: Decimal
    overdue_balance: Decimal
    credit_limit: Decimal | None
    credit_used: Decimal
    credit_available: Decimal | None
    aging: Aging
    all_invoices: list[Invoice]
    open_invoices: list[Invoice]
    credit_basis: str = "GROSS"
    uninvoiced_orders: Decimal = ZERO

    @property
    def over_limit_by(self) -> Decimal:
        if self.credit_limit is None:
            return ZERO
        return max(ZERO, self.credit_used - self.credit_limit)


def aging_of(open_invoices: list[Invoice], today: dt.date) -> Aging:
    buckets = {"current": [], "d1to30": [], "d31to60": [], "d61to90": [], "over90": []}
    for invoice in open_invoices:
        days = days_overdue(invoice, today)
        bucket = "current" if days == 0 else "d1to30" if days <= 30 else "d31to60" if days <= 60 else "d61to90" if days <= 90 else "over90"
        buckets[bucket].append(open_amount(invoice))
    return Aging(**{name: total(values) for name, values in buckets.items()})


def uninvoiced(order: Order, basis: str) -> Decimal:
    """The part of an order not yet invoiced, net or gross (an ERP without tax figures: net)."""
    not_invoiced = (order.total or ZERO) - (order.invoiced_amount or ZERO)
    if basis == "gross":
        not_invoiced += (order.tax_amount or ZERO) - (order.invoiced_tax_amount or ZERO)
    return max(ZERO, money(not_invoiced))


def uninvoiced_exposure(orders: list[Order], basis: str = "gross") -> Decimal:
    """The part of open orders not yet invoiced: credit the customer will use."""
    return total(uninvoiced(order, basis) for order in orders if order.status in OPEN_ORDER_STATUSES)


def summarise(
    invoices: list[Invoice], orders: list[Order], credit_limit: Decimal | None, currency: str | None, today: dt.date,
    basis: str = "gross",
) -> Receivables:
    open_invoices = [invoice for invoice in invoices if open_amount(invoice) > 0]
    open_balance = total(open_amount(invoice) for invoice in open_invoices)
    overdue = total(open_amount(invoice) for invoice in open_invoices if days_overdue(invoice, today) > 0)
    orders_exposure = uninvoiced_exposure(orders, basis)
    used = money(total(open_on_basis(invoice, basis) for invoice in open_invoices) + orders_exposure)
    return Receivables(
        currency=currency,
        open_balance=open_balance,
        overdue_balance=overdue,
        credit_limit=credit_limit,
        credit_used=used,
        credit_available=None if credit_limit is None else money(credit_limit - used),
        aging=aging_of(open_invoices, today),
        all_invoices=invoices,
        open_invoices=sorted(open_invoices, key=lambda invoice: (invoice.due_date or today, invoice.number)),
        credit_basis=basis.upper(),
        uninvoiced_orders=orders_exposure,
    )


async def receivables_of_party(ctx: Context, party_code: str) -> Receivables | None:
    party, invoices, orders = await asyncio.gather(
        ctx.loaders.party_by_code.load(party_code),
        ctx.loaders.invoices_by_party.load(party_code),
        ctx.loaders.orders_by_party.load(party_code),
    )
    if party is None:
        return None
    key = ("receivables", party_code)
    summary = ctx.derived.get(key)
    if summary is None:
        summary = ctx.derived[key] = summarise(invoices, orders, party.credit_limit, party.currency, ctx.today,
                                                    ctx.credit_basis)
    return summary


async def receivables_of_customer(ctx: Context, customer: Customer) -> Receivables | None:
    """None when the customer has no account in the ERP."""
    if not customer.refs.erp:
        return None
    return await receivables_of_party(ctx, customer.refs.erp)
