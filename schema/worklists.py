"""The worklists: top-level connections of invoices, orders, contracts, tickets and opportunities,
with filters, `orderBy`, keyset cursors, an exact `totalCount` and a `summary` for dashboards.

Every filter is evaluated by the system that holds the data (see `resolvers.worklists`); the
summaries are the systems' own aggregates over every matching row, not over the page.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers import relations
from resolvers import worklists as lists
from schema.derived import derived_from
from schema.enums import (
    ContractKind,
    ContractStatus,
    CustomerTier,
    InvoiceStatus,
    OrderStatus,
    TicketKind,
    TicketStatus,
)
from schema.lookahead import selects
from sources.lists import Summary

if TYPE_CHECKING:  # the lazy references below, for the type checker; strawberry resolves them at build time
    from schema.contract import Contract
    from schema.customer import Opportunity, PageInfo
    from schema.order import SalesOrder
    from schema.receivable import Invoice
    from schema.ticket import ServiceTicket

ContractRef = Annotated["Contract", strawberry.lazy("schema.contract")]
OpportunityRef = Annotated["Opportunity", strawberry.lazy("schema.customer")]
SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.receivable")]
TicketRef = Annotated["ServiceTicket", strawberry.lazy("schema.ticket")]
PageInfoRef = Annotated["PageInfo", strawberry.lazy("schema.customer")]


# --- ordering --------------------------------------------------------------------------------


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class InvoiceSortField(Enum):
    DUE_DATE = "due_date"
    ISSUED_AT = "issued_at"
    AMOUNT = "amount"
    OPEN_AMOUNT = "open_amount"
    DAYS_OVERDUE = "days_overdue"
    NUMBER = "number"


@strawberry.enum
class OrderSortField(Enum):
    ORDERED_AT = "ordered_at"
    PROMISED_DATE = "promised_date"
    TOTAL = "total"
    NUMBER = "number"


@strawberry.enum
class ContractSortField(Enum):
    END_DATE = "end_date"
    START_DATE = "start_date"
    AMOUNT = "amount"
    NUMBER = "number"


@strawberry.enum
class TicketSortField(Enum):
    OPENED_AT = "opened_at"
    SLA_DUE_AT = "sla_due_at"
    PRIORITY = "priority"


@strawberry.enum
class OpportunitySortField(Enum):
    CLOSE_DATE = "close_date"
    AMOUNT = "amount"
    PROBABILITY = "probability"
    NAME = "name"


@strawberry.enum
class CustomerSortField(Enum):
    LAST_ACTIVITY_AT = "last_activity_at"
    NAME = "name"
    TIER = "tier"
    CREATED_AT = "created_at"


@strawberry.input(description="Sort by `field`; ties by id, ascending.")
class InvoiceOrder:
    field: InvoiceSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Sort by `field`; ties by id, ascending.")
class OrderOrder:
    field: OrderSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Sort by `field`; ties by id, ascending.")
class ContractOrder:
    field: ContractSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Sort by `field`; ties by id, ascending.")
class TicketOrder:
    field: TicketSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Sort by `field`; ties by id, ascending.")
class OpportunityOrder:
    field: OpportunitySortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Sort by `field`; ties by id, ascending.")
class CustomerOrder:
    field: CustomerSortField
    direction: SortDirection = SortDirection.ASC


FIRST = 20
INVOICE_ORDER = lists.Order("issued_at", True)
ORDER_ORDER = lists.Order("ordered_at", True)
CONTRACT_ORDER = lists.Order("number", False)
TICKET_ORDER = lists.Order("opened_at", True)


def order_of(order: Any, default: lists.Order) -> lists.Order:
    if order is None:
        return default
    return lists.Order(order.field.value, order.direction is SortDirection.DESC)


# --- filters ---------------------------------------------------------------------------------


@strawberry.input(description="Which customers' records: the CRM's customers (row-level rules always apply on top).")
class CustomerFilter:
    ids: list[strawberry.ID] | None = None
    owner_id: strawberry.ID | None = None
    team: str | None = None
    region: list[str] | None = None
    industry: list[str] | None = None
    tier: list[CustomerTier] | None = None


@strawberry.input
class InvoiceFilter:
    customer: CustomerFilter | None = None
    customer_id: strawberry.ID | None = None
    status: list[InvoiceStatus] | None = None
    overdue: bool | None = strawberry.field(default=None, description="Open, with something past due today.")
    min_days_overdue: int | None = None
    max_days_overdue: int | None = None
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    issued_from: dt.date | None = None
    issued_to: dt.date | None = None
    min_amount: Decimal | None = strawberry.field(default=None, description="Gross.")
    max_amount: Decimal | None = strawberry.field(default=None, description="Gross.")
    min_open_amount: Decimal | None = strawberry.field(default=None, description="Gross, still owed.")
    max_open_amount: Decimal | None = strawberry.field(default=None, description="Gross, still owed.")


@strawberry.input
class OrderFilter:
    customer: CustomerFilter | None = None
    customer_id: strawberry.ID | None = None
    status: list[OrderStatus] | None = None
    contract_number: list[str] | None = None
    ordered_from: dt.date | None = None
    ordered_to: dt.date | None = None
    promised_from: dt.date | None = None
    promised_to: dt.date | None = None
    min_total: Decimal | None = strawberry.field(default=None, description="Net.")
    max_total: Decimal | None = strawberry.field(default=None, description="Net.")
    late: bool | None = strawberry.field(default=None, description="Confirmed or processing, past its promised date.")


@strawberry.input
class ContractFilter:
    customer: CustomerFilter | None = None
    customer_id: strawberry.ID | None = None
    status: list[ContractStatus] | None = None
    kind: list[ContractKind] | None = None
    expiring_before: dt.date | None = strawberry.field(
        default=None, description="Not ended yet, ending on or before this day."
    )
    end_from: dt.date | None = None
    end_to: dt.date | None = None
    start_from: dt.date | None = None
    start_to: dt.date | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None


@strawberry.input
class TicketFilter:
    customer: CustomerFilter | None = None
    customer_id: strawberry.ID | None = None
    status: list[TicketStatus] | None = None
    priority: list[str] | None = strawberry.field(default=None, description="P1 to P4.")
    kind: list[TicketKind] | None = None
    sla_breached: bool | None = strawberry.field(
        default=None, description="Resolved after its SLA due time, or unresolved past it (to the minute)."
    )
    opened_from: dt.date | None = None
    opened_to: dt.date | None = None


@strawberry.input
class OpportunityFilter:
    customer: CustomerFilter | None = None
    customer_id: strawberry.ID | None = None
    stage: list[str] | None = strawberry.field(
        default=None, description="PROSPECTING, QUALIFICATION, PROPOSAL, NEGOTIATION, CLOSED_WON, CLOSED_LOST."
    )
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None


# --- summaries ------------------------------------------------------------------------------


@strawberry.type(description="Rows sharing a key, and what they sum to.")
class AmountBucket:
    key: str
    count: int
    amount: Decimal


@strawberry.type(description="Rows sharing a key.")
class CountBucket:
    key: str
    count: int


@strawberry.type(description="A named figure of a summary, for dashboard tiles and BI exports (one row each).")
class Metric:
    name: str
    value: float | None


AGING = ("current", "d1to30", "d31to60", "d61to90", "over90")


def amount_buckets(summary: Summary, group: str, keys: tuple[str, ...] | None = None) -> list[AmountBucket]:
    found = {bucket.key or "": bucket for bucket in summary.groups.get(group, [])}
    wanted = keys if keys is not None else tuple(found)
    return [
        AmountBucket(
            key=key,
            count=found[key].count if key in found else 0,
            amount=found[key].amount if key in found else Decimal("0.00"),
        )
        for key in wanted
    ]


def count_buckets(summary: Summary, group: str) -> list[CountBucket]:
    return [CountBucket(key=bucket.key or "", count=bucket.count) for bucket in summary.groups.get(group, [])]


def ratio(part: float | None, whole: float | None) -> float | None:
    return None if not whole or part is None else round(part / whole, 4)


@strawberry.type(description="Over every invoice the filter matches, computed by the ERP.")
class InvoiceSummary:
    count: int
    total_amount: Decimal = strawberry.field(description="Gross.")
    open_amount: Decimal = strawberry.field(description="Gross, still owed.")
    overdue_amount: Decimal = strawberry.field(description="Gross, open and past due.")
    aging: list[AmountBucket] = strawberry.field(
        description="The open amount by days past due: current, d1to30, d31to60, d61to90, over90."
    )
    by_status: list[AmountBucket] = strawberry.field(description="Count and open amount per status.")
    dso: float | None = strawberry.field(
        description="Days sales outstanding: open amount / gross amount issued in the 90 days before today x 90 "
        "(null when nothing was issued then)."
    )

    @strawberry.field(description="dso, count, openAmount and overdueAmount as rows.")
    def metrics(self) -> list[Metric]:
        return [
            Metric(name="dso", value=self.dso),
            Metric(name="count", value=float(self.count)),
            Metric(name="openAmount", value=float(self.open_amount)),
            Metric(name="overdueAmount", value=float(self.overdue_amount)),
        ]

    @classmethod
    def of(cls, summary: Summary) -> InvoiceSummary:
        return cls(
            count=summary.count,
            total_amount=summary.sums.get("amount", Decimal("0.00")),
            open_amount=summary.sums.get("open", Decimal("0.00")),
            overdue_amount=summary.sums.get("overdue", Decimal("0.00")),
            aging=amount_buckets(summary, "aging", AGING),
            by_status=amount_buckets(summary, "status"),
            dso=summary.metrics.get("dso"),
        )


@strawberry.type(description="Over every order the filter matches, computed by the ERP.")
class OrderSummary:
    count: int
    total_net: Decimal
    uninvoiced_net: Decimal
    by_status: list[AmountBucket] = strawberry.field(description="Count and net total per status.")
    delivered_count: int = strawberry.field(description="SHIPPED or DONE, with a promised date.")
    on_time_count: int = strawberry.field(description="Delivered, the last shipment by the promised date.")
    on_time_delivery_rate: float | None = strawberry.field(
        description="onTimeCount / deliveredCount (null when none was delivered)."
    )

    @strawberry.field(description="onTimeDeliveryRate, deliveredCount, onTimeCount and count as rows.")
    def metrics(self) -> list[Metric]:
        return [
            Metric(name="onTimeDeliveryRate", value=self.on_time_delivery_rate),
            Metric(name="deliveredCount", value=float(self.delivered_count)),
            Metric(name="onTimeCount", value=float(self.on_time_count)),
            Metric(name="count", value=float(self.count)),
        ]

    @classmethod
    def of(cls, summary: Summary) -> OrderSummary:
        delivered, on_time = summary.metrics.get("delivered") or 0, summary.metrics.get("on_time") or 0
        return cls(
            count=summary.count,
            total_net=summary.sums.get("total", Decimal("0.00")),
            uninvoiced_net=summary.sums.get("uninvoiced", Decimal("0.00")),
            by_status=amount_buckets(summary, "status"),
            delivered_count=int(delivered),
            on_time_count=int(on_time),
            on_time_delivery_rate=ratio(on_time, delivered),
        )


@strawberry.type(description="Over every contract the filter matches, computed by the CLM.")
class ContractSummary:
    count: int
    total_amount: Decimal | None = strawberry.field(metadata=derived_from("Contract.amount"))
    by_status: list[CountBucket]
    by_kind: list[CountBucket]

    @classmethod
    def of(cls, summary: Summary) -> ContractSummary:
        return cls(
            count=summary.count,
            total_amount=summary.sums.get("amount", Decimal("0.00")),
            by_status=count_buckets(summary, "status"),
            by_kind=count_buckets(summary, "kind"),
        )


@strawberry.type(description="Over every ticket the filter matches, computed by the desk.")
class TicketSummary:
    count: int
    by_status: list[CountBucket]
    by_priority: list[CountBucket]
    sla_breached_count: int
    sla_breach_rate: float | None = strawberry.field(description="slaBreachedCount / count (null when none).")

    @strawberry.field(description="slaBreachRate, slaBreachedCount and count as rows.")
    def metrics(self) -> list[Metric]:
        return [
            Metric(name="slaBreachRate", value=self.sla_breach_rate),
            Metric(name="slaBreachedCount", value=float(self.sla_breached_count)),
            Metric(name="count", value=float(self.count)),
        ]

    @classmethod
    def of(cls, summary: Summary) -> TicketSummary:
        breached = int(summary.metrics.get("breached") or 0)
        return cls(
            count=summary.count,
            by_status=count_buckets(summary, "status"),
            by_priority=count_buckets(summary, "priority"),
            sla_breached_count=breached,
            sla_breach_rate=ratio(breached, summary.count),
        )


OPPORTUNITY_AMOUNT = derived_from("Opportunity.amount")


@strawberry.type(description="Over every opportunity the filter matches, computed by the CRM.")
class OpportunitySummary:
    count: int
    total_amount: Decimal | None = strawberry.field(metadata=OPPORTUNITY_AMOUNT)
    weighted_amount: Decimal | None = strawberry.field(
        description="The sum of amount x probability.", metadata=OPPORTUNITY_AMOUNT
    )
    by_stage: list[AmountBucket] | None = strawberry.field(
        description="Count and amount per stage.", metadata=OPPORTUNITY_AMOUNT
    )

    @classmethod
    def of(cls, summary: Summary) -> OpportunitySummary:
        return cls(
            count=summary.count,
            total_amount=summary.sums.get("amount", Decimal("0.00")),
            weighted_amount=summary.sums.get("weighted", Decimal("0.00")),
            by_stage=amount_buckets(summary, "stage"),
        )


@strawberry.type(description="Over every customer the filter matches, computed by the CRM.")
class CustomerSummary:
    count: int
    by_tier: list[CountBucket]
    by_region: list[CountBucket]

    @classmethod
    def of(cls, summary: Summary) -> CustomerSummary:
        return cls(
            count=summary.count, by_tier=count_buckets(summary, "tier"), by_region=count_buckets(summary, "region")
        )


# --- connections -----------------------------------------------------------------------------


def _summary(kind: Any, root: Any) -> Any:
    return None if root.summary is None else kind.of(root.summary)


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: InvoiceRef


@strawberry.type
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfoRef
    total_count: int

    @strawberry.field(description="Aggregates over every match (asked of the ERP only when selected).")
    def summary(self) -> InvoiceSummary | None:
        return _summary(InvoiceSummary, self)


@strawberry.type
class OrderEdge:
    cursor: str
    node: SalesOrderRef


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfoRef
    total_count: int

    @strawberry.field(description="Aggregates over every match (asked of the ERP only when selected).")
    def summary(self) -> OrderSummary | None:
        return _summary(OrderSummary, self)


@strawberry.type
class ContractEdge:
    cursor: str
    node: ContractRef


@strawberry.type
class ContractConnection:
    edges: list[ContractEdge]
    page_info: PageInfoRef
    total_count: int

    @strawberry.field(description="Aggregates over every match (asked of the CLM only when selected).")
    def summary(self) -> ContractSummary | None:
        return _summary(ContractSummary, self)


@strawberry.type
class TicketEdge:
    cursor: str
    node: TicketRef


@strawberry.type
class TicketConnection:
    edges: list[TicketEdge]
    page_info: PageInfoRef
    total_count: int

    @strawberry.field(description="Aggregates over every match (asked of the desk only when selected).")
    def summary(self) -> TicketSummary | None:
        return _summary(TicketSummary, self)


@strawberry.type
class OpportunityEdge:
    cursor: str
    node: OpportunityRef


@strawberry.type
class OpportunityConnection:
    edges: list[OpportunityEdge]
    page_info: PageInfoRef
    total_count: int

    @strawberry.field(description="Aggregates over every match (asked of the CRM only when selected).")
    def summary(self) -> OpportunitySummary | None:
        return _summary(OpportunitySummary, self)


# --- nested: a customer's lists as connections, one call per layer of customers ---------------------


async def _nested(
    spec: lists.Spec,
    default: lists.Order,
    customers: list[Any],
    info: Info,
    arguments: dict[str, Any],
) -> list[Any]:
    """A nested list's pages (arguments converted as strawberry converts them, on both executors)."""
    first = arguments.get("first", FIRST)
    return await lists.nested(
        info.context,
        spec,
        customers,
        filter_=arguments.get("filter"),
        order=order_of(arguments.get("order_by"), default),
        first=FIRST if first is None else first,
        after=arguments.get("after"),
    )


async def invoices_of(customers: list[Any], info: Info, **arguments: Any) -> list[Any]:
    return await _nested(lists.INVOICES, INVOICE_ORDER, customers, info, arguments)


async def orders_of(customers: list[Any], info: Info, **arguments: Any) -> list[Any]:
    pages = await _nested(lists.ORDERS, ORDER_ORDER, customers, info, arguments)
    orders = [edge.node for page in pages if not isinstance(page, Exception) for edge in page.edges]
    relations.prefetch_lines(
        info.context,
        orders,
        products=selects(info, "edges.node.lines.product"),
        stock=selects(info, "edges.node.lines.product.availability"),
    )
    return pages


async def contracts_of(customers: list[Any], info: Info, **arguments: Any) -> list[Any]:
    return await _nested(lists.CONTRACTS, CONTRACT_ORDER, customers, info, arguments)


async def tickets_of(customers: list[Any], info: Info, **arguments: Any) -> list[Any]:
    return await _nested(lists.TICKETS, TICKET_ORDER, customers, info, arguments)


# --- the root fields ------------------------------------------------------------------------


@strawberry.type
class WorklistQuery:
    @strawberry.field(
        description="Invoices of the customers the caller sees, filtered and sorted by the ERP (newest first by "
        "default), with an exact totalCount.",
        metadata=derived_from("Customer.receivables"),
    )
    async def invoices(
        self,
        info: Info,
        filter: InvoiceFilter | None = None,
        order_by: InvoiceOrder | None = None,
        first: int | None = FIRST,
        after: str | None = None,
    ) -> InvoiceConnection | None:  # nullable: a caller who may not read receivables gets null, not a nulled `data`
        return await _page(info, lists.INVOICES, filter, order_of(order_by, INVOICE_ORDER), first, after)

    @strawberry.field(
        description="Sales orders of the customers the caller sees, filtered and sorted by the ERP (newest first by "
        "default), with an exact totalCount."
    )
    async def orders(
        self,
        info: Info,
        filter: OrderFilter | None = None,
        order_by: OrderOrder | None = None,
        first: int | None = FIRST,
        after: str | None = None,
    ) -> OrderConnection:
        found = await _page(info, lists.ORDERS, filter, order_of(order_by, ORDER_ORDER), first, after)
        relations.prefetch_lines(
            info.context,
            [edge.node for edge in found.edges],
            products=selects(info, "edges.node.lines.product"),
            stock=selects(info, "edges.node.lines.product.availability"),
        )
        return found

    @strawberry.field(
        description="Contracts of the customers the caller sees (all contracts, suppliers' included, for callers "
        "who see every customer and give no customer filter), filtered and sorted by the CLM (by number by "
        "default). Filtering or sorting by amount needs Contract.amount."
    )
    async def contracts(
        self,
        info: Info,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
        first: int | None = FIRST,
        after: str | None = None,
    ) -> ContractConnection:
        return await _page(info, lists.CONTRACTS, filter, order_of(order_by, CONTRACT_ORDER), first, after)

    @strawberry.field(
        description="Service tickets of the customers the caller sees, filtered and sorted by the desk (newest "
        "first by default), with an exact totalCount."
    )
    async def tickets(
        self,
        info: Info,
        filter: TicketFilter | None = None,
        order_by: TicketOrder | None = None,
        first: int | None = FIRST,
        after: str | None = None,
    ) -> TicketConnection:
        return await _page(info, lists.TICKETS, filter, order_of(order_by, TICKET_ORDER), first, after)

    @strawberry.field(
        description="Opportunities of the customers the caller sees, filtered and sorted by the CRM (by close date "
        "by default). Filtering or sorting by amount needs Opportunity.amount."
    )
    async def opportunities(
        self,
        info: Info,
        filter: OpportunityFilter | None = None,
        order_by: OpportunityOrder | None = None,
        first: int | None = FIRST,
        after: str | None = None,
    ) -> OpportunityConnection:
        order = order_of(order_by, lists.Order("close_date", False))
        return await _page(info, lists.OPPORTUNITIES, filter, order, first, after)


async def _page(
    info: Info, spec: lists.Spec, filter_: Any, order: lists.Order, first: int | None, after: str | None
) -> Any:
    return await lists.worklist(
        info.context,
        spec,
        filter_=filter_,
        order=order,
        first=FIRST if first is None else first,
        after=after,
        summary=selects(info, "summary"),
    )
