"""Finding customers: by id, and the paginated, searchable list.

What a caller sends to the CRM is checked here first, and a bad value is
BAD_USER_INPUT without a backend call: a value the CRM cannot take may make it
fail (a cursor of `customers:99999999999999999999` once made it answer 500), and
its failures count against the circuit breaker every caller shares.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from resolvers import access
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound, NotSupported
from sources.kinds import ErpLists
from sources.lists import ListQuery, Summary
from sources.records import Customer

MAX_PAGE_SIZE = 100
# Far past any list a person or an export pages through, far inside the 32-bit offsets backends take.
MAX_OFFSET = 10_000_000
MAX_SEARCH_LENGTH = 200
MAX_KEY_LENGTH = 64
MAX_VALUES = 50  # values of one list filter (statuses, regions, ids)
MAX_JOIN_KEYS = 5000  # keys a join sends in one call (the demo systems take 5,000 in a query string)
_CURSOR_PREFIX = "customers:"
_CURSOR = re.compile(r"customers:(0|[1-9][0-9]{0,7})")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The offset of a cursor this API issued: exactly `encode_cursor(n)` for 0 <= n <= MAX_OFFSET."""
    offset = _offset_of(cursor)
    if offset is None or encode_cursor(offset) != cursor:  # the canonical spelling only: no padding games, no "+7"
        raise BadUserInput(
            f"`after` is not a cursor from this API: {_shown(cursor)}. Pass a `pageInfo.endCursor` you received."
        )
    return offset


def _offset_of(cursor: str) -> int | None:
    if len(cursor) > len(encode_cursor(MAX_OFFSET)):
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (ValueError, binascii.Error):  # UnicodeError is a ValueError
        return None
    match = _CURSOR.fullmatch(text)
    if match is None or int(match[1]) > MAX_OFFSET:
        return None
    return int(match[1])


def check_page_size(value: int, maximum: int = MAX_PAGE_SIZE, *, name: str = "first") -> None:
    if value < 0 or value > maximum:
        raise BadUserInput(f"`{name}` must be between 0 and {maximum}, got {value}.")


def check_search(search: str) -> None:
    """A search is words to look for: printable text of bounded length."""
    if len(search) > MAX_SEARCH_LENGTH or not search.isprintable():
        raise BadUserInput(
            f"`search` must be at most {MAX_SEARCH_LENGTH} printable characters (no control characters), "
            f"got {_shown(search)}."
        )


def check_key(value: str, name: str) -> None:
    """An id sent to a backend in a comma-separated list: no comma, no blanks, no control characters."""
    if (
        not 0 < len(value) <= MAX_KEY_LENGTH
        or "," in value
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise BadUserInput(
            f"`{name}` must be 1 to {MAX_KEY_LENGTH} printable characters without spaces or commas, got {_shown(value)}."
        )


def _shown(value: str, limit: int = 40) -> str:
    """A caller's value quoted in an error, cut short: a message is no place for a megabyte of it."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


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
    summary: Summary | None = None


@dataclass(frozen=True)
class Narrowing:
    """The customer list's filters beyond search, owner and tier (see `resolvers.worklists`)."""

    team: str | None = None
    region: list[str] | None = None
    industry: list[str] | None = None
    tiers: list[str] | None = None
    has_overdue: bool | None = None
    credit_exceeded: bool | None = None
    sort: str = ""  # a key of the CRM's `/customers/search`, '-' first for descending
    summary: bool = False


async def customer_page(
    ctx: Context,
    *,
    search: str | None,
    owner_id: str | None,
    tier: str | None,
    first: int,
    after: str | None,
    narrowing: Narrowing = Narrowing(),
) -> CustomerPage:
    check_page_size(first)
    if search:
        check_search(search)
    if owner_id is not None:
        check_key(owner_id, "ownerId")
    offset = decode_cursor(after) + 1 if after else 0
    owners, team = access.search_filters(ctx, owner_id)
    if tier is not None and narrowing.tiers is not None:  # both: the tiers in both (the CRM takes one list)
        narrowing = replace(narrowing, tiers=[t for t in narrowing.tiers if t == tier])
        tier = None
        if not narrowing.tiers:
            return CustomerPage([], PageInfo(has_next_page=False, end_cursor=None), 0, _no_summary(narrowing))
    filters = narrowed(narrowing, team)
    parties = await receivable_party_filter(ctx, narrowing.has_overdue, narrowing.credit_exceeded)
    if parties is not None:
        if not parties:
            return CustomerPage([], PageInfo(has_next_page=False, end_cursor=None), 0, _no_summary(narrowing))
        check_join(parties, "hasOverdue` or `creditExceeded")
        filters.append(("erp", ",".join(parties)))
    crm = ctx.loaders.backends.crm
    # A search that matched tax ids would let a caller who may not read them find one by trying.
    search_tax_ids = ctx.can_read("Customer.taxId")
    asked = crm.search_customers(
        search=search,
        owners=owners,
        team=None if narrowing.team is not None else team,
        tier=tier,
        limit=first,
        offset=offset,
        search_tax_ids=search_tax_ids,
        filters=filters,
        sort=narrowing.sort,
    )
    summary = None
    if narrowing.summary:
        pairs = [*filters, ("tier", tier)] if tier else list(filters)
        if owners is not None:
            pairs.append(("owner", ",".join(owners)))
        if team and narrowing.team is None:
            pairs.append(("team", team))
        if search:
            pairs += [("q", search)] + ([] if search_tax_ids else [("match", "names")])
        page, counted = await asyncio.gather(
            asked, crm.customer_list(ListQuery(filters=tuple(pairs), limit=0, summary=True))
        )
        summary = counted.summary
    else:
        page = await asked
    ctx.loaders.remember_customers(page.items)
    edges = [Edge(encode_cursor(offset + i), customer) for i, customer in enumerate(page.items)]
    return CustomerPage(
        edges=edges,
        page_info=PageInfo(
            has_next_page=offset + len(edges) < page.total,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
        summary=summary,
    )


def narrowed(narrowing: Narrowing, scope_team: str | None) -> list[tuple[str, str]]:
    """The CRM parameters of the narrowing filters, checked; the asked team AND the caller's."""
    pairs: list[tuple[str, str]] = []
    if narrowing.team is not None:
        check_key(narrowing.team.replace(" ", "_"), "team")
        pairs += team_filter(scope_team, narrowing.team)
    for name, values in (("region", narrowing.region), ("industry", narrowing.industry), ("tier", narrowing.tiers)):
        if values is not None:
            if len(values) > MAX_VALUES:
                raise BadUserInput(f"`{name}` takes at most {MAX_VALUES} values, got {len(values)}.")
            for value in values:
                check_key(value.replace(" ", "_"), name)
            pairs.append((name, ",".join(values)))
    return pairs


def _no_summary(narrowing: Narrowing) -> Summary | None:
    return Summary(count=0) if narrowing.summary else None


async def customer_by_id(ctx: Context, customer_id: str) -> Customer:
    check_key(customer_id, "id")
    customer = await access.visible(
        ctx, await ctx.loaders.customer_by_id.load(customer_id), f"customer {customer_id!r}"
    )
    if customer is None:
        raise NotFound(f"No customer with id {customer_id!r}.")
    ctx.loaders.remember_customers([customer])
    return customer


def team_filter(scope_team: str | None, asked_team: str | None) -> list[tuple[str, str]]:
    """The `team` parameter for the caller's team scope AND the asked team: both given and different,
    an empty team, which matches no customer (row-level filters fail closed)."""
    if scope_team is not None and asked_team is not None and asked_team != scope_team:
        return [("team", "")]
    team = scope_team if scope_team is not None else asked_team
    return [] if team is None else [("team", team)]


async def receivable_party_filter(
    ctx: Context, has_overdue: bool | None, credit_exceeded: bool | None
) -> list[str] | None:
    """The ERP parties matching the customer list's receivable filters, asked of the ERP first (None: no filter)."""
    if has_overdue is None and credit_exceeded is None:
        return None
    if not ctx.can_read("Customer.receivables"):
        raise access.Forbidden(
            "Not authorised to filter by `hasOverdue` or `creditExceeded`: they reveal Customer.receivables."
        )
    erp = ctx.loaders.backends.erp
    if not isinstance(erp, ErpLists):
        raise NotSupported(
            f"`hasOverdue` and `creditExceeded` need an ERP that answers worklists; {erp.name} does not."
        )
    pairs = [("today", ctx.today.isoformat())]
    if has_overdue is not None:
        pairs.append(("overdue", "true" if has_overdue else "false"))
    if credit_exceeded is not None:
        pairs.append(("credit_exceeded", "true" if credit_exceeded else "false"))
    return await erp.party_keys(pairs)


def check_join(keys: Sequence[str], narrow: str) -> None:
    """The keys a join sends travel in one query string: past MAX_JOIN_KEYS the caller narrows instead."""
    if len(keys) > MAX_JOIN_KEYS:
        raise BadUserInput(
            f"The customers matched are {len(keys):,}, more than the {MAX_JOIN_KEYS:,} a list joins at once: narrow `{narrow}`."
        )
