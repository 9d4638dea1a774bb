"""Customer and what hangs off it in the CRM, plus the cross-system views of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers import customers as find
from resolvers import relations, worklists
from resolvers.alerts import alerts_of_customer
from resolvers.batches import each, one
from resolvers.receivables import receivables_of_customers
from resolvers.risk import risk_of_customers
from resolvers.timeline import timeline_of_customer
from schema import worklists as lists
from schema.batched import batched
from schema.derived import derived_from
from schema.enums import AlertKind, ContractStatus, CustomerTier, OrderStatus, RiskLevel, SourceName, TicketStatus
from schema.order import prefetched

if TYPE_CHECKING:  # the lazy references below, for the type checker; strawberry resolves them at build time
    from schema.contract import Contract
    from schema.order import SalesOrder
    from schema.receivable import Receivables
    from schema.ticket import ServiceTicket

ContractRef = Annotated["Contract", strawberry.lazy("schema.contract")]
SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]
ReceivablesRef = Annotated["Receivables", strawberry.lazy("schema.receivable")]
TicketRef = Annotated["ServiceTicket", strawberry.lazy("schema.ticket")]

MAX_ACTIVITIES = 50
MAX_TIMELINE = 200


# --- batch resolvers: one call for all the customers (or activities) of a layer ------------


async def reps(info: Info, rep_ids: list[str | None]) -> list[Any]:
    loader = info.context.loaders.sales_rep_by_id
    return await each([loader.load(rep_id) if rep_id else None for rep_id in rep_ids])


async def contacts_of(customers: list[Any], info: Info) -> list[Any]:
    loader = info.context.loaders.contacts_by_customer
    return await each([loader.load(customer.id) for customer in customers])


async def opportunities_of(customers: list[Any], info: Info) -> list[Any]:
    loader = info.context.loaders.opportunities_by_customer
    return await each([loader.load(customer.id) for customer in customers])


async def activities_of(customers: list[Any], info: Info, last: int | None = 10) -> list[Any]:
    last = 10 if last is None else last
    find.check_page_size(last, MAX_ACTIVITIES, name="last")
    loader = info.context.loaders.activities_by_customer
    found = await each([loader.load(customer.id) for customer in customers])
    return [activities if isinstance(activities, Exception) else activities[:last] for activities in found]


async def contracts_of(customers: list[Any], info: Info, status: ContractStatus | None = None) -> list[Any]:
    found = await relations.contracts_of_customers(info.context, customers)
    return [_with_status(contracts, status) for contracts in found]


async def tickets_of(customers: list[Any], info: Info, status: TicketStatus | None = None) -> list[Any]:
    found = await relations.tickets_of_customers(info.context, customers)
    return [_with_status(tickets, status) for tickets in found]


async def orders_of(
    customers: list[Any], info: Info, status: OrderStatus | None = None, first: int | None = 20
) -> list[Any]:
    """Each customer's newest orders; their lines' products (and stock) loaded in the same round
    trip when the query reads them (`schema.order.prefetched`), for all the customers at once."""
    first = 20 if first is None else first
    find.check_page_size(first)
    found = await relations.orders_of_customers(info.context, customers)
    pages = [orders if isinstance(orders, Exception) else _with_status(orders, status)[:first] for orders in found]
    prefetched(info, [order for page in pages if not isinstance(page, Exception) for order in page])
    return pages


async def receivables_of(customers: list[Any], info: Info) -> list[Any]:
    return await receivables_of_customers(info.context, customers)


def customers_of_opportunities(opportunities: list[Any], info: Info) -> Any:
    return worklists.customers_of_opportunities(info.context, opportunities)


async def risk_of(customers: list[Any], info: Info) -> list[Any]:
    return await risk_of_customers(info.context, customers)


def _with_status(items: Any, status: Any) -> Any:
    """The items of a status (None: all); an exception stays the answer."""
    if isinstance(items, Exception) or status is None:
        return items
    return [item for item in items if item.status is status]


@strawberry.type
class SalesRep:
    id: strawberry.ID
    name: str
    email: str | None
    team: str | None


@strawberry.type
class ExternalRefs:
    crm: strawberry.ID
    erp: strawberry.ID | None
    clm: strawberry.ID | None
    desk: strawberry.ID | None


@strawberry.type
class Contact:
    id: strawberry.ID
    name: str
    title: str | None
    email: str | None
    phone: str | None


@strawberry.type
class Opportunity:
    id: strawberry.ID
    name: str
    stage: str
    amount: Decimal | None
    close_date: dt.date | None
    probability: float | None

    @strawberry.field(metadata=batched(customers_of_opportunities))
    async def customer(self, info: Info) -> Customer | None:
        return await one(customers_of_opportunities, self, info)


@strawberry.type
class Activity:
    id: strawberry.ID
    kind: str
    subject: str
    at: dt.datetime

    @strawberry.field(metadata=batched(lambda activities, info: reps(info, [a.by_rep_id for a in activities])))
    async def by(self, info: Info) -> SalesRep | None:
        return (await reps(info, [self.by_rep_id]))[0]


@strawberry.type
class Alert:
    kind: AlertKind
    severity: str
    message: str
    source: SourceName
    ref_id: strawberry.ID | None


@strawberry.type
class TimelineEvent:
    at: dt.datetime
    source: SourceName
    kind: str
    summary: str
    ref_id: strawberry.ID | None


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID
    name: str
    tax_id: str | None
    tier: CustomerTier | None
    industry: str | None
    region: str | None
    credit_rating: str | None

    @strawberry.field(
        description="Derived live from credit rating, overdue receivables and open complaints.",
        metadata={
            **derived_from(
                "Customer.receivables",
                coarse="three levels from the rating, the age of overdue invoices and complaints; no balance can be "
                "recomputed from it, and no caller input moves it",
            ),
            **batched(risk_of),
        },
    )
    async def risk(self, info: Info) -> RiskLevel | None:
        return await one(risk_of, self, info)

    @strawberry.field(metadata=batched(lambda customers, info: reps(info, [c.owner_id for c in customers])))
    async def owner(self, info: Info) -> SalesRep | None:
        return (await reps(info, [self.owner_id]))[0]

    @strawberry.field
    def refs(self) -> ExternalRefs:
        return ExternalRefs(crm=self.id, erp=self.refs.erp, clm=self.refs.clm, desk=self.refs.desk)

    @strawberry.field(metadata=batched(contacts_of))
    async def contacts(self, info: Info) -> list[Contact] | None:
        return await one(contacts_of, self, info)

    @strawberry.field(metadata=batched(opportunities_of))
    async def opportunities(self, info: Info) -> list[Opportunity] | None:
        return await one(opportunities_of, self, info)

    @strawberry.field(metadata=batched(activities_of))
    async def activities(self, info: Info, last: int | None = 10) -> list[Activity] | None:
        return await one(activities_of, self, info, last=last)

    @strawberry.field(metadata=batched(contracts_of))
    async def contracts(self, info: Info, status: ContractStatus | None = None) -> list[ContractRef] | None:
        return await one(contracts_of, self, info, status=status)

    @strawberry.field(metadata=batched(orders_of))
    async def orders(
        self, info: Info, status: OrderStatus | None = None, first: int | None = 20
    ) -> list[SalesOrderRef] | None:
        return await one(orders_of, self, info, status=status, first=first)

    @strawberry.field(metadata=batched(receivables_of))
    async def receivables(self, info: Info) -> ReceivablesRef | None:
        return await one(receivables_of, self, info)

    @strawberry.field(metadata=batched(tickets_of))
    async def tickets(self, info: Info, status: TicketStatus | None = None) -> list[TicketRef] | None:
        return await one(tickets_of, self, info, status=status)

    @strawberry.field(
        description="The customer's invoices as a connection: filtered, sorted and counted by the ERP for every "
        "customer of the page in one call (`summary` is null here).",
        metadata={**derived_from("Customer.receivables"), **batched(lists.invoices_of)},
    )
    async def invoices_connection(
        self,
        info: Info,
        filter: lists.InvoiceFilter | None = None,
        order_by: lists.InvoiceOrder | None = None,
        first: int | None = lists.FIRST,
        after: str | None = None,
    ) -> lists.InvoiceConnection | None:
        return await one(lists.invoices_of, self, info, filter=filter, order_by=order_by, first=first, after=after)

    @strawberry.field(
        description="The customer's orders as a connection (no cap at 100): filtered, sorted and counted by the "
        "ERP for every customer of the page in one call (`summary` is null here).",
        metadata=batched(lists.orders_of),
    )
    async def orders_connection(
        self,
        info: Info,
        filter: lists.OrderFilter | None = None,
        order_by: lists.OrderOrder | None = None,
        first: int | None = lists.FIRST,
        after: str | None = None,
    ) -> lists.OrderConnection | None:
        return await one(lists.orders_of, self, info, filter=filter, order_by=order_by, first=first, after=after)

    @strawberry.field(
        description="The customer's contracts as a connection, paged and counted by the CLM for every customer "
        "of the page in one call (`summary` is null here).",
        metadata=batched(lists.contracts_of),
    )
    async def contracts_connection(
        self,
        info: Info,
        filter: lists.ContractFilter | None = None,
        order_by: lists.ContractOrder | None = None,
        first: int | None = lists.FIRST,
        after: str | None = None,
    ) -> lists.ContractConnection | None:
        return await one(lists.contracts_of, self, info, filter=filter, order_by=order_by, first=first, after=after)

    @strawberry.field(
        description="The customer's tickets as a connection, paged and counted by the desk for every customer "
        "of the page in one call (`summary` is null here).",
        metadata=batched(lists.tickets_of),
    )
    async def tickets_connection(
        self,
        info: Info,
        filter: lists.TicketFilter | None = None,
        order_by: lists.TicketOrder | None = None,
        first: int | None = lists.FIRST,
        after: str | None = None,
    ) -> lists.TicketConnection | None:
        return await one(lists.tickets_of, self, info, filter=filter, order_by=order_by, first=first, after=after)

    @strawberry.field(
        metadata=derived_from(
            "Customer.receivables",
            coarse="overdue-receivable and credit-limit alerts are left out for callers who may not read receivables",
        )
    )
    async def alerts(
        self,
        info: Info,
        supply: Annotated[
            bool,
            strawberry.argument(
                description="Also the supply-side alerts of its orders (SUPPLIER_DELAY, PRODUCTION_LATE, "
                "QUALITY_HOLD), which read the stock, the SRM and the MES."
            ),
        ] = False,
    ) -> list[Alert] | None:
        alerts, failures = await alerts_of_customer(info.context, self, supply=supply)
        for failure in failures:
            info.context.report_partial(info.path, failure)
        return alerts

    @strawberry.field(
        description="Events from every system about this customer, newest first.",
        metadata=derived_from(
            "Customer.receivables",
            coarse="invoice events are left out for callers who may not read receivables",
        ),
    )
    async def timeline(self, info: Info, first: int | None = 20) -> list[TimelineEvent] | None:
        first = 20 if first is None else first
        find.check_page_size(first, MAX_TIMELINE)
        events, failures = await timeline_of_customer(info.context, self, first)
        for failure in failures:
            info.context.report_partial(info.path, failure)
        return events


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int | None

    @strawberry.field(description="Aggregates over every match (asked of the CRM only when selected).")
    def summary(self) -> lists.CustomerSummary | None:
        found = self.summary
        return None if found is None else lists.CustomerSummary.of(found)
