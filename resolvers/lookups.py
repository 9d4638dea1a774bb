"""One record by its key, with the row-level rules: shared by the root fields and `_entities`.

A router resolving federation entities reaches records the same way a client's
`order(id:)` does, so both paths call these; an unknown id and one the caller may
not see are refused alike (when the caller's scope is restricted).
"""

from __future__ import annotations

from typing import Any

from sources.records import Contract, Order, Product, Ticket

from resolvers import access, relations
from resolvers.context import Context
from resolvers.customers import customer_by_id
from resolvers.errors import NotFound

__all__ = ["customer_by_id", "product_by_sku", "order_by_id", "contract_by_id", "ticket_by_id"]


async def product_by_sku(ctx: Context, sku: str) -> Product:
    product = await ctx.loaders.product_by_sku.load(sku)
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}.")
    return product


def _missing(ctx: Context, kind: str, key: str) -> Exception:
    """Out of scope and unknown must look alike to a restricted caller."""
    if ctx.scope != "all":
        return access.not_visible(f"{kind} {key!r}")
    return NotFound(f"No {kind} with id {key!r}.")


async def _by_id(ctx: Context, kind: str, key: str, loader: Any, visible_customer: Any) -> Any:
    record = await loader.load(key)
    if record is None:
        raise _missing(ctx, kind, key)
    await visible_customer(ctx, record, f"{kind} {key!r}")
    return record


async def order_by_id(ctx: Context, order_id: str) -> Order:
    return await _by_id(ctx, "order", order_id, ctx.loaders.order_by_id, relations.visible_customer_of_order)


async def contract_by_id(ctx: Context, contract_id: str) -> Contract:
    return await _by_id(ctx, "contract", contract_id, ctx.loaders.contract_by_id, relations.visible_customer_of_contract)


async def ticket_by_id(ctx: Context, ticket_id: str) -> Ticket:
    return await _by_id(ctx, "ticket", ticket_id, ctx.loaders.ticket_by_id, relations.visible_customer_of_ticket)
