"""Products, their BOMs and their availability, from the ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from strawberry import Info

from resolvers.availability import availability_now
from resolvers.batches import at_once
from resolvers.costing import rolled_up_cost
from schema.batched import batched
from schema.derived import derived_from


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


@strawberry.type
class BomLine:
    quantity: Decimal

    @strawberry.field
    async def component(self, info: Info) -> Product | None:
        return await info.context.loaders.product_by_sku.load(self.component_sku)


def availabilities(
    info: Info,
    products: list[Any],
    warehouse: str | None = None,
    date: dt.date | None = None,
    quantity: Decimal | None = None,
) -> Any:
    """`Product.availability` for a layer of products: at once when their stock is loaded."""
    quantity = Decimal(1) if quantity is None else quantity
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
        metadata=batched(lambda products, info, **arguments: availabilities(info, products, **arguments)),
    )
    def availability(
        self,
        info: Info,
        warehouse: strawberry.ID | None = None,
        date: dt.date | None = None,
        quantity: Decimal | None = None,
    ) -> Availability | None:
        quantity = Decimal(1) if quantity is None else quantity
        return availability_now(info.context, self.sku, warehouse=warehouse, on=date, quantity=quantity)

    @strawberry.field
    async def bom(self, info: Info) -> list[BomLine] | None:
        return await info.context.loaders.bom_by_sku.load(self.sku)
