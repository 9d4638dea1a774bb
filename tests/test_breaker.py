"""The circuit breaker and the client's retries, in process: scripted fault sequences, a moved clock.

What once needed a gateway process, a demo ERP failing at random and `time.sleep`
(tests/test_resilience.py) is proven here step by step: the breaker opens, refuses
without calling, lets one probe through after the cooldown, and closes or opens
again on what the probe meets; retries turn a scripted run of 503s into one answer.
The cancelled probe and what must never count are in tests/test_caller_isolation.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest

import sources.breaker
from sources.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from sources.errors import SourceBadResponse, SourceTimeout, SourceUnavailable
from sources.http import BackendClient


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sources.breaker, "time", SimpleNamespace(monotonic=clock))
    return clock


class Script:
    """A backend answering with the given statuses in order, then 200 for good; it counts the calls."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, json={"items": [{"sku": "P1"}]})


def client_for(script: Script, *, retries: int = 0, **breaker) -> BackendClient:
    client = BackendClient("ERP", "http://erp.invalid", transport="httpx", retries=retries,
                           breaker=CircuitBreaker("ERP", **breaker))
    client._client = httpx.AsyncClient(base_url=client.base_url, transport=httpx.MockTransport(script))
    return client


async def read(client: BackendClient) -> bytes:
    return await client.get("products", "/products", {"skus": "P1"})


# --- the breaker's states ---------------------------------------------------------------------


def test_consecutive_failures_open_it_and_an_open_breaker_refuses(clock):
    breaker = CircuitBreaker("ERP", threshold=3, cooldown=5.0)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == CLOSED
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == OPEN and breaker.refusing
    clock.now += 4.999
    assert not breaker.allow()


def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes(clock):
    breaker = CircuitBreaker("ERP", threshold=1, cooldown=5.0)
    breaker.allow()
    breaker.failed()
    clock.now += 5.0
    assert breaker.allow()  # the probe
    assert breaker.state == HALF_OPEN
    assert not breaker.allow() and breaker.refusing  # one probe at a time
    breaker.succeeded(("GET", "/products", ()))
    assert breaker.state == CLOSED and not breaker.refusing
    assert breaker.allow() and breaker.allow()
    assert breaker.transitions == 3  # open, half-open, closed


def test_a_failed_probe_opens_it_again_for_a_whole_cooldown(clock):
    breaker = CircuitBreaker("ERP", threshold=1, cooldown=5.0)
    breaker.allow()
    breaker.failed()
    clock.now += 5.0
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == OPEN
    clock.now += 4.0
    assert not breaker.allow()  # counted from the failed probe, not the first opening
    clock.now += 1.0
    assert breaker.allow()


def test_a_released_probe_frees_the_slot_without_closing(clock):
    breaker = CircuitBreaker("ERP", threshold=1, cooldown=0.0)
    breaker.allow()
    breaker.failed()
    assert breaker.allow() and not breaker.allow()
    breaker.released()
    assert breaker.state == HALF_OPEN and breaker.allow()


def test_half_of_the_window_failing_opens_it_without_consecutive_failures(clock):
    breaker = CircuitBreaker("ERP", threshold=5, window=10, cooldown=5.0)
    for n in range(9):  # fail, ok, fail, ok, ...: never two failures in a row
        breaker.allow()
        breaker.failed() if n % 2 == 0 else breaker.succeeded()
    assert breaker.state == CLOSED  # a window not yet full proves nothing
    breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED  # 5 of 10 failed ...
    breaker.allow()
    breaker.failed()
    assert breaker.state == OPEN  # ... and the next failure keeps it at half: open


def test_a_disabled_breaker_never_refuses(clock):
    breaker = CircuitBreaker("ERP", threshold=1, enabled=False)
    for _ in range(10):
        assert breaker.allow()
        breaker.failed()
    assert not breaker.refusing


# --- through the client: scripted fault sequences ---------------------------------------------


async def test_an_open_breaker_spares_the_backend_and_a_probe_after_the_cooldown_closes_it(clock):
    script = Script(503, 503, 503)
    client = client_for(script, threshold=3, cooldown=1.0)
    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            await read(client)
    assert client.breaker.state == OPEN
    for _ in range(5):
        with pytest.raises(SourceUnavailable, match="circuit open"):
            await read(client)
    assert script.calls == 3  # refused without calling
    clock.now += 1.0
    assert await read(client)  # the probe meets a recovered backend
    assert client.breaker.state == CLOSED and script.calls == 4
    await client.aclose()


async def test_retries_turn_a_run_of_503s_into_one_answer(clock):
    script = Script(503, 503)
    client = client_for(script, retries=2, threshold=10)
    assert await read(client)
    assert script.calls == 3  # two failed attempts tried again
    await client.aclose()


async def test_without_retries_the_first_503_is_the_answer(clock):
    script = Script(503)
    client = client_for(script, retries=0, threshold=10)
    with pytest.raises(SourceUnavailable):
        await read(client)
    assert script.calls == 1
    await client.aclose()


async def test_retries_stop_at_their_bound(clock):
    script = Script(503, 503, 503, 503)
    client = client_for(script, retries=2, threshold=10)
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        await read(client)
    assert script.calls == 3
    await client.aclose()


async def test_a_4xx_is_never_retried(clock):
    script = Script(404)
    client = client_for(script, retries=2, threshold=10)
    with pytest.raises(SourceBadResponse):
        await read(client)
    assert script.calls == 1
    await client.aclose()


async def test_a_backend_that_never_answers_costs_its_timeout_and_counts_against_it(clock):
    async def hangs(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    client = BackendClient("ERP", "http://erp.invalid", transport="httpx", retries=2, timeout=0.05,
                           breaker=CircuitBreaker("ERP", threshold=1))
    client._client = httpx.AsyncClient(base_url=client.base_url, transport=httpx.MockTransport(hangs))
    # the outer bound only keeps a broken timeout from hanging the suite; it asserts nothing
    with pytest.raises(SourceTimeout):
        await asyncio.wait_for(read(client), 10)
    assert client.breaker.state == OPEN  # the backend's own full timeout ran out: a failure, not retried
    await client.aclose()
