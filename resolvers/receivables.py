"""A customer's receivables: balances, aging and credit, derived live from ERP data.

- open amount of an invoice = amount - paid, for OPEN and PARTIALLY_PAID invoices
  (negative for a credit note, which lowers the balance);
- open items: entries on the receivable that no invoice carries (a payment not matched to
  an invoice, negative; an opening balance, positive) count in the balance as they are;
- open balance = the open invoices + the open items (what the customer owes, gross);
- an invoice in another currency than the company's counts in the balances at its own
  rate: its amounts x company_amount / amount (open invoices and their figures stay in the
  invoice's currency);
- overdue = what is past due: of an invoice, its instalments due before today less what
  was paid (payments settle the earliest first), at most its open amount; of an open item,
  a positive amount whose due date is past. Credits are never overdue. Aging buckets by
  days past due the overdue part; the rest is `current`;
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from resolvers.batches import each, only
from resolvers.context import Context
from resolvers.money import ZERO, money, total
from resolvers.relations import OPEN_ORDER_STATUSES
from sources.records import Customer, Instalment, Invoice, InvoiceStatus, OpenItem, Order, Party

OPEN_INVOICE_STATUSES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID})


def open_amount(invoice: Invoice) -> Decimal:
    if invoice.status not in OPEN_INVOICE_STATUSES:
        return ZERO
    return money((invoice.amount or ZERO) - (invoice.paid_amount or ZERO))


def instalments_of(invoice: Invoice) -> list[Instalment]:
    return invoice.instalments or [Instalment(due_date=invoice.due_date, amount=invoice.amount or ZERO)]


def overdue_amount(invoice: Invoice, today: dt.date) -> Decimal:
    """The instalments due before today less what was paid, at most the open amount; 0 for credits."""
    open_ = open_amount(invoice)
    if open_ <= 0:
        return ZERO
    due = sum((i.amount for i in instalments_of(invoice) if i.due_date is not None and i.due_date < today), ZERO)
    return money(min(open_, max(ZERO, due - (invoice.paid_amount or ZERO))))


def days_overdue(invoice: Invoice, today: dt.date) -> int:
    """Days since the earliest open instalment fell due, while something is overdue."""
    if invoice.due_date is None or overdue_amount(invoice, today) <= 0:
        return 0
    return max(0, (today - invoice.due_date).days)


def item_overdue(item: OpenItem, today: dt.date) -> Decimal:
    return item.amount if item.amount > 0 and item.due_date is not None and item.due_date < today else ZERO


def item_days_overdue(item: OpenItem, today: dt.date) -> int:
    return (today - item.due_date).days if item_overdue(item, today) > 0 and item.due_date is not None else 0


@dataclass(frozen=True)
class Aging:
    current: Decimal
    d1to30: Decimal
    d31to60: Decimal
    d61to90: Decimal
    over90: Decimal


def in_company_currency(invoice: Invoice, value: Decimal) -> Decimal:
    """An amount of the invoice in the company's currency (the balances' currency)."""
    if invoice.company_amount is None or not invoice.amount:
        return value
    return money(value * invoice.company_amount / invoice.amount)


def open_on_basis(invoice: Invoice, basis: str) -> Decimal:
    """The open amount (gross) of an invoice, or its net share on the net basis; company currency."""
    amount = open_amount(invoice)
    if basis != "gross" and invoice.net_amount is not None and invoice.amount:
        amount = money(amount * invoice.net_amount / invoice.amount)
    return in_company_currency(invoice, amount)


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
    open_items: list[OpenItem] = field(default_factory=list)
    oldest_overdue_days: int = 0

    @property
    def over_limit_by(self) -> Decimal:
        if self.credit_limit is None:
            return ZERO
        return max(ZERO, self.credit_used - self.credit_limit)


def aging_of(open_invoices: list[Invoice], items: list[OpenItem], today: dt.date) -> Aging:
    """The overdue part of each invoice and item in its days-past-due bucket, the rest current."""
    buckets: dict[str, list[Decimal]] = {"current": [], "d1to30": [], "d31to60": [], "d61to90": [], "over90": []}
    parts = [
        (
            in_company_currency(i, open_amount(i)),
            in_company_currency(i, overdue_amount(i, today)),
            days_overdue(i, today),
        )
        for i in open_invoices
    ]
    parts += [(item.amount, item_overdue(item, today), item_days_overdue(item, today)) for item in items]
    for amount, overdue, days in parts:
        bucket = (
            "current"
            if days == 0
            else "d1to30"
            if days <= 30
            else "d31to60"
            if days <= 60
            else "d61to90"
            if days <= 90
            else "over90"
        )
        buckets[bucket].append(overdue)
        buckets["current"].append(amount - overdue)
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
    invoices: list[Invoice],
    orders: list[Order],
    credit_limit: Decimal | None,
    currency: str | None,
    today: dt.date,
    basis: str = "gross",
    items: Sequence[OpenItem] = (),
) -> Receivables:
    items = [item for item in items if item.amount != 0]
    open_invoices = [invoice for invoice in invoices if open_amount(invoice) != 0]
    items_total = total(item.amount for item in items)
    open_balance = money(total(in_company_currency(i, open_amount(i)) for i in open_invoices) + items_total)
    overdue = money(
        total(in_company_currency(i, overdue_amount(i, today)) for i in open_invoices)
        + total(item_overdue(item, today) for item in items)
    )
    orders_exposure = uninvoiced_exposure(orders, basis)
    used = money(total(open_on_basis(invoice, basis) for invoice in open_invoices) + items_total + orders_exposure)
    oldest = max(
        [days_overdue(i, today) for i in open_invoices] + [item_days_overdue(i, today) for i in items], default=0
    )
    return Receivables(
        currency=currency,
        open_balance=open_balance,
        overdue_balance=overdue,
        credit_limit=credit_limit,
        credit_used=used,
        credit_available=None if credit_limit is None else money(credit_limit - used),
        aging=aging_of(open_invoices, items, today),
        all_invoices=invoices,
        open_invoices=sorted(open_invoices, key=lambda invoice: (invoice.due_date or today, invoice.number)),
        credit_basis=basis.upper(),
        uninvoiced_orders=orders_exposure,
        open_items=sorted(items, key=lambda item: (item.date or today, item.id)),
        oldest_overdue_days=oldest,
    )


async def receivables_of_customers(ctx: Context, customers: Sequence[Customer]) -> list[Receivables | None | Exception]:
    """Per customer its receivables (None without an account in the ERP), or the exception that
    cost them: the party, invoices, orders and open items of all the customers in one batch each."""
    codes = [customer.refs.erp for customer in customers]
    found: dict[str, Receivables | None | Exception] = {}
    for code in codes:  # summarised already in this request (alerts and risk ask after the field)
        if code and (summary := ctx.derived.get(("receivables", code))) is not None:
            found[code] = summary
    accounts = [code for code in dict.fromkeys(codes) if code and code not in found]
    if accounts:
        await _summarise_accounts(ctx, accounts, found)
    return [found[code] if code else None for code in codes]


async def _summarise_accounts(
    ctx: Context, accounts: list[str], found: dict[str, Receivables | None | Exception]
) -> None:
    loaders = ctx.loaders
    parties, invoices, orders, items = await asyncio.gather(
        each([loaders.party_by_code.load(code) for code in accounts]),
        each([loaders.invoices_by_party.load(code) for code in accounts]),
        each([loaders.orders_by_party.load(code) for code in accounts]),
        each([loaders.open_items_by_party.load(code) for code in accounts]),
    )
    for code, *loaded in zip(accounts, parties, invoices, orders, items, strict=True):
        failed = next((value for value in loaded if isinstance(value, Exception)), None)
        found[code] = failed if failed is not None else _summary_of(ctx, code, *loaded)


def _summary_of(
    ctx: Context, code: str, party: Party | None, invoices: list[Invoice], orders: list[Order], items: list[OpenItem]
) -> Receivables | None:
    """The party's receivables, summarised once per request (risk, alerts and the field share it)."""
    if party is None:
        return None
    key = ("receivables", code)
    summary = ctx.derived.get(key)
    if summary is None:
        summary = ctx.derived[key] = summarise(
            invoices, orders, party.credit_limit, party.currency, ctx.today, ctx.credit_basis, items
        )
    return summary


async def receivables_of_customer(ctx: Context, customer: Customer) -> Receivables | None:
    """None when the customer has no account in the ERP."""
    return only(await receivables_of_customers(ctx, [customer]))
