"""A customer's receivables and invoices, derived live from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry import Info

from resolvers import receivables as calc
from schema.enums import InvoiceStatus


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
    amount: Decimal | None
    paid_amount: Decimal | None
    status: InvoiceStatus

    @strawberry.field
    def open_amount(self) -> Decimal | None:
        return calc.open_amount(self)

    @strawberry.field
    def days_overdue(self, info: Info) -> int | None:
        return calc.days_overdue(self, info.context.today)


@strawberry.type
class Receivables:
    currency: str | None
    open_balance: Decimal | None
    overdue_balance: Decimal | None
    credit_limit: Decimal | None
    credit_used: Decimal | None = strawberry.field(
        description="Open receivables + confirmed, not yet invoiced orders."
    )
    credit_available: Decimal | None
    aging: Aging | None

    @strawberry.field
    def invoices(self, open_only: bool | None = True) -> list[Invoice] | None:
        return self.all_invoices if open_only is False else self.open_invoices
