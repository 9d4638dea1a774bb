"""The cross-request cache of one source method, in process, on a clock the test moves.

TTL, stale-if-error within the grace, the bound and single-flight, proven on
`MethodCache` directly with a scripted `fetch`: no sleeping, no processes. The
end-to-end proof that a real gateway uses it is tests/test_caching.py; what one
caller's deadline or cancellation does to the others is tests/test_caller_isolation.py.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from types import SimpleNamespace

import httpx
import msgspec
import orjson
import pytest

import sources.cache
from sources import freshness, received
from sources.base import Items
from sources.cache import ENTRY_BYTES, RESIDENT_PER_BYTE, ByteBudget, CachePolicy, MethodCache
from sources.erp import ErpSource
from sources.errors import SourceError, SourceUnavailable
from sources.http import BackendClient
from sources.records import Order


class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sources.cache, "time", SimpleNamespace(monotonic=clock, perf_counter=time.perf_counter))
    return clock


class Backend:
    """A scripted fetch: counts calls and the keys asked; fails while `down`; waits for `gate` when given."""

    def __init__(self) -> None:
        self.calls: list[list] = []
        self.down = False
        self.version = 1
        self.gate: asyncio.Event | None = None

    async def __call__(self, keys: list) -> list:
        self.calls.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise SourceUnavailable("ERP", "stock", "scripted outage")
        return [f"{key}@v{self.version}" for key in keys]


def cache(**overrides) -> MethodCache:
    return MethodCache("ERP", "stock", **{"ttl": 10.0, "grace": 30.0, "maxsize": 100, **overrides})


async def test_an_entry_is_served_for_its_ttl_and_fetched_again_after(clock):
    backend, method = Backend(), cache()
    assert await method.get_many(["A"], backend) == ["A@v1"]
    backend.version = 2
    clock.advance(10.0)  # exactly the TTL: still fresh
    assert await method.get_many(["A"], backend) == ["A@v1"]
    assert len(backend.calls) == 1
    clock.advance(0.001)
    assert await method.get_many(["A"], backend) == ["A@v2"]
    assert backend.calls == [["A"], ["A"]]


async def test_entries_past_the_ttl_and_grace_let_go_of_their_bytes(clock):
    backend, method = Lists({"A": 3, "B": 3}), cache(ttl=10.0, grace=30.0)
    await method.get_many(["A", "B"], backend)
    clock.advance(41)  # past TTL + grace: neither can be served, even stale
    await method.get_many(["C"], backend)  # a write lets the expired go
    only_c = cache()
    await only_c.get_many(["C"], backend)
    assert len(method) == 1 and method.bytes == only_c.bytes


async def test_only_the_missing_keys_reach_the_backend(clock):
    backend, method = Backend(), cache()
    await method.get_many(["A", "B"], backend)
    assert await method.get_many(["B", "C", "A", "C"], backend) == ["B@v1", "C@v1", "A@v1", "C@v1"]
    assert backend.calls == [["A", "B"], ["C"]]  # C asked once although it appears twice


async def test_a_request_asking_for_fresher_data_refetches_and_reports_the_age(clock):
    backend, method = Backend(), cache()
    await method.get_many(["A"], backend)
    clock.advance(4.0)
    with freshness.reporting() as report:
        assert await method.get_many(["A"], backend) == ["A@v1"]
    assert report.ages == {"ERP": 4.0} and report.stale == set()
    backend.version = 2
    with freshness.requiring(3.0), freshness.reporting() as report:
        assert await method.get_many(["A"], backend) == ["A@v2"]  # 4 s old is too old for this request
    assert report.ages == {"ERP": 0.0}
    assert len(backend.calls) == 2


async def test_a_failing_backend_is_answered_stale_within_the_grace_and_with_the_error_after(clock):
    backend, method = Backend(), cache()
    await method.get_many(["A"], backend)
    backend.down = True
    clock.advance(10.0 + 29.0)  # past the TTL, within the 30 s grace
    with freshness.reporting() as report:
        assert await method.get_many(["A"], backend) == ["A@v1"]
    assert report.stale == {"ERP"} and report.ages["ERP"] == pytest.approx(39.0)
    clock.advance(1.001)  # past TTL + grace: the entry is gone
    with freshness.reporting() as report:
        [gone] = await method.get_many(["A"], backend)
    assert isinstance(gone, SourceUnavailable)
    assert report.ages == {}  # an error is no data served
    assert len(backend.calls) == 3


async def test_a_key_never_fetched_gets_the_error_not_a_stale_value(clock):
    backend, method = Backend(), cache()
    backend.down = True
    [answer] = await method.get_many(["A"], backend)
    assert isinstance(answer, SourceError)
    backend.down = False
    assert await method.get_many(["A"], backend) == ["A@v1"]  # an error is never cached


async def test_per_key_errors_leave_the_other_keys_cached(clock):
    async def half(keys: list) -> list:
        return [SourceUnavailable("ERP", "stock", "no") if key == "B" else f"{key}@v1" for key in keys]

    method = cache()
    answers = await method.get_many(["A", "B"], half)
    assert answers[0] == "A@v1" and isinstance(answers[1], SourceUnavailable)
    assert len(method) == 1


async def test_the_cache_keeps_at_most_maxsize_entries_dropping_the_least_recently_used(clock):
    backend, method = Backend(), cache(maxsize=50)
    keys = [f"K{n:03}" for n in range(300)]
    assert await method.get_many(keys, backend) == [f"{key}@v1" for key in keys]
    assert len(method) == 50 and method.maxsize == 50
    await method.get_many(["K299"], backend)  # the newest are the ones kept
    assert len(backend.calls) == 1
    await method.get_many(["K000"], backend)  # the oldest went first
    assert backend.calls[-1] == ["K000"]
    assert len(method) == 50


async def test_concurrent_misses_for_a_key_share_one_backend_call(clock):
    backend, method = Backend(), cache()
    backend.gate = asyncio.Event()
    requests = [asyncio.create_task(method.get_many(["A", "B"], backend)) for _ in range(20)]
    await asyncio.sleep(0)  # every request has looked and joined the one fill
    late = asyncio.create_task(method.get_many(["B", "C"], backend))
    await asyncio.sleep(0)
    backend.gate.set()
    assert await asyncio.gather(*requests) == [["A@v1", "B@v1"]] * 20
    assert await late == ["B@v1", "C@v1"]
    assert backend.calls == [["A", "B"], ["C"]]  # B joined the fill in flight; only C was new
    assert not method._inflight


async def test_a_key_fetched_again_after_a_shared_fill_starts_a_fill_of_its_own(clock):
    backend, method = Backend(), cache(ttl=0.0, grace=0.0)
    await asyncio.gather(method.get_many(["A"], backend), method.get_many(["A"], backend))
    await method.get_many(["A"], backend)  # TTL 0: nothing is served from the cache, nothing stays in flight
    assert backend.calls == [["A"], ["A"]]


async def test_a_bug_in_the_fetch_is_raised_in_every_waiting_request(clock):
    gate = asyncio.Event()

    async def broken(keys: list) -> list:
        await gate.wait()
        raise ZeroDivisionError("a bug, not a backend failure")

    method = cache()
    requests = [asyncio.create_task(method.get_many(["A"], broken)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(outcome, ZeroDivisionError) for outcome in outcomes)
    assert not method._inflight  # the next request tries again


# --- bounded by bytes: entries weighed by the answers that filled them ---------------------


class Lists:
    """A scripted fetch of lists: per key `records[key]` items, each of `json_bytes` bytes of JSON
    received (what the HTTP client reports for a real backend)."""

    def __init__(self, records: dict, json_bytes: int = 1000) -> None:
        self.records = records
        self.json_bytes = json_bytes
        self.calls: list[list] = []

    async def __call__(self, keys: list) -> list:
        self.calls.append(list(keys))
        received.add(self.json_bytes * sum(self.records.get(key, 1) for key in keys))
        return [[f"{key}#{n}" for n in range(self.records.get(key, 1))] for key in keys]


def weight(records: int, json_bytes: int = 1000) -> int:
    return ENTRY_BYTES + RESIDENT_PER_BYTE * json_bytes * records


async def test_an_entry_weighs_its_share_of_the_answers_that_filled_it(clock):
    method = cache()
    await method.get_many(["A", "B", "C"], Lists({"A": 3, "B": 1, "C": 0}))
    assert method.bytes == weight(3) + weight(1) + weight(0)


async def test_past_the_byte_budget_the_least_recently_used_go(clock):
    budget = ByteBudget(10 * weight(1))
    backend, method = Lists({}), cache(budget=budget)
    for n in range(30):  # three times what the budget holds, well within the entries' bound
        await method.get_many([f"K{n:02}"], backend)
        assert budget.used <= budget.max_bytes
    assert len(method) == 10 and method.bytes == 10 * weight(1)
    await method.get_many(["K29"], backend)  # the newest are the ones kept
    assert len(backend.calls) == 30
    await method.get_many(["K00"], backend)  # the oldest went first
    assert backend.calls[-1] == ["K00"]


async def test_the_cache_holding_the_most_gives_way_first(clock):
    budget = ByteBudget(weight(20) * 3 + weight(1) * 5)
    small, large = cache(budget=budget), MethodCache("ERP", "orders_by_party", ttl=10.0, grace=30.0, maxsize=100, budget=budget)
    await small.get_many([f"P{n}" for n in range(5)], Lists({}))
    for n in range(6):
        await large.get_many([f"O{n}"], Lists({f"O{n}": 20}))
    assert len(small) == 5  # the small look-ups stay
    assert len(large) == 3 and budget.used <= budget.max_bytes


async def test_an_entry_larger_than_the_whole_budget_is_answered_not_kept(clock):
    budget = ByteBudget(weight(10))
    method = cache(budget=budget)
    backend = Lists({"A": 1})
    await method.get_many(["A"], backend)
    clock.advance(11)  # past the TTL: fetched again, and now the answer is huge
    backend.records["A"] = 50
    assert len((await method.get_many(["A"], backend))[0]) == 50
    assert len(method) == 0  # neither the huge value nor the older one in its place
    assert await method.get_many(["A"], backend) and len(backend.calls) == 3


def test_a_record_weighs_about_what_it_holds():
    """RESIDENT_PER_BYTE against what decoded records really take (tracemalloc)."""
    order = {"id": "O1", "number": "SO-2026-000001", "party_code": "P00001", "contract_number": "CT-2025-00001",
             "status": "CONFIRMED", "ordered_at": "2026-11-28T10:41:57Z", "promised_date": "2026-12-12",
             "warehouse": "WH-EU", "currency": "EUR", "total": "4904.59", "shipped_amount": "0.00",
             "invoiced_amount": "0.00", "paid_amount": "0.00", "tax_amount": "931.87", "invoiced_tax_amount": "0.00",
             "paid_tax_amount": "0.00", "lines": [{"line_no": n, "sku": f"SKU-{n:04}", "quantity": "8.00",
             "shipped_quantity": "0.00", "unit_price": "486.90", "amount": "3895.20", "unit_cost": "283.87",
             "tax_rate": "0.1900", "tax_amount": "740.09"} for n in range(3)]}
    body = orjson.dumps({"items": [{**order, "id": f"O{n}", "number": f"SO-{n}"} for n in range(500)]})
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = msgspec.json.decode(body, type=Items[Order])
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert 0.75 < RESIDENT_PER_BYTE * len(body) / size < 1.5, (size, len(body))
    del held


async def test_a_source_cache_is_weighed_by_its_backends_bytes_and_kept_within_the_budget():
    """Over HTTP (a scripted backend): the client's bytes reach the weights; a small budget evicts."""
    orders = {f"P{n}": [{"id": f"O{n}-{i}", "number": f"SO-{n}-{i}", "party_code": f"P{n}", "status": "DONE",
                         "total": "10.00"} for i in range(n % 4)] for n in range(40)}
    sent: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        parties = request.url.params["party"].split(",")
        body = orjson.dumps({"items": [order for party in parties for order in orders[party]]})
        sent.append(len(body))
        return httpx.Response(200, content=body)

    client = BackendClient("ERP", "http://erp.invalid", transport="httpx", retries=0)
    client._client = httpx.AsyncClient(base_url=client.base_url, transport=httpx.MockTransport(answer))
    policy = CachePolicy(ttl={"orders": 30}, max_bytes=10**9)
    erp = ErpSource(client, policy)
    await erp.orders_by_party(["P1", "P2", "P3", "P4"])
    assert erp.caches["orders_by_party"].bytes == 4 * ENTRY_BYTES + RESIDENT_PER_BYTE * sent[0]

    per_order = sent[0] // 6  # P1..P4 have 1 + 2 + 3 + 0 orders
    small = CachePolicy(ttl={"orders": 30}, max_bytes=10 * weight(2, json_bytes=per_order))  # about 10 of the 40
    erp = ErpSource(client, small)
    for n in range(40):
        await erp.orders_by_party([f"P{n}"])
    cached = erp.caches["orders_by_party"]
    assert small.budget.used <= small.max_bytes and 0 < len(cached) < 40  # filled past the bound, and evicted
    calls = len(sent)
    await erp.orders_by_party(["P39"])  # the newest kept
    assert len(sent) == calls
    await client.aclose()
