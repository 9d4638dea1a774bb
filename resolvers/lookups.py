"""One record by its key, with the row-level rules: shared by the root fields and `_entities`.

A router resolving federation entities reaches records the same way a client's
`order(id:)` does, so both paths call these; an unknown id and one the caller may
not see are refused alike (when the caller's scope is restricted).
"""

from __future__ import annotations

from typing import Any

from resolvers import access, relations
from resolvers.context import Context
from resolvers.customers import customer_by_id
from resolvers.errors import NotFound
from sources.records import Contract, Order, Product, Ticket

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


async def _by_id(ctx: Context, kind: str, key: str, loader: Any, visible_customer: Any, customer_by_ref: Any) -> Any:
    record = await loader.load(key)
    if record is None:
        if ctx.scope != "all":
            # Do the work a refusal does: the CRM look-up of the record's customer (here by a
            # ref that matches none). Otherwise the calls made, the sources in the freshness
            # report and the time taken would tell an unknown id from one out of scope.
            await customer_by_ref.load(key)
        raise _missing(ctx, kind, key)
    await visible_customer(ctx, record, f"{kind} {key!r}")
    return record


async def order_by_id(ctx: Context, order_id: str) -> Order:
    loaders = ctx.loaders
    return await _by_id(
        ctx, "order", order_id, loaders.order_by_id, relations.visible_customer_of_order, loaders.customer_by_erp_ref
    )


async def contract_by_id(ctx: Context, contract_id: str) -> Contract:
    loaders = ctx.loaders
    return await _by_id(
        ctx,
        "contract",
        contract_id,
        loaders.contract_by_id,
        relations.visible_customer_of_contract,
        loaders.customer_by_clm_ref,
    )


async def ticket_by_id(ctx: Context, ticket_id: str) -> Ticket:
    loaders = ctx.loaders
    return await _by_id(
        ctx,
        "ticket",
        ticket_id,
        loaders.ticket_by_id,
        relations.visible_customer_of_ticket,
        loaders.customer_by_desk_ref,
    )
