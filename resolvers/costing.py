"""Multi-level BOM cost roll-up.

rolled-up cost of an item = its own per-level cost (assembly) + the sum over its
components of quantity x the component's rolled-up cost; a bought item (no BOM)
costs its standard cost. The BOM is read level by level: one batched call per
level for the whole query, never one per component. A cycle is an error for the
product that contains it, never a hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from resolvers.context import Context
from resolvers.errors import Failure, GatewayError, expected
from resolvers.money import ZERO, money
from sources.records import BomLine, Product

MAX_BOM_DEPTH = 25


class BomCycle(GatewayError):
    code = "BOM_CYCLE"
    when = "a product's BOM contains a cycle (only `rolledUpCost` of that product fails)"


@dataclass
class BomTree:
    """The BOM structure under some SKUs, read level by level.

    `boms[sku]` is the list of direct components ([] for a bought item), `products[sku]`
    the product record (None when the ERP does not know it). A SKU whose data could not
    be read has its error in `failed`; one deeper than MAX_BOM_DEPTH levels is in `too_deep`.
    """

    boms: dict[str, list[BomLine]] = field(default_factory=dict)
    products: dict[str, Product | None] = field(default_factory=dict)
    failed: dict[str, Failure] = field(default_factory=dict)
    too_deep: set[str] = field(default_factory=set)


async def explode_many(ctx: Context, skus: Iterable[str]) -> BomTree:
    """Read the BOM trees under all `skus` together: one batched call per source method per level.

    A cycle ends the walk by itself (a SKU already read is not read again); roll_up reports it.
    A failed read fails only the SKUs whose trees need it.
    """
    tree = BomTree()
    level = list(skus)
    for _ in range(MAX_BOM_DEPTH + 1):
        fresh = [s for s in dict.fromkeys(level) if s not in tree.boms and s not in tree.failed]
        if not fresh:
            return tree
        boms, products = await asyncio.gather(
            asyncio.gather(*(ctx.loaders.bom_by_sku.load(s) for s in fresh), return_exceptions=True),
            asyncio.gather(*(ctx.loaders.product_by_sku.load(s) for s in fresh), return_exceptions=True),
        )
        level = []
        for s, bom_answer, product_answer in zip(fresh, boms, products, strict=True):
            lines, record = expected(bom_answer), expected(product_answer)
            if not isinstance(record, Failure):
                tree.products[s] = record
            if isinstance(lines, Failure):
                tree.failed[s] = lines
            elif isinstance(record, Failure):
                tree.failed[s] = record
            else:
                tree.boms[s] = lines
                level.extend(line.component_sku for line in lines)
    tree.too_deep.update(s for s in level if s not in tree.boms and s not in tree.failed)
    return tree


def roll_up(
    sku: str, boms: dict[str, list[BomLine]] | BomTree, products: dict[str, Product | None] | None = None
) -> Decimal | None:
    """Cost per unit of `sku`; None when a needed cost is unknown.

    Raises BomCycle for a cycle (or a tree deeper than MAX_BOM_DEPTH), and the read error
    of any SKU in the tree whose data could not be read.
    """
    tree = boms if isinstance(boms, BomTree) else BomTree(boms=boms, products=products or {})
    memo: dict[str, Decimal | None] = {}

    def cost(item: str, path: tuple[str, ...]) -> Decimal | None:
        if item in path:
            raise BomCycle(f"The BOM of {sku} has a cycle: {' -> '.join(path + (item,))}.")
        if item in memo:
            return memo[item]
        if item in tree.failed:
            raise tree.failed[item]
        if item in tree.too_deep or item not in tree.boms:
            raise BomCycle(f"The BOM of {sku} is deeper than {MAX_BOM_DEPTH} levels or has a cycle.")
        product = tree.products.get(item)
        components = tree.boms[item]
        if product is None:
            result = None
        elif not components:
            result = product.standard_cost
        else:
            parts = [cost(line.component_sku, path + (item,)) for line in components]
            known = [part for part in parts if part is not None]
            if len(known) < len(parts):
                result = None
            else:
                result = product.assembly_cost + sum(
                    (line.quantity * part for line, part in zip(components, known, strict=True)), ZERO
                )
        memo[item] = result
        return result

    value = cost(sku, ())
    return None if value is None else money(value)


async def rolled_up_cost(ctx: Context, sku: str) -> Decimal | None:
    return roll_up(sku, await explode_many(ctx, [sku]))
