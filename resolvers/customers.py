"""Finding customers: by id, and the paginated, searchable list."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sources.records import Customer

from resolvers import access
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound

MAX_PAGE_SIZE = 100
_CURSOR_PREFIX = "customers:"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        offset = int(text[len(_CURSOR_PREFIX) :])
        if offset < 0:
            raise ValueError(text)
        return offset
    except (ValueError, binascii.Error, UnicodeError):
        raise BadUserInput(f"`after` is not a cursor from this API: {cursor!r}. Pass a `pageInfo.endCursor` you received.") from None


def check_page_size(value: int, maximum: int = MAX_PAGE_SIZE, *, name: str = "first") -> None:
    if value < 0 or value > maximum:
        raise BadUserInput(f"`{name}` must be between 0 and {maximum}, got {value}.")


@dataclass(frozen=True)
class Edge:
    cursor: str
    node: Customer


@dataclass(frozen=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True)
class CustomerPage:
    edges: list[Edge]
    page_info: PageInfo
    total_count: int


async def customer_page(
    ctx: Context,
    *,
    search: str | None,
    owner_id: str | None,
    tier: str | None,
    first: int,
    after: str | None,
) -> CustomerPage:
    check_page_size(first)
    offset = decode_cursor(after) + 1 if after else 0
    owners, team = access.search_filters(ctx, owner_id)
    page = await ctx.loaders.backends.crm.search_customers(
        search=search,
        owners=owners,
        team=team,
        tier=tier,
        limit=first,
        offset=offset,
        # A search that matched tax ids would let a caller who may not read them find one by trying.
        search_tax_ids=ctx.can_read("Customer.taxId"),
    )
    ctx.loaders.remember_customers(page.items)
    edges = [Edge(encode_cursor(offset + i), customer) for i, customer in enumerate(page.items)]
    return CustomerPage(
        edges=edges,
        page_info=PageInfo(
            has_next_page=offset + len(edges) < page.total,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )


async def customer_by_id(ctx: Context, customer_id: str) -> Customer:
    customer = await access.visible(
        ctx, await ctx.loaders.customer_by_id.load(customer_id), f"customer {customer_id!r}"
    )
    if customer is None:
        raise NotFound(f"No customer with id {customer_id!r}.")
    ctx.loaders.remember_customers([customer])
    return customer
