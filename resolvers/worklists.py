"""Worklists: filtered, sorted and exactly counted lists, evaluated where the data lives.

Each list (`invoices`, `orders`, `contracts`, `tickets`, `opportunities`) is one page asked of
the system that holds it, its filters sent as query parameters (`sources.lists`). What the
system does not hold is joined in one batch per system, never by reading a table into the
gateway:

- the caller's row-level scope (a rep's customers, a manager's team's) and any filter on the
  customer (owner, team, region, industry, tier, ids) are the CRM's: the CRM is asked first
  for the keys of the matching customers in the list's system (their ERP parties, CLM
  counterparties, desk orgs), and those keys travel with the page's filters; no key, no call;
- an executive with no customer filter sends no keys at all: one call per page;
- the customer list's receivable filters (`hasOverdue`, `creditExceeded`) are the ERP's: the
  ERP is asked first for the parties that match, and the CRM pages the customers among them.

So the rows, their order and `totalCount` are the system's own answer to the whole filter,
row-level rules included. Cursors are keysets (the sort value and id of the row), so a page
does not shift while rows are added or removed before it. Every argument is checked here
first: a bad value is BAD_USER_INPUT naming the argument, with no backend call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from resolvers import access
from resolvers.batches import each
from resolvers.context import Context
from resolvers.customers import MAX_VALUES, PageInfo, check_join, check_page_size, team_filter
from resolvers.errors import BadUserInput, GatewayError, NotSupported
from resolvers.keysets import Order, check_key, decode_cursor, encode_cursor
from sources.errors import SourceError
from sources.kinds import ErpLists
from sources.lists import ListPage, ListQuery, Summary, joined
from sources.records import Customer, Invoice, Opportunity

MAX_PAGE_SIZE = 100
MAX_DAYS = 100_000
MAX_AMOUNT = Decimal(10) ** 13


@dataclass(frozen=True)
class Arg:
    """A filter field: its GraphQL name, the backend's parameter, and its kind: keys, enums, bool, int,
    date, money, text."""

    graphql: str
    param: str
    kind: str


@dataclass(frozen=True)
class Spec:
    name: str  # the root field, named in cursors and errors
    system: str  # crm, erp, clm, desk
    key: str | None  # the parameter the customers' keys in `system` travel in (None: the CRM's own list)
    args: Mapping[str, Arg]  # filter attribute -> argument
    ranges: Sequence[tuple[str, str]] = ()  # (low, high) attributes that must not cross
    needs: Mapping[str, str] = field(default_factory=dict)  # attribute or "sort:<key>" -> Type.field it reveals


def arg(graphql: str, kind: str, param: str | None = None) -> Arg:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in graphql)
    return Arg(graphql, param or snake, kind)


CUSTOMER_ARGS = {
    "ids": arg("ids", "keys"),
    "owner_id": arg("ownerId", "key", "owner"),
    "team": arg("team", "text"),
    "region": arg("region", "texts"),
    "industry": arg("industry", "texts"),
    "tier": arg("tier", "enums"),
}

INVOICES = Spec(
    name="invoices",
    system="erp",
    key="party",
    args={
        "status": arg("status", "enums"),
        "overdue": arg("overdue", "bool"),
        "min_days_overdue": arg("minDaysOverdue", "int"),
        "max_days_overdue": arg("maxDaysOverdue", "int"),
        "due_from": arg("dueFrom", "date"),
        "due_to": arg("dueTo", "date"),
        "issued_from": arg("issuedFrom", "date"),
        "issued_to": arg("issuedTo", "date"),
        "min_amount": arg("minAmount", "money"),
        "max_amount": arg("maxAmount", "money"),
        "min_open_amount": arg("minOpenAmount", "money", "min_open"),
        "max_open_amount": arg("maxOpenAmount", "money", "max_open"),
    },
    ranges=(
        ("min_days_overdue", "max_days_overdue"),
        ("due_from", "due_to"),
        ("issued_from", "issued_to"),
        ("min_amount", "max_amount"),
        ("min_open_amount", "max_open_amount"),
    ),
)
ORDERS = Spec(
    name="orders",
    system="erp",
    key="party",
    args={
        "status": arg("status", "enums"),
        "contract_number": arg("contractNumber", "keys", "contract"),
        "ordered_from": arg("orderedFrom", "date"),
        "ordered_to": arg("orderedTo", "date"),
        "promised_from": arg("promisedFrom", "date"),
        "promised_to": arg("promisedTo", "date"),
        "min_total": arg("minTotal", "money"),
        "max_total": arg("maxTotal", "money"),
        "late": arg("late", "bool"),
    },
    ranges=(("ordered_from", "ordered_to"), ("promised_from", "promised_to"), ("min_total", "max_total")),
)
CONTRACTS = Spec(
    name="contracts",
    system="clm",
    key="counterparty",
    args={
        "status": arg("status", "enums"),
        "kind": arg("kind", "enums"),
        "expiring_before": arg("expiringBefore", "date"),
        "end_from": arg("endFrom", "date"),
        "end_to": arg("endTo", "date"),
        "start_from": arg("startFrom", "date"),
        "start_to": arg("startTo", "date"),
        "min_amount": arg("minAmount", "money"),
        "max_amount": arg("maxAmount", "money"),
    },
    ranges=(("end_from", "end_to"), ("start_from", "start_to"), ("min_amount", "max_amount")),
    needs={"min_amount": "Contract.amount", "max_amount": "Contract.amount", "sort:amount": "Contract.amount"},
)
TICKETS = Spec(
    name="tickets",
    system="desk",
    key="org",
    args={
        "status": arg("status", "enums"),
        "priority": arg("priority", "texts"),
        "kind": arg("kind", "enums"),
        "sla_breached": arg("slaBreached", "bool"),
        "opened_from": arg("openedFrom", "date"),
        "opened_to": arg("openedTo", "date"),
    },
    ranges=(("opened_from", "opened_to"),),
)
OPPORTUNITIES = Spec(
    name="opportunities",
    system="crm",
    key=None,
    args={
        "stage": arg("stage", "texts"),
        "close_from": arg("closeFrom", "date"),
        "close_to": arg("closeTo", "date"),
        "min_amount": arg("minAmount", "money"),
        "max_amount": arg("maxAmount", "money"),
    },
    ranges=(("close_from", "close_to"), ("min_amount", "max_amount")),
    needs={
        "min_amount": "Opportunity.amount",
        "max_amount": "Opportunity.amount",
        "sort:amount": "Opportunity.amount",
    },
)
PRIORITIES = ("P1", "P2", "P3", "P4")
STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST")
ALLOWED_TEXTS = {("tickets", "priority"): PRIORITIES, ("opportunities", "stage"): STAGES}


@dataclass(frozen=True)
class Edge:
    cursor: str
    node: Any


@dataclass(frozen=True)
class Connection:
    edges: list[Edge]
    page_info: PageInfo
    total_count: int
    summary: Summary | None


# --- checking arguments ----------------------------------------------------------------------


def _values(name: str, value: Sequence[Any]) -> list[Any]:
    if len(value) > MAX_VALUES:
        raise BadUserInput(f"`{name}` takes at most {MAX_VALUES} values, got {len(value)}.")
    return list(value)


def _text(name: str, value: str) -> str:
    if not 0 < len(value) <= 64 or "," in value or not value.isprintable():
        raise BadUserInput(f"`{name}` must be 1 to 64 printable characters without commas, got {value[:40]!r}.")
    return value


def param_value(spec_name: str, attr: str, a: Arg, value: Any) -> str:
    """The backend's spelling of one checked filter value."""
    name = f"filter.{a.graphql}"
    if a.kind == "bool":
        return "true" if value else "false"
    if a.kind == "int":
        if not 0 <= value <= MAX_DAYS:
            raise BadUserInput(f"`{name}` must be between 0 and {MAX_DAYS}, got {value}.")
        return str(value)
    if a.kind == "date":
        return str(value.isoformat())
    if a.kind == "money":
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise BadUserInput(f"`{name}` must be an amount.") from None
        if not amount.is_finite() or abs(amount) >= MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
            raise BadUserInput(f"`{name}` must be an amount below 10^13 with at most two decimals, got {value}.")
        return f"{amount:.2f}"
    if a.kind == "enums":
        return joined([item.value if isinstance(item, Enum) else str(item) for item in _values(name, value)])
    if a.kind == "texts":
        allowed = ALLOWED_TEXTS.get((spec_name, attr))
        items = [_text(name, item) for item in _values(name, value)]
        if allowed is not None and any(item not in allowed for item in items):
            raise BadUserInput(f"`{name}` takes {', '.join(allowed)}.")
        return joined(items)
    if a.kind == "keys":
        items = _values(name, value)
        for item in items:
            check_key(item, name)
        return joined(items)
    if a.kind == "key":
        check_key(value, name)
        return str(value)
    return _text(name, value)


def _set(filter_: Any, attr: str) -> Any:
    return None if filter_ is None else getattr(filter_, attr, None)


def filters_of(spec: Spec, filter_: Any, ctx: Context) -> list[tuple[str, str]]:
    """The backend parameters of a list's own filters, checked."""
    pairs = []
    for attr, a in spec.args.items():
        value = _set(filter_, attr)
        if value is None:
            continue
        coordinate = spec.needs.get(attr)
        if coordinate is not None and not ctx.can_read(coordinate):
            raise access.Forbidden(f"Not authorised to filter by `filter.{a.graphql}`: it reveals {coordinate}.")
        pairs.append((a.param, param_value(spec.name, attr, a, value)))
    for low, high in spec.ranges:
        lo, hi = _set(filter_, low), _set(filter_, high)
        if lo is not None and hi is not None and lo > hi:
            raise BadUserInput(
                f"`filter.{spec.args[low].graphql}` ({lo}) must not exceed `filter.{spec.args[high].graphql}` ({hi})."
            )
    return pairs


def customer_filters(ctx: Context, customer: Any) -> list[tuple[str, str]]:
    """The CRM parameters of a customer filter AND the caller's row-level scope (owner, team)."""
    asked_owner = _set(customer, "owner_id")
    if asked_owner is not None:
        check_key(asked_owner, "filter.customer.ownerId")
    owners, scope_team = access.search_filters(ctx, asked_owner)
    pairs: list[tuple[str, str]] = []
    if owners is not None:
        pairs.append(("owner", joined(owners)))
    asked_team = _set(customer, "team")
    if asked_team is not None:
        _text("filter.customer.team", asked_team)
    pairs += team_filter(scope_team, asked_team)
    for attr in ("ids", "region", "industry", "tier"):
        value = _set(customer, attr)
        if value is not None:
            a = CUSTOMER_ARGS[attr]
            pairs.append(
                (a.param, param_value("customers", attr, Arg(f"customer.{a.graphql}", a.param, a.kind), value))
            )
    return pairs


def check_order(spec: Spec, order: Order, ctx: Context) -> None:
    coordinate = spec.needs.get(f"sort:{order.key}")
    if coordinate is not None and not ctx.can_read(coordinate):
        raise access.Forbidden(f"Not authorised to sort by `orderBy.field`: it reveals {coordinate}.")


# --- answering -----------------------------------------------------------------------------


def empty() -> Connection:
    return Connection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0, summary=None)


def connection(spec_name: str, order: Order, page: ListPage[Any]) -> Connection:
    edges = [
        Edge(encode_cursor(spec_name, order, value, row_id), node)
        for node, (value, row_id) in zip(page.items, page.cursors, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.more, end_cursor=edges[-1].cursor if edges else None),
        total_count=page.total,
        summary=page.summary,
    )


async def worklist(
    ctx: Context,
    spec: Spec,
    *,
    filter_: Any,
    order: Order,
    first: int,
    after: str | None,
    summary: bool,
) -> Connection:
    """One page of a worklist: checked, scoped, joined with the customers' keys, asked of its system."""
    check_page_size(first, MAX_PAGE_SIZE)
    check_order(spec, order, ctx)
    keyset = decode_cursor(spec.name, order, after) if after else None
    own = filters_of(spec, filter_, ctx)
    customers = customer_filters(ctx, _set(filter_, "customer"))
    customer_id = _set(filter_, "customer_id")
    if customer_id is not None:
        check_key(customer_id, "filter.customerId")
        customers.append(("ids", customer_id))
    backends = ctx.loaders.backends
    if spec.key is None:  # the CRM's own list: the customer filters go in the same call
        pairs = own + customers
    elif customers:
        refs = await backends.crm.customer_keys(spec.system, customers)
        if not refs:
            return empty()
        check_join(refs, "filter.customer")
        pairs = [*own, (spec.key, joined(refs))]
    else:
        pairs = own
    query = ListQuery(
        filters=tuple(pairs),
        sort=order.spelled,
        after=keyset,
        limit=first,
        summary=summary,
        today=ctx.today,
        now=dt.datetime.now(dt.UTC).replace(second=0, microsecond=0),
    )
    page = await _ask(ctx, spec, query)
    return connection(spec.name, order, page)


async def _ask(ctx: Context, spec: Spec, query: ListQuery) -> ListPage[Any]:
    backends = ctx.loaders.backends
    if spec.system == "erp":
        erp = backends.erp
        if not isinstance(erp, ErpLists):
            raise NotSupported(f"`{spec.name}` needs an ERP that answers worklists; {erp.name} does not.")
        return await (erp.invoice_list(query) if spec is INVOICES else erp.order_list(query))
    if spec.system == "clm":
        return await backends.clm.contract_list(query)
    if spec.system == "desk":
        return await backends.desk.ticket_list(query)
    return await backends.crm.opportunity_list(query)


# --- the way back to the customer: one batch per layer ------------------------------------------


async def customers_of_invoices(ctx: Context, invoices: Sequence[Invoice]) -> list[Any]:
    """Per invoice its customer, if the caller may see it (FORBIDDEN otherwise): one CRM batch for all."""
    loader = ctx.loaders.customer_by_erp_ref
    return await each(
        [_visible(ctx, loader.load(i.party_code), f"the customer of invoice {i.number}") for i in invoices]
    )


async def customers_of_opportunities(ctx: Context, opportunities: Sequence[Opportunity]) -> list[Any]:
    loader = ctx.loaders.customer_by_id
    return await each(
        [_visible(ctx, loader.load(o.customer_id), f"the customer of opportunity {o.id}") for o in opportunities]
    )


async def _visible(ctx: Context, load: Awaitable[Customer | None], what: str) -> Customer | None:
    return await access.visible(ctx, await load, what)


# --- nested: a connection per customer of a layer, one call for all ----------------------------------


async def nested(
    ctx: Context,
    spec: Spec,
    customers: Sequence[Customer],
    *,
    filter_: Any,
    order: Order,
    first: int,
    after: str | None,
) -> list[Any]:
    """Per customer its page of `spec`'s list (a `Connection`, or the exception that cost it), filtered,
    sorted and counted by the system as the root list is, for every customer of the layer in one call.
    The customers are the caller's already (they were checked on the way here); the filter's
    `customer` and `customerId` belong to the root lists."""
    check_page_size(first, MAX_PAGE_SIZE)
    check_order(spec, order, ctx)
    if _set(filter_, "customer") is not None or _set(filter_, "customer_id") is not None:
        raise BadUserInput(
            "`filter.customer` and `filter.customerId` narrow the root lists; here the customer is given."
        )
    keyset = decode_cursor(spec.name, order, after) if after else None
    own = filters_of(spec, filter_, ctx)
    refs = [getattr(customer.refs, spec.system) for customer in customers]
    wanted = [ref for ref in dict.fromkeys(refs) if ref]
    found: dict[str, ListPage[Any]] = {}
    if wanted and spec.key is not None:
        query = ListQuery(
            filters=(*own, (spec.key, joined(wanted))),
            sort=order.spelled,
            after=keyset,
            limit=first,
            today=ctx.today,
            now=dt.datetime.now(dt.UTC).replace(second=0, microsecond=0),
        )
        try:
            found = await _ask_pages(ctx, spec, query, spec.key)
        except (SourceError, GatewayError) as failure:  # one failed call is every parent's answer
            return [failure for _ in customers]
    return [connection(spec.name, order, found[ref]) if ref in found else empty() for ref in refs]


async def _ask_pages(ctx: Context, spec: Spec, query: ListQuery, per: str) -> dict[str, ListPage[Any]]:
    backends = ctx.loaders.backends
    if spec.system == "erp":
        erp = backends.erp
        if not isinstance(erp, ErpLists):
            raise NotSupported(f"`{spec.name}` needs an ERP that answers worklists; {erp.name} does not.")
        return await (erp.invoice_pages if spec is INVOICES else erp.order_pages)(query, per)
    if spec.system == "clm":
        return await backends.clm.contract_pages(query, per)
    return await backends.desk.ticket_pages(query, per)
