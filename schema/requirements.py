"""Material requirements: thin types over `resolvers.requirements` (the netting is explained there)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry import Info

from resolvers import requirements
from schema.product import Product
from schema.quote import QuoteInput
from schema.supply import ProductSupplier


@strawberry.input(description="Demand for a SKU: a quantity needed by a date.")
class MaterialDemandInput:
    sku: strawberry.ID
    quantity: Decimal = strawberry.field(description="Positive.")
    need_by: dt.date | None = strawberry.field(default=None, description="Today when null.")


@strawberry.type(description="One item of the netting: a demanded item or a component at any BOM level.")
class MaterialRequirement:
    sku: strawberry.ID
    level: int = strawberry.field(
        description="The deepest BOM level at which the item appears under the demanded items (0: a demanded item)."
    )
    gross_requirement: Decimal = strawberry.field(
        description="The demand for it, plus its parents' net requirements x the BOM quantity."
    )
    on_hand: Decimal
    allocated: Decimal = strawberry.field(description="Allocated to open orders other than the given ones.")
    in_transit: Decimal = strawberry.field(
        description="Open quantity (ordered - received) of its lines on open purchase orders (SRM)."
    )
    available: Decimal = strawberry.field(description="onHand - allocated + inTransit; negative when short already.")
    net_requirement: Decimal = strawberry.field(description="What the available quantity leaves uncovered.")
    need_by: dt.date | None = strawberry.field(description="The date of the first requirement not covered.")
    suggested_purchase_quantity: Decimal = strawberry.field(
        description="The net requirement of a bought item; 0 for one made from its components."
    )
    lead_time_days: int | None = strawberry.field(description="The preferred supplier's lead time.")
    order_by: dt.date | None = strawberry.field(description="needBy - leadTimeDays: the latest day to order.")
    late: bool = strawberry.field(description="orderBy is before today.")

    @strawberry.field(description="MAKE (it has a BOM: its net requirement goes to its components) or BUY.")
    def action(self) -> str:
        return "MAKE" if self.make else "BUY"

    @strawberry.field(description="The preferred supplier's offer (SRM), for a bought item.")
    def preferred_supplier(self) -> ProductSupplier | None:
        return self.supplier

    @strawberry.field
    def product(self, info: Info) -> Product | None:
        return info.context.loaders.product_by_sku.load_now(self.sku)


@strawberry.type(description="Multi-level netting of demand against on hand, allocated and in-transit stock.")
class MaterialRequirements:
    warehouse: strawberry.ID | None = strawberry.field(description="The stock netted against; all when null.")
    date: dt.date = strawberry.field(description="Today: the day the stock is counted.")
    requirements: list[MaterialRequirement] = strawberry.field(description="Every item, by level then SKU.")
    purchases: list[MaterialRequirement] = strawberry.field(description="The items to buy: suggested quantity > 0.")


async def material_requirements(
    info: Info,
    orders: list[strawberry.ID] | None,
    items: list[MaterialDemandInput] | None,
    quote: QuoteInput | None,
    warehouse: strawberry.ID | None,
) -> requirements.MaterialRequirements:
    return await requirements.material_requirements(
        info.context, orders=orders or (), items=items or (), quote=quote, warehouse=warehouse
    )
