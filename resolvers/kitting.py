"""Kitting analysis: can `quantity` units of a kit be built from component stock by a date?

Direct components only: the kit's own BOM, one level, which is what "kitting" means.
A component that is itself built (a sub-assembly) counts with its own available stock;
it is not exploded into its components (building sub-assemblies first is a production
plan, not a kitting check).

Per component (BOM lines of the same component are added up):
- required  = kits asked x quantity per kit;
- available = the component's ATP at the warehouse (all warehouses when null) by the date
  (today when null), receipts dated by the SRM and MES (`resolvers.supply_dates`), exactly as
  `availability.compute`: the least projected quantity over
  that date and every later planned date, so kits built now do not take what planned
  demand needs later. It can be negative when open orders already need more than there is;
- missing   = required - available when positive, else 0: what to buy or make so the
  kits can be built without taking stock promised to open orders.

buildable = the least, over the components, of whole kits the available quantity covers
(0 when it is not positive); complete = no component is missing. Kits are whole units, so
`quantity` must be a whole number.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from resolvers import availability
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound, value_or_raise
from resolvers.money import ZERO, money
from resolvers.supply_dates import report, supplied_stock


@dataclass(frozen=True)
class ComponentNeed:
    component_sku: str
    quantity_per_kit: Decimal
    required: Decimal
    available: Decimal
    missing: Decimal
    buildable_quantity: Decimal  # whole kits this component alone allows


@dataclass(frozen=True)
class KittingAnalysis:
    sku: str
    quantity: Decimal
    warehouse: str | None
    date: dt.date
    buildable_quantity: Decimal
    complete: bool
    components: list[ComponentNeed]

    @property
    def shortages(self) -> list[ComponentNeed]:
        return [need for need in self.components if need.missing > 0]


def check_kits(quantity: Decimal) -> None:
    availability.check_quantity(quantity)
    if quantity != quantity.to_integral_value():
        raise BadUserInput(f"quantity must be a whole number of kits, got {quantity}.")


async def buildable(
    ctx: Context, sku: str, quantity: Decimal, warehouse: str | None, on: dt.date | None, path: object = None
) -> KittingAnalysis:
    check_kits(quantity)
    on = on or ctx.today
    product, bom, checked = await asyncio.gather(
        ctx.loaders.product_by_sku.load(sku),
        ctx.loaders.bom_by_sku.load(sku),
        availability.check_warehouse(ctx, warehouse),
        return_exceptions=True,
    )
    product, bom, checked = value_or_raise(product), value_or_raise(bom), value_or_raise(checked)
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}.")
    if not bom:
        raise BadUserInput(
            f"{sku} ({product.name}) is not built from components: the ERP has no bill of materials for it."
        )
    per_kit: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in bom:
        per_kit[line.component_sku] += line.quantity
    components = list(per_kit)
    # The components' products are loaded beside their stock, so `Shortage.component` is ready;
    # a failure there is left in the loader for that field to report.
    (supplied, failures), _ = await asyncio.gather(
        supplied_stock(ctx, components),
        asyncio.gather(*(ctx.loaders.product_by_sku.load(c) for c in components), return_exceptions=True),
    )
    report(ctx, path, failures)
    needs = []
    for component in components:
        rows = value_or_raise(supplied[component])
        per_unit = per_kit[component]
        required = quantity * per_unit
        available = availability.compute(
            component, rows, warehouse=warehouse, on=on, quantity=max(required, Decimal(1)), today=ctx.today
        ).available
        kits = (
            (available / per_unit).to_integral_value(rounding=ROUND_FLOOR) if per_unit > 0 and available > 0 else ZERO
        )
        needs.append(
            ComponentNeed(
                component_sku=component,
                quantity_per_kit=per_unit,
                required=money(required),
                available=available,
                missing=money(max(ZERO, required - available)) if required > 0 else ZERO,
                buildable_quantity=money(kits),
            )
        )
    limiting = [need.buildable_quantity for need in needs if need.quantity_per_kit > 0]
    buildable_quantity = min(limiting) if limiting else money(quantity)
    return KittingAnalysis(
        sku=sku,
        quantity=quantity,
        warehouse=warehouse,
        date=on,
        buildable_quantity=buildable_quantity,
        complete=all(need.missing == 0 for need in needs),
        components=needs,
    )
