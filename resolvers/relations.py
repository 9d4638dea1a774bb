"""How records in one system reach their relatives in another.

A customer's id is its CRM id; the CRM record carries its keys elsewhere. A
missing ref means "nothing in that system": an empty list, never an error. The
way back (an order's party, a contract's counterparty, a ticket's org) is a
batched CRM look-up by ref, free when the customer was already seen in the request.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Sequence
from typing import Any

from resolvers import access
from resolvers.batches import each, only
from resolvers.context import Context
from sources.records import Contract, Customer, Invoice, Order, OrderStatus, Ticket

OPEN_ORDER_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.PROCESSING, OrderStatus.SHIPPED})


async def orders_of_customer(ctx: Context, customer: Customer) -> list[Order]:
    return await _awaited(_related(ctx.loaders.orders_by_party, customer.refs.erp))


async def invoices_of_customer(ctx: Context, customer: Customer) -> list[Invoice]:
    return await _awaited(_related(ctx.loaders.invoices_by_party, customer.refs.erp))


async def contracts_of_customer(ctx: Context, customer: Customer) -> list[Contract]:
    return await _awaited(_related(ctx.loaders.contracts_by_counterparty, customer.refs.clm))


async def tickets_of_customer(ctx: Context, customer: Customer) -> list[Ticket]:
    return await _awaited(_related(ctx.loaders.tickets_by_org, customer.refs.desk))


async def orders_of_customers(ctx: Context, customers: Sequence[Customer]) -> list[Any]:
    """Per customer its ERP orders, or the exception that cost them: one batch for all."""
    return await each([_related(ctx.loaders.orders_by_party, c.refs.erp) for c in customers])


async def contracts_of_customers(ctx: Context, customers: Sequence[Customer]) -> list[Any]:
    """Per customer its CLM contracts, or the exception that cost them: one batch for all."""
    return await each([_related(ctx.loaders.contracts_by_counterparty, c.refs.clm) for c in customers])


async def tickets_of_customers(ctx: Context, customers: Sequence[Customer]) -> list[Any]:
    """Per customer its desk tickets, or the exception that cost them: one batch for all."""
    return await each([_related(ctx.loaders.tickets_by_org, c.refs.desk) for c in customers])


def _related(loader: Any, ref: str | None) -> Any:
    """The load of a ref's records; no ref: nothing in that system, an empty list."""
    return loader.load(ref) if ref else []


async def _awaited(found: Any) -> Any:
    return found if isinstance(found, list) else await found


async def customer_of_order(ctx: Context, order: Order) -> Customer | None:
    return await ctx.loaders.customer_by_erp_ref.load(order.party_code)


async def customer_of_contract(ctx: Context, contract: Contract) -> Customer | None:
    return await ctx.loaders.customer_by_clm_ref.load(contract.counterparty_id)


async def customer_of_ticket(ctx: Context, ticket: Ticket) -> Customer | None:
    return await ctx.loaders.customer_by_desk_ref.load(ticket.org_id)


async def visible_customer_of_order(ctx: Context, order: Order, what: str | None = None) -> Customer | None:
    """`what` names the thing refused; a root look-up by id passes the id the caller gave,
    so a refusal says nothing the caller did not already know."""
    return await access.visible(
        ctx, await customer_of_order(ctx, order), what or f"the customer of order {order.number}"
    )


async def visible_customer_of_contract(ctx: Context, contract: Contract, what: str | None = None) -> Customer | None:
    return await access.visible(
        ctx, await customer_of_contract(ctx, contract), what or f"the customer of contract {contract.number}"
    )


async def visible_customer_of_ticket(ctx: Context, ticket: Ticket, what: str | None = None) -> Customer | None:
    return await access.visible(
        ctx, await customer_of_ticket(ctx, ticket), what or f"the customer of ticket {ticket.id}"
    )


async def orders_of_contract(ctx: Context, contract: Contract) -> list[Order]:
    """The ERP orders that carry this contract's number (they belong to its counterparty)."""
    return only(await orders_of_contracts(ctx, [contract]))


async def orders_of_contracts(ctx: Context, contracts: list[Contract]) -> list[Any]:
    """`orders_of_contract` for many contracts at once: per contract its orders, or the exception
    that cost it them; one look-up per step for all of them, no task per contract."""
    customers = await each([ctx.loaders.customer_by_clm_ref.load(c.counterparty_id) for c in contracts])
    orders = await each(
        [
            customer
            if isinstance(customer, Exception)
            else ctx.loaders.orders_by_party.load(customer.refs.erp)
            if customer is not None and customer.refs.erp
            else []
            for customer in customers
        ]
    )
    return [
        found
        if isinstance(found, Exception)
        else [order for order in found if order.contract_number == contract.number]
        for contract, found in zip(contracts, orders, strict=True)
    ]


async def invoices_of_orders(ctx: Context, party_code: str, order_ids: set[str]) -> list[Invoice]:
    invoices = await ctx.loaders.invoices_by_party.load(party_code)
    return [invoice for invoice in invoices if invoice.order_id in order_ids]


async def invoices_of_contract(ctx: Context, contract: Contract) -> list[Invoice]:
    orders = await orders_of_contract(ctx, contract)
    if not orders:
        return []
    return await invoices_of_orders(ctx, orders[0].party_code, {order.id for order in orders})


async def tickets_of_contract(ctx: Context, contract: Contract) -> list[Ticket]:
    customer = await customer_of_contract(ctx, contract)
    if customer is None:
        return []
    return [ticket for ticket in await tickets_of_customer(ctx, customer) if ticket.contract_number == contract.number]


async def contract_of_number(ctx: Context, number: str | None) -> Contract | None:
    if not number:
        return None
    return await ctx.loaders.contract_by_number.load(number)


async def order_of_id(ctx: Context, order_id: str | None) -> Order | None:
    if not order_id:
        return None
    return await ctx.loaders.order_by_id.load(order_id)


def prefetch_lines(ctx: Context, orders: list[Order], *, products: bool, stock: bool) -> None:
    """Ask for the products (and stock) of all these orders' lines now, in one batch each.

    Called by order lists when the query reads them, so lines find their product and
    availability without waiting another level. It does not wait for the answers: the
    orders are completed while they travel. Failures stay in the loaders for the fields
    that need them to report.
    """
    skus = list(dict.fromkeys(line.sku for order in orders for line in order.lines))
    loaders = [ctx.loaders.product_by_sku] * products + [ctx.loaders.stock_by_sku] * stock
    for loader in loaders:
        for sku in skus:
            loader.load(sku).add_done_callback(_retrieved)


def _retrieved(future: Future[Any]) -> None:
    """A prefetch nobody reads may fail: its error is the fields' to report, not asyncio's to log."""
    if not future.cancelled():
        future.exception()
