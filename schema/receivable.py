"""A customer's receivables and invoices, derived live from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers import receivables as calc
from resolvers import worklists
from resolvers.batches import one
from schema.batched import batched
from schema.enums import InvoiceStatus

if TYPE_CHECKING:  # the lazy reference below, for the type checker; strawberry resolves it at build time
    from schema.customer import Customer

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customer")]


def customers_of(invoices: list[Any], info: Info) -> Any:
    return worklists.customers_of_invoices(info.context, invoices)


@strawberry.type
class Aging:
    current: Decimal | None
    d1to30: Decimal | None
    d31to60: Decimal | None
    d61to90: Decimal | None
    over90: Decimal | None


@strawberry.type
class Invoice:
    id: strawberry.ID
    number: str
    issued_at: dt.date | None
    due_date: dt.date | None
    amount: Decimal | None = strawberry.field(description="Gross: what the customer is billed, tax included.")
    paid_amount: Decimal | None = strawberry.field(description="Paid so far, of the gross amount.")
    status: InvoiceStatus
    net_amount: Decimal | None = strawberry.field(description="Net: before tax.")
    tax_amount: Decimal | None = strawberry.field(description="Tax: grossAmount - netAmount.")
    currency: str | None

    @strawberry.field(description="Gross: netAmount + taxAmount (the same as `amount`).")
    def gross_amount(self) -> Decimal | None:
        return self.amount

    @strawberry.field(description="Gross, still owed: amount - paidAmount while open.")
    def open_amount(self) -> Decimal | None:
        return calc.open_amount(self)

    @strawberry.field
    def days_overdue(self, info: Info) -> int | None:
        return calc.days_overdue(self, info.context.today)

    @strawberry.field(description="The customer billed, if the caller may see it.", metadata=batched(customers_of))
    async def customer(self, info: Info) -> CustomerRef | None:
        return await one(customers_of, self, info)


@strawberry.type(
    description="An entry on the receivable that no invoice carries: a payment not matched to an invoice "
    "(negative), an opening balance carried over (positive)."
)
class OpenItem:
    id: strawberry.ID
    date: dt.date | None
    due_date: dt.date | None
    amount: Decimal = strawberry.field(description="Gross, signed: + the customer owes more, - less.")
    description: str | None
    currency: str | None

    @strawberry.field
    def days_overdue(self, info: Info) -> int | None:
        return calc.item_days_overdue(self, info.context.today)


@strawberry.type
class Receivables:
    currency: str | None
    open_balance: Decimal | None = strawberry.field(
        description="Gross: what the customer owes: open invoices, less open credit notes, + open items."
    )
    overdue_balance: Decimal | None = strawberry.field(
        description="Gross: what is past due: invoices' instalments due before today less payments, and past-due open items."
    )
    credit_limit: Decimal | None
    credit_used: Decimal | None = strawberry.field(
        description="Open receivables + confirmed, not yet invoiced orders, both on `creditBasis` (gross by default)."
    )
    credit_basis: str | None = strawberry.field(
        description="GROSS (tax included, like the credit limit; the default) or NET: the basis of creditUsed."
    )
    uninvoiced_orders: Decimal | None = strawberry.field(
        description="The not yet invoiced part of confirmed, processing and shipped orders, on `creditBasis`."
    )
    credit_available: Decimal | None
    aging: Aging | None

    @strawberry.field(description="Open entries without an invoice, oldest first.")
    def open_items(self) -> list[OpenItem] | None:
        return self.open_items

    @strawberry.field
    def invoices(self, open_only: bool | None = True) -> list[Invoice] | None:
        return self.all_invoices if open_only is False else self.open_invoices
