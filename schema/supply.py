"""The supply side: suppliers, purchase orders, receipts and invoices (SRM); production orders and
quality records (MES); a sales order's delivery risk; a purchase contract's reconciliation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers import lookups, procurement
from resolvers.batches import each, one
from resolvers.delivery import delivery_risks
from resolvers.money import ZERO, money
from resolvers.supply_dates import report
from schema.batched import batched
from schema.derived import derived_from
from schema.enums import SourceName

if TYPE_CHECKING:
    from schema.contract import Contract
    from schema.order import SalesOrder
    from schema.product import Product

ProductRef = Annotated["Product", strawberry.lazy("schema.product")]
ContractRef = Annotated["Contract", strawberry.lazy("schema.contract")]
SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]


@strawberry.type(description="A supplier's record from its own receipts (SRM).")
class SupplierRating:
    receipts: int
    on_time_receipts: int
    received_quantity: Decimal
    accepted_quantity: Decimal
    on_time_rate: Decimal | None = strawberry.field(
        description="Receipts on or before the date their order line was placed for, over all receipts (0..1)."
    )
    acceptance_rate: Decimal | None = strawberry.field(
        description="Accepted over received quantity at incoming inspection (0..1)."
    )


def ratings_of(suppliers: list[Any], info: Info) -> Any:
    return procurement.ratings(info.context, [s.code for s in suppliers])


def supplier_orders_of(suppliers: list[Any], info: Info, open_only: bool = False) -> Any:
    async def load() -> list[Any]:
        found = await each([info.context.loaders.purchase_orders_by_supplier.load(s.code) for s in suppliers])
        return [
            f if isinstance(f, Exception) else [o for o in f if not open_only or o.status in OPEN_PO] for f in found
        ]

    return load()


OPEN_PO = frozenset({"OPEN", "PARTIALLY_RECEIVED"})


def purchase_contracts_of(suppliers: list[Any], info: Info) -> Any:
    return procurement.purchase_contracts_of_suppliers(info.context, [s.code for s in suppliers])


@strawberry.type(description="A supplier (SRM); its code is its party code in the ERP.")
class Supplier:
    code: strawberry.ID
    name: str
    tax_id: str | None
    payment_terms: str | None

    @strawberry.field(metadata=batched(ratings_of))
    async def rating(self, info: Info) -> SupplierRating | None:
        return await one(ratings_of, self, info)

    @strawberry.field(description="Its purchase orders, oldest first.", metadata=batched(supplier_orders_of))
    async def purchase_orders(self, info: Info, open_only: bool = False) -> list[PurchaseOrder] | None:
        return await one(supplier_orders_of, self, info, open_only=open_only)

    @strawberry.field(
        description="The purchase contracts (CLM) naming it, by id. They belong to no customer: for callers who "
        "see every customer; FORBIDDEN for sellers.",
        metadata=batched(purchase_contracts_of),
    )
    async def purchase_contracts(self, info: Info) -> list[ContractRef] | None:
        return await one(purchase_contracts_of, self, info)


@strawberry.type(description="A supplier's offer for a product: price, lead time, whether it is the usual source.")
class ProductSupplier:
    unit_price: Decimal | None = strawberry.field(description="Net, per unit.")
    lead_time_days: int | None
    preferred: bool

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier | None:
        return await info.context.loaders.supplier_by_code.load(self.supplier_code)


@strawberry.type
class PurchaseOrderLine:
    line_no: int
    sku: strawberry.ID
    warehouse: strawberry.ID | None
    quantity: Decimal
    unit_price: Decimal | None = strawberry.field(description="Net, per unit.")
    promised_date: dt.date | None = strawberry.field(description="The date the line was placed for.")
    confirmed_date: dt.date | None = strawberry.field(
        description="The supplier's latest confirmed date; null while it has not confirmed."
    )
    received_quantity: Decimal

    @strawberry.field(description="Net: quantity x unit price.")
    def amount(self) -> Decimal | None:
        return None if self.unit_price is None else money(self.quantity * self.unit_price)

    @strawberry.field(description="Ordered less received.")
    def open_quantity(self) -> Decimal:
        return max(ZERO, self.quantity - self.received_quantity)

    @strawberry.field(
        description="Days the supplier's latest confirmation is after the promised date (0 when not later); "
        "null while unconfirmed."
    )
    def delay_days(self) -> int | None:
        if self.confirmed_date is None or self.promised_date is None:
            return None
        return max(0, (self.confirmed_date - self.promised_date).days)

    @strawberry.field
    def product(self, info: Info) -> ProductRef | None:
        return info.context.loaders.product_by_sku.load_now(self.sku)


@strawberry.type(description="Incoming inspection of a receipt.")
class Inspection:
    accepted_quantity: Decimal
    rejected_quantity: Decimal
    defect_codes: list[str]

    @strawberry.field(description="PASS, PARTIAL (some rejected) or FAIL (nothing accepted).")
    def result(self) -> str:
        if not self.rejected_quantity:
            return "PASS"
        return "FAIL" if not self.accepted_quantity else "PARTIAL"


@strawberry.type(description="Goods received against a purchase-order line (SRM), with their inspection.")
class Receipt:
    id: strawberry.ID
    po_number: str
    line_no: int
    sku: strawberry.ID
    received_at: dt.date
    quantity: Decimal

    @strawberry.field
    def inspection(self) -> Inspection:
        return self  # the receipt carries its inspection's fields


@strawberry.type
class SupplierPayment:
    id: strawberry.ID
    paid_at: dt.date | None
    amount: Decimal | None


@strawberry.type(description="A supplier's invoice for a purchase order (SRM); amounts net.")
class SupplierInvoice:
    id: strawberry.ID
    number: str
    po_number: str | None
    issued_at: dt.date | None
    due_date: dt.date | None
    amount: Decimal | None
    status: str

    @strawberry.field
    async def payments(self, info: Info) -> list[SupplierPayment] | None:
        return await info.context.loaders.supplier_payments_by_invoice.load(self.id)


@strawberry.type(description="A purchase order (SRM) with its lines.")
class PurchaseOrder:
    number: strawberry.ID
    status: str
    ordered_at: dt.date | None
    currency: str | None
    contract_number: str | None
    lines: list[PurchaseOrderLine]

    @strawberry.field(description="Net: the lines' amounts.")
    def total(self) -> Decimal | None:
        return procurement.order_value(self)

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier | None:
        return await info.context.loaders.supplier_by_code.load(self.supplier_code)

    @strawberry.field
    async def receipts(self, info: Info) -> list[Receipt] | None:
        return await info.context.loaders.goods_receipts_by_po.load(self.number)

    @strawberry.field
    async def invoices(self, info: Info) -> list[SupplierInvoice] | None:
        return await info.context.loaders.supplier_invoices_by_po.load(self.number)


@strawberry.type
class ProductionOperation:
    seq: int
    name: str
    work_center: str | None
    status: str
    progress: Decimal = strawberry.field(description="0..1")


@strawberry.type(description="A production order (MES); make-to-order ones name their sales order.")
class ProductionOrder:
    id: strawberry.ID
    sku: strawberry.ID
    warehouse: strawberry.ID | None
    quantity: Decimal
    status: str
    due_date: dt.date | None = strawberry.field(description="When the ERP expects its output.")
    planned_start: dt.date | None
    planned_end: dt.date | None
    finished_at: dt.date | None
    operations: list[ProductionOperation]

    @strawberry.field(description="The operations' mean progress (0..1).")
    def progress(self) -> Decimal:
        steps = self.operations
        if not steps:
            return ZERO
        return (sum((op.progress for op in steps), ZERO) / len(steps)).quantize(Decimal("0.01"))

    @strawberry.field(description="Days the planned end is after the due date (0 when not later).")
    def delay_days(self) -> int | None:
        if self.planned_end is None or self.due_date is None:
            return None
        return max(0, (self.planned_end - self.due_date).days)

    @strawberry.field
    def product(self, info: Info) -> ProductRef | None:
        return info.context.loaders.product_by_sku.load_now(self.sku)

    @strawberry.field(description="The sales order it is made for (make-to-order); row-level rules apply.")
    async def sales_order(self, info: Info) -> SalesOrderRef | None:
        order_id = self.sales_order_id
        return await lookups.order_by_id(info.context, order_id) if order_id else None


@strawberry.type(description="An inspection record (MES): incoming, in-process or final, tied to a lot.")
class QualityRecord:
    id: strawberry.ID
    kind: str
    lot_id: str | None
    production_order_id: str | None
    sku: strawberry.ID | None
    inspected_at: dt.date | None
    result: str
    defects: list[str]
    disposition: str | None


@strawberry.type
class DeliveryRiskCause:
    kind: str = strawberry.field(description="SUPPLIER_DELAY, PRODUCTION_LATE or SHORTAGE.")
    sku: strawberry.ID
    reference: str | None = strawberry.field(description="The purchase-order line or production order concerned.")
    delay_days: int | None
    message: str


@strawberry.type(description="When an open order can be delivered, and why later than promised.")
class DeliveryRisk:
    promised_date: dt.date | None
    projected_date: dt.date | None = strawberry.field(
        description="When every open line is covered, on receipt dates from the SRM and MES; null: never, on what "
        "is on the books."
    )
    days_late: int | None
    at_risk: bool
    causes: list[DeliveryRiskCause]


# What the buying side paid and was billed: computed from supplier prices, invoices and payments, so
# denied with them (a bi_reader sees which mismatches there are, not their amounts).
BOUGHT = derived_from("PurchaseOrderLine.unitPrice", "SupplierInvoice.amount", "SupplierPayment.amount")


@strawberry.type
class ReconciliationMismatch:
    kind: str = strawberry.field(
        description="INVOICED_MORE_THAN_RECEIVED, RECEIVED_NOT_INVOICED, PAID_MORE_THAN_INVOICED, "
        "PAID_LESS_THAN_INVOICED, CONTRACT_EXCEEDED, ORDER_OUTSIDE_CONTRACT_PERIOD or OTHER_SUPPLIER: of two amounts "
        "it tells which is larger, never by how much."
    )
    reference: str = strawberry.field(description="The purchase order, supplier invoice or contract concerned.")
    expected: Decimal | None = strawberry.field(metadata=BOUGHT)
    actual: Decimal | None = strawberry.field(metadata=BOUGHT)
    message: str | None = strawberry.field(description="Names the amounts.", metadata=BOUGHT)


@strawberry.type(description="A purchase contract against its orders, receipts, invoices and payments (net).")
class PurchaseReconciliation:
    contract_amount: Decimal | None = strawberry.field(description="The contract's own amount (Contract.amount).")
    ordered_amount: Decimal | None = strawberry.field(metadata=derived_from("PurchaseOrderLine.unitPrice"))
    received_amount: Decimal | None = strawberry.field(
        description="Accepted quantity x order price.", metadata=derived_from("PurchaseOrderLine.unitPrice")
    )
    invoiced_amount: Decimal | None = strawberry.field(metadata=derived_from("SupplierInvoice.amount"))
    paid_amount: Decimal | None = strawberry.field(metadata=derived_from("SupplierPayment.amount"))
    balanced: bool
    mismatches: list[ReconciliationMismatch]


@strawberry.type(description="A purchasing category's budget for the year (SRM).")
class Budget:
    category: str
    year: int
    amount: Decimal
    committed: Decimal = strawberry.field(description="Open purchase-order lines' value.")
    spent: Decimal = strawberry.field(description="Accepted receipts' value this year.")

    @strawberry.field(description="committed + spent - amount, when positive.")
    def overrun(self) -> Decimal:
        return procurement.overrun(self)


@strawberry.type(description="A planned movement ATP counts, dated by the system that knows best.")
class PlannedReceipt:
    id: strawberry.ID
    kind: str
    expected_date: dt.date
    quantity: Decimal
    document: str | None = strawberry.field(description="The purchase-order line (SRM) or production order (MES).")
    erp_date: dt.date | None = strawberry.field(description="The ERP's own date, when another system re-dated it.")

    @strawberry.field(description="The system `expectedDate` comes from.")
    def date_source(self) -> SourceName:
        return SourceName(self.date_source)


# --- batch resolvers of the fields other types gain -------------------------------------------


def suppliers_of_products(products: list[Any], info: Info) -> Any:
    return each([info.context.loaders.supplier_items_by_sku.load(p.sku) for p in products])


def open_orders_of_products(products: list[Any], info: Info) -> Any:
    return each([info.context.loaders.open_purchase_orders_by_sku.load(p.sku) for p in products])


def production_of_orders(orders: list[Any], info: Info) -> Any:
    return each([info.context.loaders.production_by_sales_order.load(o.id) for o in orders])


def quality_of_orders(orders: list[Any], info: Info) -> Any:
    return each([info.context.loaders.quality_by_sales_order.load(o.id) for o in orders])


def risks_of_orders(orders: list[Any], info: Info) -> Any:
    async def load() -> list[Any]:
        risks, failures = await delivery_risks(info.context, orders)
        report(info.context, info.path, failures)
        return risks

    return load()


@strawberry.type(description="Stock with no issue for the asked number of days (ERP movement history).")
class SlowMovingStock:
    sku: strawberry.ID
    warehouse: strawberry.ID
    on_hand: Decimal
    unit_cost: Decimal | None = strawberry.field(
        description="Standard cost.", metadata=derived_from("Product.standardCost")
    )
    value: Decimal | None = strawberry.field(
        description="onHand x standard cost.", metadata=derived_from("Product.standardCost")
    )
    last_issue_date: dt.date | None = strawberry.field(description="Null: no issue in the ERP's history.")
    days_without_issue: int | None

    @strawberry.field
    def product(self, info: Info) -> ProductRef | None:
        return info.context.loaders.product_by_sku.load_now(self.sku)
