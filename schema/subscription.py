"""The root Subscription: changes as the systems of record announce them (resolvers/live.py).

Each field checks what it names as the query of the same thing does (a customer or order the
caller may not see is refused alike, FORBIDDEN or NOT_FOUND), then hands back the caller's feed.
Every event is executed with the subscription's own selection through the field guard, so a
denied field is null in a pushed payload as in a query; the row-level rule is applied to each
event for each subscriber before it is queued. They are served over WebSocket
(graphql-transport-ws) and SSE (graphql-sse), never as a plain POST (server/subscriptions.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from resolvers import lookups
from resolvers.live import AlertAction, Live
from schema.customer import Alert, Customer
from schema.enums import AlertKind

if TYPE_CHECKING:
    from schema.order import SalesOrder

SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]
strawberry.enum(AlertAction)


@strawberry.type(description="An alert of a customer raised, changed or cleared by a change in a system of record.")
class AlertEvent:
    action: AlertAction
    alert: Alert
    customer: Customer
    changes: list[str] = strawberry.field(description="The kinds of the changes that led to it, e.g. invoice.overdue.")
    at: dt.datetime


@strawberry.type(description="A customer whose records changed in a system of record.")
class CustomerChange:
    customer: Customer
    changes: list[str] = strawberry.field(description="The kinds of the changes, e.g. payment.received.")
    at: dt.datetime


@strawberry.type(description="An order that changed in the ERP (status, shipments, invoices, payments).")
class OrderChange:
    order: SalesOrderRef
    changes: list[str] = strawberry.field(description="The kinds of the changes, e.g. order.status_changed.")
    at: dt.datetime


def live(info: Info) -> Live:
    hub: Live | None = info.context.live
    if hub is None:
        raise RuntimeError("subscriptions need the gateway's change hub (resolvers.live.Live) in the context")
    return hub


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Alerts of the customers you see as they are raised, change or clear: OVERDUE_RECEIVABLE and "
        "CREDIT_LIMIT only if you may read receivables. Narrow with kinds, severities (HIGH, MEDIUM, LOW) and a customer."
    )
    async def alerts(
        self,
        info: Info,
        kinds: list[AlertKind] | None = None,
        severities: list[str] | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> AsyncIterator[AlertEvent]:
        if customer_id is not None:
            await lookups.customer_by_id(info.context, customer_id)
        feed: Any = await live(info).alerts(info.context, kinds, severities, customer_id)
        return feed

    @strawberry.subscription(description="Each change to a customer's records in any system, as it is announced.")
    async def customer_changed(self, info: Info, id: strawberry.ID) -> AsyncIterator[CustomerChange]:
        customer = await lookups.customer_by_id(info.context, id)
        feed: Any = live(info).customer(info.context, customer)
        return feed

    @strawberry.subscription(description="Each change to an order in the ERP, as it is announced.")
    async def order_changed(self, info: Info, id: strawberry.ID) -> AsyncIterator[OrderChange]:
        order = await lookups.order_by_id(info.context, id)
        feed: Any = live(info).order(info.context, order)
        return feed
