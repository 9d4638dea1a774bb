"""Customer and what hangs off it in the CRM, plus the cross-system views of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info

from resolvers import customers as find
from resolvers import relations
from resolvers.alerts import alerts_of_customer
from resolvers.receivables import receivables_of_customer
from resolvers.risk import risk_of_customer
from resolvers.timeline import timeline_of_customer
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


@strawberry.type
class Activity:
    id: strawberry.ID
    kind: str
    subject: str
    at: dt.datetime

    @strawberry.field
    async def by(self, info: Info) -> SalesRep | None:
        if not self.by_rep_id:
            return None
        return await info.context.loaders.sales_rep_by_id.load(self.by_rep_id)


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
        metadata=derived_from(
            "Customer.receivables",
            coarse="three levels from the rating, the age of overdue invoices and complaints; no balance can be "
            "recomputed from it, and no caller input moves it",
        ),
    )
    async def risk(self, info: Info) -> RiskLevel | None:
        return await risk_of_customer(info.context, self)

    @strawberry.field
    async def owner(self, info: Info) -> SalesRep | None:
        if not self.owner_id:
            return None
        return await info.context.loaders.sales_rep_by_id.load(self.owner_id)

    @strawberry.field
    def refs(self) -> ExternalRefs:
        return ExternalRefs(crm=self.id, erp=self.refs.erp, clm=self.refs.clm, desk=self.refs.desk)

    @strawberry.field
    async def contacts(self, info: Info) -> list[Contact] | None:
        return await info.context.loaders.contacts_by_customer.load(self.id)

    @strawberry.field
    async def opportunities(self, info: Info) -> list[Opportunity] | None:
        return await info.context.loaders.opportunities_by_customer.load(self.id)

    @strawberry.field
    async def activities(self, info: Info, last: int | None = 10) -> list[Activity] | None:
        last = 10 if last is None else last
        find.check_page_size(last, MAX_ACTIVITIES, name="last")
        return (await info.context.loaders.activities_by_customer.load(self.id))[:last]

    @strawberry.field
    async def contracts(self, info: Info, status: ContractStatus | None = None) -> list[ContractRef] | None:
        contracts = await relations.contracts_of_customer(info.context, self)
        return [c for c in contracts if status is None or c.status is status]

    @strawberry.field
    async def orders(
        self, info: Info, status: OrderStatus | None = None, first: int | None = 20
    ) -> list[SalesOrderRef] | None:
        first = 20 if first is None else first
        find.check_page_size(first)
        orders = await relations.orders_of_customer(info.context, self)
        return await prefetched(info, [o for o in orders if status is None or o.status is status][:first])

    @strawberry.field
    async def receivables(self, info: Info) -> ReceivablesRef | None:
        return await receivables_of_customer(info.context, self)

    @strawberry.field
    async def tickets(self, info: Info, status: TicketStatus | None = None) -> list[TicketRef] | None:
        tickets = await relations.tickets_of_customer(info.context, self)
        return [t for t in tickets if status is None or t.status is status]

    @strawberry.field(
        metadata=derived_from(
            "Customer.receivables",
            coarse="overdue-receivable and credit-limit alerts are left out for callers who may not read receivables",
        )
    )
    async def alerts(self, info: Info) -> list[Alert] | None:
        alerts, failures = await alerts_of_customer(info.context, self)
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
