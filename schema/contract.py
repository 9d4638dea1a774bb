"""Contracts from the CLM, with their fulfilment derived live from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info

from resolvers import relations
from resolvers.fulfilment import fulfilment_of_contract, fulfilments_of_contracts
from schema.batched import batched
from schema.derived import derived_from
from schema.enums import ContractKind, ContractStatus
from schema.order import prefetched

if TYPE_CHECKING:  # the lazy references below, for the type checker; strawberry resolves them at build time
    from schema.customer import Customer
    from schema.order import SalesOrder
    from schema.receivable import Invoice
    from schema.ticket import ServiceTicket

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customer")]
SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.receivable")]
TicketRef = Annotated["ServiceTicket", strawberry.lazy("schema.ticket")]


@strawberry.type
class Milestone:
    id: strawberry.ID
    name: str
    due_date: dt.date | None
    done_at: dt.date | None

    @strawberry.field(description="DONE, PENDING, or LATE when pending past its due date.")
    def status(self, info: Info) -> str:
        if self.done_at is None and self.due_date is not None and self.due_date < info.context.today:
            return "LATE"
        return self.status


# Invoiced and paid figures are the contract's invoices summed: denied with them.
FROM_INVOICES = derived_from("Contract.invoices", "SalesOrder.invoices")


@strawberry.type(
    description="How far a contract is fulfilled. Figures computed from restricted ones are denied to callers "
    "who may not read those (invoiced and paid from the invoices, progress from the contract amount)."
)
class Fulfilment:
    ordered_amount: Decimal | None = strawberry.field(description="Net: the orders' totals before tax.")
    shipped_amount: Decimal | None = strawberry.field(description="Net: shipped quantities x unit prices.")
    invoiced_amount: Decimal | None = strawberry.field(
        description="Net: the invoiced part before tax.", metadata=FROM_INVOICES
    )
    paid_amount: Decimal | None = strawberry.field(
        description="Net: the paid share of the invoiced part.", metadata=FROM_INVOICES
    )
    progress: float | None = strawberry.field(
        description="shippedAmount / the contract's amount (/ orderedAmount when it has none), at most 1.",
        metadata=derived_from("Contract.amount"),
    )
    ordered_tax: Decimal | None = strawberry.field(description="Tax on the ordered amount.")
    ordered_gross: Decimal | None = strawberry.field(description="Gross: orderedAmount + orderedTax.")
    invoiced_tax: Decimal | None = strawberry.field(description="Tax on the invoiced amount.", metadata=FROM_INVOICES)
    invoiced_gross: Decimal | None = strawberry.field(
        description="Gross: invoicedAmount + invoicedTax, as the invoices and receivables show it.",
        metadata=FROM_INVOICES,
    )
    paid_tax: Decimal | None = strawberry.field(description="Tax on the paid amount.", metadata=FROM_INVOICES)
    paid_gross: Decimal | None = strawberry.field(
        description="Gross: paidAmount + paidTax, the money received.", metadata=FROM_INVOICES
    )
    currency: str | None = strawberry.field(description="The currency of every amount here.")


@strawberry.federation.type(keys=["id"])
class Contract:
    id: strawberry.ID
    number: str
    title: str
    kind: ContractKind
    status: ContractStatus
    signed_at: dt.date | None
    start_date: dt.date | None
    end_date: dt.date | None
    amount: Decimal | None
    currency: str | None
    payment_terms: str | None
    milestones: list[Milestone] | None

    @strawberry.field
    async def customer(self, info: Info) -> CustomerRef | None:
        return await relations.visible_customer_of_contract(info.context, self)

    @strawberry.field
    async def orders(self, info: Info) -> list[SalesOrderRef] | None:
        return prefetched(info, await relations.orders_of_contract(info.context, self))

    @strawberry.field
    async def invoices(self, info: Info) -> list[InvoiceRef] | None:
        return await relations.invoices_of_contract(info.context, self)

    @strawberry.field
    async def tickets(self, info: Info) -> list[TicketRef] | None:
        return await relations.tickets_of_contract(info.context, self)

    @strawberry.field(
        description="Derived live from ERP orders, shipments, invoices and payments.",
        metadata=batched(lambda contracts, info: fulfilments_of_contracts(info.context, contracts)),
    )
    async def fulfilment(self, info: Info) -> Fulfilment | None:
        return await fulfilment_of_contract(info.context, self)
