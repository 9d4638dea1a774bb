"""The change hub in process (resolvers/live.py): one evaluation per change however many subscribe,
bursts coalesced per key, the row-level rule per subscriber, and a slow subscriber ended, not buffered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import in_process_with
from resolvers.context import Principal
from resolvers.live import AlertEvent, CustomerEvent, Live, SubscriberTooSlow, _Pending
from sources.changes import Change, ChangeData
from sources.lists import ListQuery


@pytest.fixture(scope="module")
def running():
    with in_process_with(resilience={"breaker": False}) as gateway:
        yield gateway


def services(running: Any) -> Any:
    return running.running.gateway.app.state.services


def context(running: Any, user: str, *roles: str, team: str | None = None) -> Any:
    gateway = running.running.gateway.app.state.gateway
    return gateway.context_for(Principal(id=user, roles=roles, team=team), f"test-{user}")


def a_customer(running: Any) -> Any:
    """A customer with something overdue (the alerts below are about it), the first by creation: an activity
    another test logs in the shared demo CRM does not change which."""
    backends = services(running).backends
    overdue = running.running.run(backends.erp.party_keys([("overdue", "true")]))
    query = ListQuery(filters=(("erp", ",".join(overdue)),), sort="created_at", limit=50)
    page = running.running.run(backends.crm.customer_list(query))
    return next(c for c in page.items if c.owner_id)


def change_for(customer: Any, kind: str = "invoice.overdue") -> Change:
    return Change("erp", f"evt-{kind}", kind, ChangeData(party_code=customer.refs.erp))


def evaluate(running: Any, live: Live, *changes: Change) -> None:
    pending = _Pending()
    for change in changes:
        pending.add(change)
    running.running.run(live.evaluate(pending))


def calls_to_evaluate(running: Any, subscribers: int, customer: Any) -> tuple[int, list[int]]:
    live = Live(services(running).backends, memory=10)
    feeds = [
        live.open(context(running, f"fin-{n}", "finance"), ("alerts", None), lambda event: True)
        for n in range(subscribers)
    ]
    services(running).backends.invalidation.drop("ERP", change_for(customer).stale()["ERP"])
    running.reset_stats()
    evaluate(running, live, change_for(customer))
    return sum(running.calls().values()), [feed.queue.qsize() for feed in feeds]


def test_a_thousand_subscribers_cost_one_evaluation_of_a_change(running):
    customer = a_customer(running)
    calls_to_evaluate(running, 1, customer)  # what the change did not make stale is cached from here on
    one, told_one = calls_to_evaluate(running, 1, customer)
    thousand, told = calls_to_evaluate(running, 1000, customer)
    assert one > 0 and thousand == one  # the same backend calls for 1 and 1,000 subscribers
    assert told_one[0] > 0 and set(told) == {told_one[0]}  # and every one of them told the same


def test_a_burst_about_one_customer_is_evaluated_once(running):
    customer = a_customer(running)
    live = Live(services(running).backends)
    feed = live.open(context(running, "fin-burst", "finance"), ("customer", customer.id), lambda event: True)
    evaluate(running, live, *(change_for(customer, kind) for kind in ["invoice.overdue", "payment.received"] * 50))
    assert live.evaluations == 1 and feed.queue.qsize() == 1
    event = feed.queue.get_nowait()
    assert isinstance(event, CustomerEvent) and event.changes == ["invoice.overdue", "payment.received"]


def test_each_subscriber_is_told_only_of_the_customers_it_sees(running):
    customer = a_customer(running)
    live = Live(services(running).backends)
    owner = live.open(context(running, customer.owner_id, "sales_rep"), ("customer", customer.id), lambda e: True)
    other = live.open(context(running, "R-nobody", "sales_rep"), ("customer", customer.id), lambda e: True)
    team = live.open(context(running, "M-1", "sales_manager", team=customer.team), ("customer", customer.id), lambda e: True)
    evaluate(running, live, change_for(customer))
    assert (owner.queue.qsize(), other.queue.qsize(), team.queue.qsize()) == (1, 0, 1)


def test_receivable_alerts_go_only_to_those_who_may_read_receivables(running):
    customer = a_customer(running)
    live = Live(services(running).backends)
    finance = live.open(context(running, "fin-r", "finance"), ("alerts", None), lambda e: True)
    service = live.open(context(running, "svc-r", "service_agent"), ("alerts", None), lambda e: True)
    evaluate(running, live, change_for(customer))
    kinds = lambda feed: {e.alert.kind.value for e in list(feed.queue._queue) if isinstance(e, AlertEvent)}  # noqa: E731
    assert not kinds(service) & {"OVERDUE_RECEIVABLE", "CREDIT_LIMIT"}
    assert kinds(service) <= kinds(finance)


def test_a_slow_subscriber_is_ended_not_buffered(running):
    customer = a_customer(running)
    live = Live(services(running).backends, queue_size=3)
    slow = live.open(context(running, "fin-slow", "finance"), ("customer", customer.id), lambda e: True)
    for n in range(5):
        slow.offer(CustomerEvent(customer, [f"change-{n}"], None))  # type: ignore[arg-type]
    assert slow.closed and live.dropped == 1 and live.subscribers() == 0
    assert slow.queue.qsize() == 1  # only the word that it was ended

    async def next_event() -> Any:
        return await slow.__anext__()

    with pytest.raises(SubscriberTooSlow):
        running.running.run(next_event())


def test_a_principal_is_limited_and_a_closed_feed_frees_its_place(running):
    live = Live(services(running).backends, max_per_principal=2)
    ctx = context(running, "fin-limit", "finance")
    first = live.open(ctx, ("alerts", None), lambda e: True)
    live.open(ctx, ("alerts", None), lambda e: True)
    with pytest.raises(Exception, match="subscriptions"):
        live.open(ctx, ("alerts", None), lambda e: True)
    asyncio.run(first.aclose())
    live.open(ctx, ("alerts", None), lambda e: True)
