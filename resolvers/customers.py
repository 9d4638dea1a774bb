"""Finding customers: by id, and the paginated, searchable list.

What a caller sends to the CRM is checked here first, and a bad value is
BAD_USER_INPUT without a backend call: a value the CRM cannot take may make it
fail (a cursor of `customers:99999999999999999999` once made it answer 500), and
its failures count against the circuit breaker every caller shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from resolvers import access, risk_filter
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound, NotSupported
from resolvers.keysets import Order, check_key, decode_cursor, encode_cursor, shown
from sources.kinds import ErpLists
from sources.lists import ListPage, ListQuery, Summary
from sources.records import Customer

MAX_PAGE_SIZE = 100
MAX_SEARCH_LENGTH = 200
MAX_VALUES = 50  # values of one list filter (statuses, regions, ids)
MAX_JOIN_KEYS = 5000  # keys a join sends in one call (the demo systems take 5,000 in a query string)
NAME = "customers"  # the list, named in its cursors
DEFAULT_ORDER = Order("last_activity_at", True)


def check_page_size(value: int, maximum: int = MAX_PAGE_SIZE, *, name: str = "first") -> None:
    if value < 0 or value > maximum:
        raise BadUserInput(f"`{name}` must be between 0 and {maximum}, got {value}.")


def check_search(search: str) -> None:
    """A search is words to look for: printable text of bounded length."""
    if len(search) > MAX_SEARCH_LENGTH or not search.isprintable():
        raise BadUserInput(
            f"`search` must be at most {MAX_SEARCH_LENGTH} printable characters (no control characters), "
            f"got {shown(search)}."
        )


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
    total_count: int | None  # None: a `risk` list whose count was not asked for (it costs a scan)
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
    risk: list[str] | None = None  # RiskLevel values (see `resolvers.risk_filter`)
    order: Order = DEFAULT_ORDER
    summary: bool = False
    count: bool = True  # is `totalCount` asked for (only a `risk` list spares it)


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
    """One page of the caller's customers, every filter and the row-level scope pushed down to the CRM
    (`risk` excepted: see `resolvers.risk_filter`), paged by keyset in `narrowing.order`."""
    check_page_size(first)
    if search:
        check_search(search)
    if owner_id is not None:
        check_key(owner_id, "ownerId")
    order = narrowing.order
    keyset = decode_cursor(NAME, order, after) if after else None
    levels = risk_filter.check_levels(ctx, narrowing.risk)
    owners, team = access.search_filters(ctx, owner_id)
    if tier is not None and narrowing.tiers is not None:  # both: the tiers in both (the CRM takes one list)
        narrowing = replace(narrowing, tiers=[t for t in narrowing.tiers if t == tier])
        tier = None
        if not narrowing.tiers:
            return _empty(narrowing)
    if levels == frozenset():  # no level asked: no customer matches
        return _empty(narrowing)
    filters = narrowed(narrowing, team)
    parties = await receivable_party_filter(ctx, narrowing.has_overdue, narrowing.credit_exceeded)
    if parties is not None:
        if not parties:
            return _empty(narrowing)
        check_join(parties, "hasOverdue` or `creditExceeded")
        filters.append(("erp", ",".join(parties)))
    if tier:
        filters.append(("tier", tier))
    if owners is not None:
        filters.append(("owner", ",".join(owners)))
    if team and narrowing.team is None:
        filters.append(("team", team))
    if search:
        filters.append(("q", search))
        # A search that matched tax ids would let a caller who may not read them find one by trying.
        if not ctx.can_read("Customer.taxId"):
            filters.append(("match", "names"))
    if levels is not None:
        found = await risk_filter.risk_page(
            ctx,
            tuple(filters),
            order,
            keyset,
            levels,
            first=first,
            count=narrowing.count or narrowing.summary,
        )
        rows, more, total = found.rows, found.more, found.total
        summary = found.summary if narrowing.summary else None
    else:
        query = ListQuery(
            filters=tuple(filters), sort=order.spelled, after=keyset, limit=first, summary=narrowing.summary
        )
        page: ListPage[Customer] = await ctx.loaders.backends.crm.customer_list(query)
        rows = list(zip(page.items, page.cursors, strict=True))
        more, total, summary = page.more, page.total, page.summary
    ctx.loaders.remember_customers([customer for customer, _ in rows])
    edges = [Edge(encode_cursor(NAME, order, value, row_id), customer) for customer, (value, row_id) in rows]
    return CustomerPage(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
        summary=summary,
    )


def _empty(narrowing: Narrowing) -> CustomerPage:
    return CustomerPage([], PageInfo(has_next_page=False, end_cursor=None), 0, _no_summary(narrowing))


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
