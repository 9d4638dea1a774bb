"""Backend budgets in process: calls at once and per second, priority classes, shedding, the adaptive limit.

The machinery (sources/admission.py) is driven directly and through `BackendClient` over
httpx's MockTransport; the gateway's parts (the class of a request, BACKEND_BUSY in an
answer with `Retry-After`) through an in-process gateway over the demo apps. Nothing here
asserts how long anything took: waits are bounded by settings and the assertions are on
order, counts and codes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from graphql import parse

from server.priorities import class_of
from server.settings import BudgetsSettings
from sources import admission, deadline
from sources.admission import BATCH, INTERACTIVE, PATIENCE, WORKLIST, AdaptiveLimit, Budget
from sources.errors import BackendBusy
from sources.http import BackendClient

LONG = {INTERACTIVE: 30.0, WORKLIST: 30.0, BATCH: 30.0}


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def busy_calls(budget: Budget, count: int, klass: str = INTERACTIVE, hold: float = 0.005) -> int:
    """`count` concurrent calls through `budget` that each hold a slot for a moment; the most at once."""
    state = {"now": 0, "peak": 0}

    async def call() -> None:
        with admission.classed(klass):
            lease = await budget.acquire("m")
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(hold)
        state["now"] -= 1
        lease.release()

    await asyncio.gather(*(call() for _ in range(count)))
    return state["peak"]


def test_no_more_calls_at_once_than_the_budget_and_every_call_completes():
    budget = Budget("ERP", 4, max_wait=LONG)
    assert run(busy_calls(budget, 40)) == 4
    assert budget.in_flight == 0 and budget.peak == 4 and budget.sheds == 0


def test_batch_work_takes_at_most_its_share_and_leaves_the_rest_to_people():
    async def scenario() -> tuple[int, int]:
        budget = Budget("ERP", 4, max_wait=LONG)
        batch = asyncio.gather(busy_calls(budget, 12, BATCH, hold=0.02))
        await asyncio.sleep(0.005)
        assert budget.in_flight == 2  # half of 4: batch may not start a third
        with admission.classed(INTERACTIVE):
            first = await budget.acquire("m")
            second = await budget.acquire("m")  # both without waiting: the other half is free
        assert budget.in_flight == 4
        first.release()
        second.release()
        (peak,) = await batch
        return peak, budget.peak

    peak, overall = run(scenario())
    assert peak == 2 and overall == 4


def test_the_queue_serves_interactive_before_worklist_before_batch_then_in_arrival_order():
    async def scenario() -> list[str]:
        budget = Budget("ERP", 1, max_wait=LONG)
        held = await budget.acquire("m")
        order: list[str] = []

        async def wait(klass: str, name: str) -> None:
            with admission.classed(klass):
                lease = await budget.acquire("m")
            order.append(name)
            lease.release()

        tasks = []
        for klass, name in ((BATCH, "b1"), (WORKLIST, "w1"), (INTERACTIVE, "i1"), (BATCH, "b2"), (INTERACTIVE, "i2")):
            tasks.append(asyncio.create_task(wait(klass, name)))
            await asyncio.sleep(0)
        assert budget.queued() == {INTERACTIVE: 2, WORKLIST: 1, BATCH: 2}
        held.release()
        await asyncio.gather(*tasks)
        return order

    assert run(scenario()) == ["i1", "i2", "w1", "b1", "b2"]


def test_batch_work_queued_behind_a_stream_of_interactive_calls_slows_down_but_is_not_starved():
    async def scenario() -> list[str]:
        budget = Budget("ERP", 1, max_wait=LONG)
        held = await budget.acquire("m")
        order: list[str] = []

        async def wait(klass: str, name: str) -> None:
            with admission.classed(klass):
                lease = await budget.acquire("m")
            order.append(name)
            lease.release()

        tasks = [asyncio.create_task(wait(BATCH, "batch"))]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(wait(INTERACTIVE, f"i{n}")) for n in range(30)]
        await asyncio.sleep(0)
        held.release()
        await asyncio.gather(*tasks)
        return order

    order = run(scenario())
    assert order.index("batch") == PATIENCE[BATCH]  # after eight interactive calls, not after all thirty


def test_a_call_that_waits_longer_than_its_class_may_is_shed_with_a_retry_after():
    async def scenario() -> tuple[BackendBusy, Budget]:
        budget = Budget("ERP", 1, max_wait={INTERACTIVE: 0.02, WORKLIST: 0.02, BATCH: 0.02})
        held = await budget.acquire("m")
        with pytest.raises(BackendBusy) as shed:
            await budget.acquire("orders")
        held.release()
        return shed.value, budget

    error, budget = run(scenario())
    assert error.code == "BACKEND_BUSY" and error.source == "ERP" and error.method == "orders"
    assert error.retry_after >= 1
    assert budget.sheds == 1 and budget.in_flight == 0 and budget.queued()[INTERACTIVE] == 0
    assert budget.saturated  # it shed a moment ago


def test_the_request_deadline_bounds_the_wait_in_the_queue():
    async def scenario() -> Budget:
        budget = Budget("ERP", 1, max_wait=LONG)
        held = await budget.acquire("m")
        with deadline.bound(0.02), pytest.raises(BackendBusy):
            await budget.acquire("m")
        held.release()
        return budget

    assert run(scenario()).in_flight == 0


def test_a_call_cancelled_while_queued_leaves_no_slot_taken():
    async def scenario() -> Budget:
        budget = Budget("ERP", 1, max_wait=LONG)
        held = await budget.acquire("m")
        waiting = asyncio.create_task(budget.acquire("m"))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        held.release()
        again = await budget.acquire("m")  # the slot is free: no waiting here
        again.release()
        return budget

    budget = run(scenario())
    assert budget.in_flight == 0 and budget.queued() == {INTERACTIVE: 0, WORKLIST: 0, BATCH: 0}


def test_the_rate_limit_queues_calls_past_the_burst_until_tokens_come_back():
    async def scenario() -> tuple[int, int]:
        budget = Budget("ERP", 100, rate=20.0, max_wait=LONG)  # a burst of 20, then 20 a second
        leases = [await budget.acquire("m") for _ in range(20)]
        late = asyncio.create_task(budget.acquire("m"))
        await asyncio.sleep(0)
        queued = budget.queued()[INTERACTIVE]
        leases.append(await late)  # granted by the timer when the next token is due
        for lease in leases:
            lease.release()
        return queued, budget.sheds

    assert run(scenario()) == (1, 0)


def test_the_class_travels_with_the_request_into_the_tasks_it_starts():
    async def scenario() -> list[str]:
        with admission.classed(BATCH):
            inner = asyncio.create_task(asyncio.sleep(0, admission.current()))
        return [await inner, admission.current()]

    assert run(scenario()) == [BATCH, INTERACTIVE]
    with pytest.raises(ValueError):
        with admission.classed("urgent"):
            pass


def test_the_adaptive_limit_shrinks_while_latency_is_high_and_grows_back_when_it_recovers():
    limit = AdaptiveLimit(16, minimum=2, window=0.0, min_samples=5)

    def windows(latency: float, count: int) -> list[int]:
        seen = []
        for _ in range(count):
            for _ in range(5):
                limit.observe(latency, dropped=False)
            seen.append(limit.limit)
        return seen

    assert windows(0.020, 3) == [16, 16, 16]  # the baseline: 20 ms
    shrinking = windows(0.060, 12)  # tripled
    assert shrinking == sorted(shrinking, reverse=True) and shrinking[-1] == 2
    growing = windows(0.020, 12)
    assert growing == sorted(growing) and growing[-1] == 16
    limit.observe(None, dropped=True)  # a call ran into its timeout: shrink at once
    assert limit.limit < 16


def test_a_budget_with_an_adaptive_limit_admits_no_more_than_the_current_limit():
    adaptive = AdaptiveLimit(8, minimum=1)
    adaptive.limit = 3
    budget = Budget("ERP", 8, max_wait=LONG, adaptive=adaptive)
    assert run(busy_calls(budget, 20)) == 3


def mock_client(handler: Any, budget: Budget, retries: int = 2) -> BackendClient:
    client = BackendClient("ERP", "http://erp.test", transport="httpx", retries=retries, budget=budget)
    client._client = httpx.AsyncClient(base_url="http://erp.test", transport=httpx.MockTransport(handler))
    return client


def test_the_client_keeps_to_the_budget_and_a_shed_call_is_never_sent_nor_retried():
    sent = {"now": 0, "peak": 0, "total": 0}
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        sent["total"] += 1
        sent["now"] += 1
        sent["peak"] = max(sent["peak"], sent["now"])
        await release.wait()
        sent["now"] -= 1
        return httpx.Response(200, json={"items": []})

    async def scenario() -> list[Any]:
        budget = Budget("ERP", 2, max_wait={INTERACTIVE: 0.05, WORKLIST: 0.05, BATCH: 0.05})
        client = mock_client(handler, budget)
        calls = [asyncio.create_task(client.get("orders", "/orders", {"id": str(n)})) for n in range(5)]
        await asyncio.sleep(0.2)  # three of them wait past their 50 ms and are shed
        release.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert client.breaker.state == "closed" and budget.in_flight == 0
        await client.aclose()
        return results

    results = run(scenario())
    shed = [r for r in results if isinstance(r, BackendBusy)]
    assert len(shed) == 3 and sent["total"] == 2 and sent["peak"] == 2


def test_a_shed_write_is_reported_as_busy_not_as_an_unknown_outcome():
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={})

    async def scenario() -> None:
        budget = Budget("ERP", 1, max_wait={INTERACTIVE: 0.01, WORKLIST: 0.01, BATCH: 0.01})
        client = mock_client(handler, budget)
        held = await budget.acquire("m")
        with pytest.raises(BackendBusy):
            await client.write("placeOrder", "POST", "/orders", {}, idempotency_key="k1")
        held.release()
        await client.aclose()

    run(scenario())


def test_the_class_of_a_request_comes_from_its_document_operation_entities_roles_or_the_default():
    settings = BudgetsSettings(
        operations={"Worklist": "worklist", "Quote": "interactive"},
        documents={"sha256:abc": "batch"},
        roles={"bi_reader": "batch", "analyst": "worklist", "sales_rep": "interactive"},
        entities="batch",
    )

    def of(text: str, document_id: str | None = None, roles: tuple[str, ...] = ()) -> str:
        operation = parse(text).definitions[0]
        return class_of(settings, operation=operation, document_id=document_id, roles=roles)  # type: ignore[arg-type]

    assert of("query Quote { a }", document_id="sha256:abc") == "batch"
    assert of("query Worklist { a }", roles=("bi_reader",)) == "worklist"
    assert of('query { _entities(representations: []) { __typename } }', roles=("sales_rep",)) == "batch"
    assert of("query { a }", roles=("bi_reader", "analyst")) == "worklist"  # the most urgent of the roles
    assert of("query { a }", roles=("sales_rep", "bi_reader")) == "interactive"
    assert of("query { a }", roles=("nobody",)) == "interactive"


def test_a_shed_call_answers_backend_busy_with_retry_after_and_shows_in_metrics_and_readiness():
    from conftest import bearer, in_process_with

    settings = {
        "erp": {"url": "http://erp.demo", "budget": {"max_concurrent": 1}},
        "budgets": {"max_wait": {"interactive": 0.05}},
        "cache": {"enabled": False},
    }
    with in_process_with(**settings) as gateway:
        running = gateway.running
        sku = running.run(running.gateway.demo["erp"].get("/products")).json()["items"][0]["sku"]
        payload = {"query": "query($s: ID!) { product(sku: $s) { sku name } }", "variables": {"s": sku}}
        headers = bearer("admin", user="two-tabs")

        async def two_at_once() -> list[httpx.Response]:
            client = running.gateway.client
            await running.gateway.faults("erp", latency_ms=300)
            try:
                return list(await asyncio.gather(*(client.post("/graphql", json=payload, headers=headers) for _ in "ab")))
            finally:
                await running.gateway.faults("erp", latency_ms=0)

        answers = running.run(two_at_once())
        busy = [r for r in answers if "errors" in r.json()]
        assert len(busy) == 1 and busy[0].status_code == 200
        error = busy[0].json()["errors"][0]
        assert error["extensions"]["code"] == "BACKEND_BUSY" and error["extensions"]["source"] == "ERP"
        assert busy[0].headers["Retry-After"] == str(error["extensions"]["retryAfter"])
        served = next(r for r in answers if r is not busy[0]).json()
        assert served["data"]["product"]["sku"] == sku and "Retry-After" not in next(r for r in answers if r is not busy[0]).headers

        metrics = gateway.http.get("/metrics").text
        assert 'isthmus_backend_shed_total{class="interactive",source="ERP"} 1.0' in metrics
        assert 'isthmus_backend_concurrency_limit{source="ERP"} 1.0' in metrics
        assert 'isthmus_backend_queue_wait_seconds_count{class="interactive",source="ERP"}' in metrics
        ready = gateway.http.get("/readyz?details").json()
        assert ready["status"] == "degraded" and ready["sources"]["ERP"]["budget"]["saturated"] is True
        assert ready["sources"]["CRM"]["budget"] == {
            "limit": 32,
            "inFlight": 0,
            "queued": {"interactive": 0, "worklist": 0, "batch": 0},
            "saturated": False,
        }


def test_a_bi_readers_calls_queue_as_batch_and_an_admins_as_interactive():
    from conftest import BI_AUTH, BI_KEY, in_process_with

    with in_process_with(auth=BI_AUTH, cache={"enabled": False}) as gateway:
        gateway.http.get("/bi/CustomersOverCreditLimit.json", headers={"X-API-Key": BI_KEY}).raise_for_status()
        metrics = gateway.http.get("/metrics").text
    batch = [line for line in metrics.splitlines() if line.startswith("isthmus_backend_queue_wait_seconds_count")]
    assert any('class="batch",source="CRM"' in line and not line.endswith(" 0.0") for line in batch)
    assert not any('class="interactive"' in line for line in batch)  # the export made every call


class FlakyShared:
    """A shared budget whose Redis goes away at the first ask (as `SharedBudget` reports it: None)."""

    replicas = 2

    def __init__(self) -> None:
        self.up = True
        self.asked = 0

    async def acquire(self, klass: str, limit: int, cap: int, wait: float) -> str | None:
        self.asked += 1
        await asyncio.sleep(0.001)  # a round trip: other calls are let in meanwhile, under the whole budget
        self.up = False
        return None

    async def release(self, lease: str) -> None:
        raise AssertionError("no lease was granted")


def test_calls_let_in_under_the_shared_budget_when_redis_goes_away_keep_to_this_replicas_share():
    shared = FlakyShared()
    budget = Budget("ERP", 4, max_wait=LONG, shared=shared)
    assert run(busy_calls(budget, 20)) == 2  # 4 / 2 replicas
    assert budget.limit == 2 and shared.asked >= 1
