"""Contracts from the CLM, with their fulfilment derived live from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info

from resolvers import procurement as purchasing
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
    from schema.supply import (
        PurchaseOrder,
        PurchaseReconciliation,
        Receipt,
        Supplier,
        SupplierInvoice,
        SupplierPayment,
    )
    from schema.ticket import ServiceTicket

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customer")]
SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.receivable")]
TicketRef = Annotated["ServiceTicket", strawberry.lazy("schema.ticket")]
SupplierRef = Annotated["Supplier", strawberry.lazy("schema.supply")]
PurchaseOrderRef = Annotated["PurchaseOrder", strawberry.lazy("schema.supply")]
ReceiptRef = Annotated["Receipt", strawberry.lazy("schema.supply")]
SupplierInvoiceRef = Annotated["SupplierInvoice", strawberry.lazy("schema.supply")]
SupplierPaymentRef = Annotated["SupplierPayment", strawberry.lazy("schema.supply")]
PurchaseReconciliationRef = Annotated["PurchaseReconciliation", strawberry.lazy("schema.supply")]


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

    # --- the buying side: a purchase contract's supplier, orders and reconciliation (SRM) ---

    @strawberry.field(description="A purchase contract's supplier (SRM); null for other contracts.")
    async def supplier(self, info: Info) -> SupplierRef | None:
        code = self.supplier_code
        return await info.context.loaders.supplier_by_code.load(code) if code else None

    @strawberry.field(description="A purchase contract's purchase orders (SRM), oldest first.")
    async def purchase_orders(self, info: Info) -> list[PurchaseOrderRef] | None:
        return await purchasing.purchase_orders_of_contract(info.context, self)

    @strawberry.field(description="What was received against a purchase contract's orders, with inspection.")
    async def purchase_receipts(self, info: Info) -> list[ReceiptRef] | None:
        file = await purchasing.file_of_contract(info.context, self)
        return [r for found in file.receipts.values() for r in found] if file else []

    @strawberry.field(description="The supplier's invoices for a purchase contract's orders (net).")
    async def supplier_invoices(self, info: Info) -> list[SupplierInvoiceRef] | None:
        file = await purchasing.file_of_contract(info.context, self)
        return [i for found in file.invoices.values() for i in found] if file else []

    @strawberry.field(description="The payments of those invoices.")
    async def supplier_payments(self, info: Info) -> list[SupplierPaymentRef] | None:
        file = await purchasing.file_of_contract(info.context, self)
        return [p for found in file.payments.values() for p in found] if file else []

    @strawberry.field(
        description="A purchase contract reconciled with its orders, receipts, invoices and payments: every "
        "mismatch listed. Null for other contracts."
    )
    async def purchase_reconciliation(self, info: Info) -> PurchaseReconciliationRef | None:
        return await purchasing.reconciliation_of_contract(info.context, self)
