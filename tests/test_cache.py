"""The cross-request cache of one source method, in process, on a clock the test moves.

TTL, stale-if-error within the grace, the bound and single-flight, proven on
`MethodCache` directly with a scripted `fetch`: no sleeping, no processes. The
end-to-end proof that a real gateway uses it is tests/test_caching.py; what one
caller's deadline or cancellation does to the others is tests/test_caller_isolation.py.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

import sources.cache
from sources import freshness
from sources.cache import MethodCache
from sources.errors import SourceError, SourceUnavailable


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
