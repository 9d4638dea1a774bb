"""Sales orders and their lines, from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry import Info

from resolvers import relations
from resolvers.money import money
from schema.derived import derived_from
from schema.enums import OrderStatus
from schema.lookahead import selects


CustomerRef = Annotated["Customer", strawberry.lazy("schema.customer")]
ContractRef = Annotated["Contract", strawberry.lazy("schema.contract")]
ProductRef = Annotated["Product", strawberry.lazy("schema.product")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.receivable")]


@strawberry.type
class OrderLine:
    sku: strawberry.ID
    quantity: Decimal
    shipped_quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal | None
    unit_cost: Decimal | None = strawberry.field(
        description="The product's cost when the order was placed.", metadata=derived_from("Product.standardCost")
    )

    @strawberry.field
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
    total: Decimal | None
    currency: str | None
    lines: list[OrderLine] | None

    @strawberry.field
    async def customer(self, info: Info) -> CustomerRef | None:
        return await relations.visible_customer_of_order(info.context, self)

    @strawberry.field
    async def contract(self, info: Info) -> ContractRef | None:
        return await relations.contract_of_number(info.context, self.contract_number)

    @strawberry.field
    async def invoices(self, info: Info) -> list[InvoiceRef] | None:
        return await relations.invoices_of_orders(info.context, self.party_code, {self.id})


async def prefetched(info: Info, orders: list) -> list:
    """Orders whose lines' products (and stock) are loaded when the query reads them."""
    await relations.prefetch_lines(
        info.context,
        orders,
        products=selects(info, "lines.product"),
        stock=selects(info, "lines.product.availability"),
    )
    return orders
