"""Multi-level BOM cost roll-up.

rolled-up cost of an item = its own per-level cost (assembly) + the sum over its
components of quantity x the component's rolled-up cost; a bought item (no BOM)
costs its standard cost. The BOM is read level by level: one batched call per
level for the whole query, never one per component. A cycle is an error for the
product that contains it, never a hang.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from resolvers.context import Context
from resolvers.errors import GatewayError
from resolvers.money import ZERO, money

MAX_BOM_DEPTH = 25


class BomCycle(GatewayError):
    code = "BOM_CYCLE"


async def explode(ctx: Context, sku: str) -> tuple[dict[str, list], dict[str, object]]:
    """Read the BOM tree under `sku`, level by level: (components per SKU, product per SKU)."""
    boms: dict[str, list] = {}
    products: dict[str, object] = {}
    level = [sku]
    for _ in range(MAX_BOM_DEPTH + 1):
        fresh = [s for s in dict.fromkeys(level) if s not in boms]
        if not fresh:
            return boms, products
        lines, records = await asyncio.gather(
            ctx.loaders.bom_by_sku.load_many(fresh), ctx.loaders.product_by_sku.load_many(fresh)
        )
        boms.update(zip(fresh, lines))
        products.update(zip(fresh, records))
        level = [line.component_sku for components in lines for line in components]
    raise BomCycle(f"The BOM of {sku} is deeper than {MAX_BOM_DEPTH} levels or has a cycle.")


def roll_up(sku: str, boms: dict[str, list], products: dict[str, object]) -> Decimal | None:
    """Cost per unit of `sku`; None when a needed cost is unknown."""
    memo: dict[str, Decimal | None] = {}

    def cost(item: str, path: tuple[str, ...]) -> Decimal | None:
        if item in path:
            raise BomCycle(f"The BOM of {sku} has a cycle: {' -> '.join(path + (item,))}.")
        if item in memo:
            return memo[item]
        product = products.get(item)
        components = boms.get(item) or []
        if product is None:
            result = None
        elif not components:
            result = product.standard_cost
        else:
            parts = [cost(line.component_sku, path + (item,)) for line in components]
            if any(part is None for part in parts):
                result = None
            else:
                result = product.assembly_cost + sum(
                    (line.quantity * part for line, part in zip(components, parts)), ZERO
                )
        memo[item] = result
        return result

    value = cost(sku, ())
    return None if value is None else money(value)


async def rolled_up_cost(ctx: Context, sku: str) -> Decimal | None:
    boms, products = await explode(ctx, sku)
    return roll_up(sku, boms, products)
