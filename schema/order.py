"""Sales orders and their lines, from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers import relations
from resolvers.alerts import supply_alerts
from resolvers.batches import at_once, one
from resolvers.money import money
from schema.batched import batched
from schema.derived import derived_from
from schema.enums import OrderStatus
from schema.lookahead import selects
from schema.supply import production_of_orders, quality_of_orders, risks_of_orders

if TYPE_CHECKING:  # the lazy references below, for the type checker; strawberry resolves them at build time
    from schema.contract import Contract
    from schema.customer import Alert, Customer
    from schema.product import Product
    from schema.receivable import Invoice
    from schema.supply import DeliveryRisk, ProductionOrder, QualityRecord

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customer")]
ContractRef = Annotated["Contract", strawberry.lazy("schema.contract")]
ProductRef = Annotated["Product", strawberry.lazy("schema.product")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.receivable")]
AlertRef = Annotated["Alert", strawberry.lazy("schema.customer")]
DeliveryRiskRef = Annotated["DeliveryRisk", strawberry.lazy("schema.supply")]
ProductionOrderRef = Annotated["ProductionOrder", strawberry.lazy("schema.supply")]
QualityRecordRef = Annotated["QualityRecord", strawberry.lazy("schema.supply")]


@strawberry.type
class OrderLine:
    sku: strawberry.ID
    quantity: Decimal
    shipped_quantity: Decimal | None
    unit_price: Decimal | None = strawberry.field(description="Net, per unit.")
    amount: Decimal | None = strawberry.field(description="Net: quantity x unit price, before tax.")
    unit_cost: Decimal | None = strawberry.field(
        description="The product's cost when the order was placed.", metadata=derived_from("Product.standardCost")
    )
    tax_amount: Decimal | None = strawberry.field(description="Tax on this line, as the ERP charges it.")

    @strawberry.field(description="Net: the same as `amount`.")
    def net_amount(self) -> Decimal | None:
        return self.amount

    @strawberry.field(description="Gross: netAmount + taxAmount.")
    def gross_amount(self) -> Decimal | None:
        return plus(self.amount, self.tax_amount)

    @strawberry.field(metadata=batched(lambda lines, info: products_of(info, [line.sku for line in lines])))
    def product(self, info: Info) -> ProductRef | None:
        return info.context.loaders.product_by_sku.load_now(self.sku)

    @strawberry.field(description="amount - unit cost x quantity.", metadata=derived_from("OrderLine.unitCost"))
    def margin(self) -> Decimal | None:
        if self.amount is None or self.unit_cost is None:
            return None
        return money(self.amount - self.unit_cost * self.quantity)


@strawberry.federation.type(keys=["id"])
class SalesOrder:
    id: strawberry.ID
    number: str
    status: OrderStatus
    ordered_at: dt.datetime | None
    promised_date: dt.date | None
    total: Decimal | None = strawberry.field(description="Net: the sum of the lines' amounts, before tax.")
    currency: str | None = strawberry.field(description="The currency of every amount of the order.")
    lines: list[OrderLine] | None

    @strawberry.field(description="Net: the same as `total`.")
    def total_net(self) -> Decimal | None:
        return self.total

    @strawberry.field(description="Tax on the order, as the ERP charges it.")
    def total_tax(self) -> Decimal | None:
        return self.tax_amount

    @strawberry.field(description="Gross: totalNet + totalTax, what the customer pays.")
    def total_gross(self) -> Decimal | None:
        return plus(self.total, self.tax_amount)

    @strawberry.field
    async def customer(self, info: Info) -> CustomerRef | None:
        return await relations.visible_customer_of_order(info.context, self)

    @strawberry.field
    async def contract(self, info: Info) -> ContractRef | None:
        return await relations.contract_of_number(info.context, self.contract_number)

    @strawberry.field
    async def invoices(self, info: Info) -> list[InvoiceRef] | None:
        return await relations.invoices_of_orders(info.context, self.party_code, {self.id})

    @strawberry.field(
        description="Its make-to-order production orders (MES), with operations and progress.",
        metadata=batched(production_of_orders),
    )
    async def production(self, info: Info) -> list[ProductionOrderRef] | None:
        return await one(production_of_orders, self, info)

    @strawberry.field(
        description="Quality records (MES) of the lots shipped on it and of its make-to-order production.",
        metadata=batched(quality_of_orders),
    )
    async def quality_records(self, info: Info) -> list[QualityRecordRef] | None:
        return await one(quality_of_orders, self, info)

    @strawberry.field(
        description="For an open order: when it can be delivered, on receipt dates from the SRM and MES, and why "
        "later than promised. Null for orders no longer open.",
        metadata=batched(risks_of_orders),
    )
    async def delivery_risk(self, info: Info) -> DeliveryRiskRef | None:
        return await one(risks_of_orders, self, info)

    @strawberry.field(
        description="Supply-side alerts of this order: SUPPLIER_DELAY, PRODUCTION_LATE, QUALITY_HOLD.",
        metadata=batched(lambda orders, info: order_alerts(info, orders)),
    )
    async def alerts(self, info: Info) -> list[AlertRef] | None:
        return await one(lambda orders, info: order_alerts(info, orders), self, info)


def products_of(info: Info, skus: list[str]) -> Any:
    """The lines' products, at once when their orders prefetched them (`prefetched`)."""
    loader = info.context.loaders.product_by_sku
    found = {sku: loader.load_now(sku) for sku in dict.fromkeys(skus)}  # many lines, few products
    return at_once([found[sku] for sku in skus])


def plus(net: Decimal | None, tax: Decimal | None) -> Decimal | None:
    """net + tax, unknown when either is."""
    return None if net is None or tax is None else money(net + tax)


def prefetched(info: Info, orders: list) -> list:
    """Orders whose lines' products (and stock) are on their way when the query reads them."""
    relations.prefetch_lines(
        info.context,
        orders,
        products=selects(info, "lines.product"),
        stock=selects(info, "lines.product.availability"),
    )
    return orders


async def order_alerts(info: Info, orders: list[Any]) -> list[Any]:
    """Each order's supply-side alerts: one batch of stock, orders and records for all of them."""
    alerts, failures = await supply_alerts(info.context, orders)
    for failure in failures:
        info.context.report_partial(info.path, failure)
    return [[a for a in alerts if a.ref_id == order.id] for order in orders]
