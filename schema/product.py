"""Products, their BOMs and their availability, from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers.availability import availability_now, supplied_availabilities
from resolvers.batches import at_once, one
from resolvers.costing import rolled_up_cost
from schema.batched import batched
from schema.derived import derived_from
from schema.enums import SourceName
from schema.lookahead import selects
from schema.supply import open_orders_of_products, suppliers_of_products

if TYPE_CHECKING:
    from schema.supply import PlannedReceipt, ProductSupplier, PurchaseOrder

PlannedReceiptRef = Annotated["PlannedReceipt", strawberry.lazy("schema.supply")]
ProductSupplierRef = Annotated["ProductSupplier", strawberry.lazy("schema.supply")]
PurchaseOrderRef = Annotated["PurchaseOrder", strawberry.lazy("schema.supply")]
# Asking for any of these makes an availability date its receipts by the SRM and MES.
PROMISE_FIELDS = ("promiseDate", "canPromise", "receipts", "promiseDateSource")


@strawberry.type
class Availability:
    sku: strawberry.ID
    warehouse: strawberry.ID | None
    on_hand: Decimal | None
    allocated: Decimal | None = strawberry.field(description="Reserved by open sales orders.")
    incoming: Decimal | None = strawberry.field(
        description="Planned movements up to the date: receipts in, planned demand (e.g. production consumption) out."
    )
    projected: Decimal | None = strawberry.field(
        description="onHand - allocated + incoming: the projected quantity at the date, before later planned demand."
    )
    available: Decimal | None = strawberry.field(
        description="Available to promise at the date: the least projected quantity over the date and every later "
        "planned date, so later demand already on the books cannot break the promise."
    )
    can_promise: bool | None = strawberry.field(description="available >= quantity; true exactly from promiseDate on.")
    promise_date: dt.date | None = strawberry.field(
        description="Earliest date from which `available` covers the asked quantity; null when the plans never do."
    )
    receipts: list[PlannedReceiptRef] | None = strawberry.field(
        description="The planned movements counted, each dated by the system that knows best (SRM, MES or ERP)."
    )

    @strawberry.field(
        description="The system the promise date comes from: ERP when stock covers it, else the one that dated the "
        "receipts arriving that day (SRM: a supplier's confirmation, MES: a production order's planned end)."
    )
    def promise_date_source(self) -> SourceName | None:
        source = self.promise_date_source
        return None if source is None else SourceName(source)


@strawberry.type
class BomLine:
    quantity: Decimal

    @strawberry.field
    async def component(self, info: Info) -> Product | None:
        return await info.context.loaders.product_by_sku.load(self.component_sku)


def availabilities(
    products: list[Any],
    info: Info,
    warehouse: str | None = None,
    date: dt.date | None = None,
    quantity: Decimal | None = None,
) -> Any:
    """`Product.availability` for a layer of products: at once when their stock is loaded. Asked for a
    promise, with receipts dated by the SRM and MES (one call each for the layer)."""
    quantity = Decimal(1) if quantity is None else quantity
    if any(selects(info, name) for name in PROMISE_FIELDS):
        skus = list(dict.fromkeys(p.sku for p in products))

        async def supplied() -> list[Any]:
            answers = await supplied_availabilities(
                info.context, skus, warehouse=warehouse, on=date, quantity=quantity, path=info.path
            )
            found = dict(zip(skus, answers, strict=True))
            return [found[p.sku] for p in products]

        return supplied()
    found = {
        sku: availability_now(info.context, sku, warehouse=warehouse, on=date, quantity=quantity)
        for sku in dict.fromkeys(p.sku for p in products)  # the same product under many order lines
    }
    return at_once([found[p.sku] for p in products])


@strawberry.federation.type(keys=["sku"])
class Product:
    sku: strawberry.ID
    name: str
    uom: str | None
    list_price: Decimal | None
    standard_cost: Decimal | None

    @strawberry.field(description="Multi-level BOM cost roll-up.", metadata=derived_from("Product.standardCost"))
    async def rolled_up_cost(self, info: Info) -> Decimal | None:
        return await rolled_up_cost(info.context, self.sku)

    @strawberry.field(
        description="Available-to-promise in one warehouse (all when null) by `date` (today when null), "
        "for `quantity` units (one when null).",
        metadata=batched(availabilities),
    )
    async def availability(
        self,
        info: Info,
        warehouse: strawberry.ID | None = None,
        date: dt.date | None = None,
        quantity: Decimal | None = None,
    ) -> Availability | None:
        return await one(availabilities, self, info, warehouse=warehouse, date=date, quantity=quantity)

    @strawberry.field(
        description="Who sells it (SRM): price, lead time, the preferred supplier first.",
        metadata=batched(suppliers_of_products),
    )
    async def suppliers(self, info: Info) -> list[ProductSupplierRef] | None:
        return await one(suppliers_of_products, self, info)

    @strawberry.field(
        description="Open purchase orders (SRM) with a line of it.", metadata=batched(open_orders_of_products)
    )
    async def open_purchase_orders(self, info: Info) -> list[PurchaseOrderRef] | None:
        return await one(open_orders_of_products, self, info)

    @strawberry.field
    async def bom(self, info: Info) -> list[BomLine] | None:
        return await info.context.loaders.bom_by_sku.load(self.sku)
