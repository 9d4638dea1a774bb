"""One record by its key, with the row-level rules: shared by the root fields and `_entities`.

A router resolving federation entities reaches records the same way a client's
`order(id:)` does, so both paths call these; an unknown id and one the caller may
not see are refused alike (when the caller's scope is restricted).
"""

from __future__ import annotations

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


async def order_by_id(ctx: Context, order_id: str) -> Order:
    order = await ctx.loaders.order_by_id.load(order_id)
    if order is None:
        raise _missing(ctx, "order", order_id)
    await relations.visible_customer_of_order(ctx, order, f"order {order_id!r}")
    return order


async def contract_by_id(ctx: Context, contract_id: str) -> Contract:
    contract = await ctx.loaders.contract_by_id.load(contract_id)
    if contract is None:
        raise _missing(ctx, "contract", contract_id)
    await relations.visible_customer_of_contract(ctx, contract, f"contract {contract_id!r}")
    return contract


async def ticket_by_id(ctx: Context, ticket_id: str) -> Ticket:
    ticket = await ctx.loaders.ticket_by_id.load(ticket_id)
    if ticket is None:
        raise _missing(ctx, "ticket", ticket_id)
    await relations.visible_customer_of_ticket(ctx, ticket, f"ticket {ticket_id!r}")
    return ticket
