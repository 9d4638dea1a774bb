"""Changes as they happen, for subscribers: one evaluation per change, then each subscriber's rules.

Changes come in through `notify` (this process's event endpoint, or another replica's through
Redis) and are coalesced per key: changes about one customer or order that arrive while an
evaluation runs are looked at once, after it. An evaluation takes everything pending in one batch,
in a context of the gateway's own (every customer, every field) with fresh request loaders, so
its backend calls are batched as a query's are: the customers the changes are about (by their
systems' keys, through the CRM), their alerts when anyone subscribes to alerts, and the orders
someone subscribes to. However many subscribers there are, a change costs that one evaluation.

Alerts are compared with the alerts last seen for the customer in this process (up to
`memory` customers): new ones are RAISED, ones whose severity or message changed UPDATED, gone
ones CLEARED. A customer not seen before (since the process started, or long ago) reports its
alerts as they stand, RAISED, except where a subscription named the customer: its alerts are
read when the subscription starts. An evaluation that lost a system (it is down) tells nothing
about that customer's alerts rather than report them cleared.

Then, per subscriber (a `Feed`): the row-level rule of queries (a rep hears of its own
customers, a manager of its team's), the rule `Customer.alerts` follows (receivable alerts only
to callers who may read receivables), and the subscription's filters. What passes waits in the
feed's bounded queue; its payload is the subscription's own selection, executed for each
event through the field guard (`schema.executor`), so a denied field is null there as in a query.
A subscriber that falls `queue_size` events behind is ended (`SubscriberTooSlow`) instead of
holding memory for it, and each principal holds at most `max_per_principal` feeds here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from resolvers.access import sees
from resolvers.alerts import RECEIVABLE_KINDS, Alert, AlertKind, alerts_of_customer
from resolvers.context import Context, Principal
from resolvers.errors import GatewayError
from resolvers.loaders import Loaders
from sources import deadline
from sources.backends import Backends
from sources.changes import Change
from sources.records import Customer, Order

log = logging.getLogger("isthmus.live")

GATEWAY = Principal(id="isthmus-live", name="Change evaluation")


class TooManySubscriptions(GatewayError):
    code = "TOO_MANY_SUBSCRIPTIONS"
    when = "a subscription over the caller's limit (`subscriptions.max_per_principal` at once, per gateway process)"
    http = "200 (the subscription's error)"


class SubscriberTooSlow(GatewayError):
    code = "SUBSCRIBER_TOO_SLOW"
    when = (
        "a subscriber `subscriptions.queue_size` events behind: its subscription is ended (WebSocket closed with "
        "4503, SSE stream ended) rather than buffered; subscribe again"
    )
    http = "4503 (WebSocket close) / the last SSE event"


class AlertAction(Enum):
    RAISED = "RAISED"
    UPDATED = "UPDATED"
    CLEARED = "CLEARED"


@dataclass(frozen=True)
class AlertEvent:
    action: AlertAction
    alert: Alert
    customer: Customer
    changes: list[str]
    at: dt.datetime


@dataclass(frozen=True)
class CustomerEvent:
    customer: Customer
    changes: list[str]
    at: dt.datetime


@dataclass(frozen=True)
class OrderEvent:
    order: Order
    customer: Customer
    changes: list[str]
    at: dt.datetime


Event = AlertEvent | CustomerEvent | OrderEvent
_TOO_SLOW = object()


class Feed:
    """One subscription's events, in a bounded queue; an async iterator for the executor."""

    def __init__(self, live: Live, ctx: Context, topic: tuple[str, str | None], wants: Callable[[Any], bool]) -> None:
        self.live = live
        self.principal = ctx.principal
        self.scope = ctx.scope
        self.reads_receivables = ctx.can_read("Customer.receivables")
        self.topic = topic
        self.wants = wants
        self.queue: asyncio.Queue[Any] = asyncio.Queue(live.queue_size)
        self.closed = False

    def accepts(self, customer: Customer) -> bool:
        return sees(self.scope, self.principal, customer)

    def offer(self, event: Event) -> None:
        if self.closed or not self.wants(event) or not self.accepts(event.customer):
            return
        if isinstance(event, AlertEvent) and event.alert.kind in RECEIVABLE_KINDS and not self.reads_receivables:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # make room for the one thing it will still be told
            self.live.dropped += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_TOO_SLOW)
            self.live.close(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        event = await self.queue.get()
        if event is _TOO_SLOW:
            raise SubscriberTooSlow(
                f"More than {self.live.queue_size} events were waiting for this subscriber; it was ended. "
                "Read events as they come, and subscribe again."
            )
        return event

    async def aclose(self) -> None:
        self.live.close(self)


@dataclass
class _Pending:
    customers: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (system, key) -> change kinds
    orders: dict[str, set[str]] = field(default_factory=dict)

    def add(self, change: Change) -> None:
        for ref in change.customers():
            self.customers.setdefault(ref, set()).add(change.type)
        for order_id in change.orders():
            self.orders.setdefault(order_id, set()).add(change.type)


class Live:
    """The subscriptions of one process and the evaluation of the changes they hear of."""

    def __init__(
        self,
        backends: Backends,
        *,
        queue_size: int = 100,
        max_per_principal: int = 20,
        coalesce: float = 0.02,
        memory: int = 50_000,
        timeout: float = 5.0,
    ) -> None:
        self.backends = backends
        self.queue_size = queue_size
        self.max_per_principal = max_per_principal
        self.coalesce = coalesce
        self.memory = memory
        self.timeout = timeout
        self.feeds: dict[str, set[Feed]] = {"alerts": set(), "customer": set(), "order": set()}
        self.by_principal: dict[str, int] = {}
        self.evaluations = 0  # for the metrics and the tests: batches evaluated
        self.dropped = 0  # subscribers ended for falling behind
        self._known: OrderedDict[str, dict[tuple[AlertKind, str | None], Alert]] = OrderedDict()
        self._pending = _Pending()
        self._wake = asyncio.Event()

    # --- subscribing ---------------------------------------------------------------------

    def subscribers(self) -> int:
        return sum(len(feeds) for feeds in self.feeds.values())

    def open(self, ctx: Context, topic: tuple[str, str | None], wants: Callable[[Any], bool]) -> Feed:
        held = self.by_principal.get(ctx.principal.id, 0)
        if held >= self.max_per_principal:
            raise TooManySubscriptions(
                f"You hold {held} subscriptions on this gateway, the most allowed; end one before starting another."
            )
        feed = Feed(self, ctx, topic, wants)
        self.feeds[topic[0]].add(feed)
        self.by_principal[ctx.principal.id] = held + 1
        return feed

    def close(self, feed: Feed) -> None:
        if feed.closed:
            return
        feed.closed = True
        self.feeds[feed.topic[0]].discard(feed)
        left = self.by_principal.get(feed.principal.id, 1) - 1
        if left > 0:
            self.by_principal[feed.principal.id] = left
        else:
            self.by_principal.pop(feed.principal.id, None)

    async def alerts(
        self,
        ctx: Context,
        kinds: Iterable[AlertKind] | None,
        severities: Iterable[str] | None,
        customer_id: str | None,
    ) -> Feed:
        """A feed of alert changes, for the customers the caller sees, narrowed by the filters given."""
        kind_set, severity_set = (set(kinds) if kinds else None), (set(severities) if severities else None)

        def wants(event: Any) -> bool:
            return (
                (kind_set is None or event.alert.kind in kind_set)
                and (severity_set is None or event.alert.severity in severity_set)
                and (customer_id is None or event.customer.id == customer_id)
            )

        if customer_id is not None and customer_id not in self._known:
            await self._remember(customer_id)
        return self.open(ctx, ("alerts", None), wants)

    def customer(self, ctx: Context, customer: Customer) -> Feed:
        return self.open(ctx, ("customer", customer.id), lambda event: True)

    def order(self, ctx: Context, order: Order) -> Feed:
        return self.open(ctx, ("order", order.id), lambda event: True)

    # --- changes -------------------------------------------------------------------------

    def notify(self, change: Change) -> None:
        """A change happened: it is looked at with whatever else is pending, soon."""
        if not self.subscribers():
            return
        self._pending.add(change)
        self._wake.set()

    async def run(self) -> None:
        """Evaluate pending changes, a batch at a time, for the life of the process."""
        while True:
            await self._wake.wait()
            if self.coalesce:
                await asyncio.sleep(self.coalesce)
            self._wake.clear()
            pending, self._pending = self._pending, _Pending()
            try:
                await self.evaluate(pending)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end every subscription of the process
                log.exception("evaluating %d changed customers failed", len(pending.customers))

    async def evaluate(self, pending: _Pending) -> None:
        self.evaluations += 1
        ctx = self._context()
        loaders = ctx.loaders
        by_system = {
            "crm": loaders.customer_by_id,
            "erp": loaders.customer_by_erp_ref,
            "clm": loaders.customer_by_clm_ref,
            "desk": loaders.customer_by_desk_ref,
        }
        watched = {feed.topic[1] for feed in self.feeds["order"]}
        order_ids = [order_id for order_id in pending.orders if order_id in watched]
        with deadline.bound(self.timeout):
            found, orders = await asyncio.gather(
                asyncio.gather(
                    *(by_system[system].load(key) for system, key in pending.customers), return_exceptions=True
                ),
                asyncio.gather(*(loaders.order_by_id.load(order_id) for order_id in order_ids), return_exceptions=True),
            )
            changed: dict[str, tuple[Customer, set[str]]] = {}
            for kinds, customer in zip(pending.customers.values(), found, strict=True):
                if isinstance(customer, Customer):
                    changed.setdefault(customer.id, (customer, set()))[1].update(kinds)
            now = dt.datetime.now(dt.UTC)
            order_events = await self._order_events(ctx, orders, pending, now)
            alert_events = await self._alert_events(ctx, changed, now) if self.feeds["alerts"] else []
        for event in alert_events:
            for feed in list(self.feeds["alerts"]):
                feed.offer(event)
        for feed in list(self.feeds["customer"]):
            if feed.topic[1] in changed:
                customer, kinds = changed[feed.topic[1]]
                feed.offer(CustomerEvent(customer, sorted(kinds), now))
        for order_event in order_events:
            for feed in list(self.feeds["order"]):
                if feed.topic[1] == order_event.order.id:
                    feed.offer(order_event)

    async def _order_events(
        self, ctx: Context, orders: list[Any], pending: _Pending, now: dt.datetime
    ) -> list[OrderEvent]:
        present = [order for order in orders if isinstance(order, Order)]
        loader = ctx.loaders.customer_by_erp_ref
        customers = await asyncio.gather(*(loader.load(order.party_code) for order in present), return_exceptions=True)
        return [
            OrderEvent(order, customer, sorted(pending.orders[order.id]), now)
            for order, customer in zip(present, customers, strict=True)
            if isinstance(customer, Customer)
        ]

    async def _alert_events(
        self, ctx: Context, changed: dict[str, tuple[Customer, set[str]]], now: dt.datetime
    ) -> list[AlertEvent]:
        customers = [customer for customer, _ in changed.values()]
        evaluated = await asyncio.gather(*(alerts_of_customer(ctx, customer) for customer in customers))
        events = []
        for customer, (alerts, failures) in zip(customers, evaluated, strict=True):
            if failures:  # a system is down: what it would say is unknown, not cleared
                continue
            kinds = sorted(changed[customer.id][1])
            current = {(alert.kind, alert.ref_id): alert for alert in alerts}
            before = self._known.pop(customer.id, {})
            self._remember_alerts(customer.id, current)
            for key, alert in current.items():
                if key not in before:
                    events.append(AlertEvent(AlertAction.RAISED, alert, customer, kinds, now))
                elif before[key] != alert:
                    events.append(AlertEvent(AlertAction.UPDATED, alert, customer, kinds, now))
            events += [
                AlertEvent(AlertAction.CLEARED, alert, customer, kinds, now)
                for key, alert in before.items()
                if key not in current
            ]
        return events

    async def _remember(self, customer_id: str) -> None:
        """Read a customer's alerts as they stand, so the next change is told against them."""
        ctx = self._context()
        with deadline.bound(self.timeout):
            customer = await ctx.loaders.customer_by_id.load(customer_id)
            if not isinstance(customer, Customer):
                return
            alerts, failures = await alerts_of_customer(ctx, customer)
        if not failures:
            self._remember_alerts(customer_id, {(alert.kind, alert.ref_id): alert for alert in alerts})

    def _remember_alerts(self, customer_id: str, alerts: dict[tuple[AlertKind, str | None], Alert]) -> None:
        self._known[customer_id] = alerts
        self._known.move_to_end(customer_id)
        while len(self._known) > self.memory:
            self._known.popitem(last=False)

    def _context(self) -> Context:
        """The gateway's own view: every customer, every field; loaders of its own for one evaluation."""
        return Context(principal=GATEWAY, loaders=Loaders(self.backends), request_id=f"live-{uuid.uuid4().hex[:12]}")
