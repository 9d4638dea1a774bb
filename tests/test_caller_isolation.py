"""No caller can hurt another through the shared source machinery (in-process, scripted backends).

The cross-request cache and the circuit breakers serve every caller at once: one
caller's deadline, cancellation or crafted input must not decide what the others
get. Backends here are `httpx.MockTransport` handlers gated by events, so the
tests order events instead of racing clocks.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import pytest

from resolvers.context import Principal
from resolvers.customers import DEFAULT_ORDER, NAME, customer_page
from resolvers.errors import BadUserInput
from resolvers.keysets import Order, decode_cursor, encode_cursor
from sources import deadline, freshness
from sources.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from sources.cache import CachePolicy, Entry
from sources.crm import CrmSource
from sources.errors import SourceBadResponse, SourceTimeout, SourceUnavailable
from server.http import create_app
from server.settings import Settings
from sources.http import BackendClient

ATTACK_CURSOR = "Y3VzdG9tZXJzOjk5OTk5OTk5OTk5OTk5OTk5OTk5"  # base64 of customers:99999999999999999999
REP = {"id": "R001", "name": "Rep One", "email": None, "team": "North"}


class ScriptedBackend:
    """A backend whose answers wait for `release` (when gated) and come from `answer`."""

    def __init__(self, answer=None, *, gated: bool = False) -> None:
        self.answer = answer or (lambda request: httpx.Response(200, json={"items": [REP]}))
        self.release = asyncio.Event()
        if not gated:
            self.release.set()
        self.started = asyncio.Event()
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return self.answer(request)


def client_for(backend: ScriptedBackend, *, retries: int = 0, timeout: float = 5.0, **breaker) -> BackendClient:
    client = BackendClient(
        "CRM", "http://crm.invalid", transport="httpx", retries=retries, timeout=timeout,
        breaker=CircuitBreaker("CRM", **breaker),
    )
    client._client = httpx.AsyncClient(base_url=client.base_url, transport=httpx.MockTransport(backend))
    return client


def crm_for(backend: ScriptedBackend, **client) -> CrmSource:
    return CrmSource(client_for(backend, **client), CachePolicy(ttl={"master": 300, "lists": 30}))


async def reps_within(crm: CrmSource, seconds: float):
    with deadline.bound(seconds):
        return (await crm.reps(["R001"]))[0]


# --- single-flight: one caller's deadline and cancellation are its own ---------------------


async def test_a_caller_with_a_tiny_deadline_does_not_fail_another_waiting_on_the_same_key():
    backend = ScriptedBackend(gated=True)
    crm = crm_for(backend)
    hasty = asyncio.create_task(reps_within(crm, 0.05))
    await backend.started.wait()  # the hasty caller started the fill
    patient = asyncio.create_task(reps_within(crm, 5.0))
    assert isinstance(await hasty, SourceTimeout)  # its own deadline, reported as its own
    backend.release.set()
    rep = await patient
    assert rep is not None and rep.id == "R001"
    assert backend.calls == 1  # still one backend call for both
    await crm.aclose()


async def test_cancelling_the_first_waiter_does_not_cancel_the_others():
    backend = ScriptedBackend(gated=True)
    crm = crm_for(backend)
    first = asyncio.create_task(reps_within(crm, 5.0))
    await backend.started.wait()
    second = asyncio.create_task(reps_within(crm, 5.0))
    await asyncio.sleep(0)  # the second joins the fill in flight
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    backend.release.set()
    rep = await second
    assert rep is not None and rep.id == "R001"
    assert backend.calls == 1
    await crm.aclose()


async def test_a_fill_nobody_waits_for_any_more_still_fills_the_cache():
    backend = ScriptedBackend(gated=True)
    crm = crm_for(backend)
    alone = asyncio.create_task(reps_within(crm, 5.0))
    await backend.started.wait()
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    backend.release.set()
    while crm.caches["reps"]._inflight:  # the detached fill finishes on its own
        await asyncio.sleep(0.01)
    rep = await reps_within(crm, 5.0)
    assert rep is not None and rep.id == "R001"
    assert backend.calls == 1  # served from what the abandoned fill stored
    await crm.aclose()


async def test_a_caller_out_of_time_still_gets_a_stale_entry_within_the_grace():
    backend = ScriptedBackend()
    crm = crm_for(backend)
    await reps_within(crm, 5.0)
    cache = crm.caches["reps"]
    cache._entries["R001"] = Entry(cache._entries["R001"].value, time.monotonic() - cache.ttl - 1)  # past its TTL
    backend.release.clear()  # the refetch hangs longer than this caller will wait
    with freshness.reporting() as report:
        rep = await reps_within(crm, 0.05)
    assert rep is not None and rep.id == "R001"
    assert report.stale == {"CRM"}
    backend.release.set()
    await crm.aclose()


# --- the breaker: only the backend's own failures count, and a probe is always given back ---


async def test_a_cancelled_half_open_probe_does_not_leave_the_breaker_refusing():
    failing = True
    backend = ScriptedBackend(lambda request: httpx.Response(503 if failing else 200, json={"items": []}))
    client = client_for(backend, threshold=1, cooldown=0.0)
    with pytest.raises(SourceUnavailable):
        await client.get("reps", "/reps", {"ids": "R001"})
    assert client.breaker.state == OPEN
    backend.release.clear()  # the probe hangs ...
    backend.started.clear()
    probe = asyncio.create_task(client.get("reps", "/reps", {"ids": "R001"}))
    await backend.started.wait()
    probe.cancel()  # ... and is cancelled (its request gave up)
    with pytest.raises(asyncio.CancelledError):
        await probe
    failing = False
    backend.release.set()
    assert await client.get("reps", "/reps", {"ids": "R001"})  # the next call probes again
    assert client.breaker.state == CLOSED
    await client.aclose()


async def test_readiness_reports_a_breaker_that_refuses_calls():
    """Half-open with its probe out turns every other call away: not `ready`; every one refusing: 503."""
    app = create_app(Settings(auth={"jwt_secret": "readiness-test-secret-0123456789abcdef"}))
    async with app.router.lifespan_context(app):
        breakers = [source.http.breaker for source in app.state.gateway.backends.all()]

        def probe_out(breaker: CircuitBreaker) -> None:
            breaker.cooldown = 0.0
            for _ in range(breaker.threshold):
                breaker.failed()
            assert breaker.allow() and breaker.state == HALF_OPEN

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            assert (await http.get("/readyz")).json()["status"] == "ready"
            probe_out(breakers[0])
            assert (await http.get("/readyz")).json()["status"] == "degraded"
            for breaker in breakers[1:]:
                probe_out(breaker)
            assert (await http.get("/readyz")).status_code == 503
            for breaker in breakers:
                breaker.released()  # the probes came back with nothing learnt: the next call may probe
            assert (await http.get("/readyz")).json()["status"] == "ready"


@pytest.mark.parametrize("status", [400, 404, 414, 422])
async def test_a_4xx_never_counts_toward_opening(status):
    backend = ScriptedBackend(lambda request: httpx.Response(status))
    client = client_for(backend, threshold=2, window=4)
    for _ in range(10):
        with pytest.raises(SourceBadResponse):
            await client.get("search_customers", "/customers/search", {"offset": "1"})
    assert client.breaker.state == CLOSED and client.breaker.allow()
    await client.aclose()


async def test_a_500_only_an_unproven_request_meets_does_not_count_but_one_a_working_request_meets_does():
    broken = {"999"}
    backend = ScriptedBackend(
        lambda request: httpx.Response(500 if request.url.params["offset"] in broken else 200, json={"items": []})
    )
    client = client_for(backend, threshold=2, window=4)
    for _ in range(10):  # a crafted request the backend chokes on, again and again
        with pytest.raises(SourceUnavailable):
            await client.get("search_customers", "/customers/search", {"offset": "999"})
    assert client.breaker.state == CLOSED
    await client.get("search_customers", "/customers/search", {"offset": "0"})  # an ordinary request works ...
    broken.add("0")  # ... then fails: that is the backend, not the request
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            await client.get("search_customers", "/customers/search", {"offset": "0"})
    assert client.breaker.state == OPEN
    await client.aclose()


async def test_timeouts_cut_short_by_a_callers_own_deadline_do_not_count():
    backend = ScriptedBackend(gated=True)
    client = client_for(backend, threshold=2, window=4, timeout=5.0)
    for _ in range(5):
        with deadline.bound(0.01), pytest.raises(SourceTimeout):
            await client.get("reps", "/reps", {"ids": "R001"})
    assert client.breaker.state == CLOSED
    await client.aclose()


# --- bad input never reaches the backend ----------------------------------------------------


def test_the_attack_cursor_and_other_non_canonical_cursors_are_refused():
    good = encode_cursor(NAME, DEFAULT_ORDER, "2026-11-30T09:00:00Z", "C00007")
    by_name = encode_cursor(NAME, Order("name", False), "Acme", "C00007")
    for cursor in (ATTACK_CURSOR, "Y3VzdG9tZXJzOjc=",  # the offset cursors once issued: customers:7
                   by_name,  # another order's
                   encode_cursor("invoices", DEFAULT_ORDER, "2026-11-30T09:00:00Z", "C00007"),  # another list's
                   encode_cursor(NAME, DEFAULT_ORDER, "x" * 10_000, "C00007"),  # a sort value no row has
                   encode_cursor(NAME, DEFAULT_ORDER, "2026-11-30", "C1,C2"),  # an id the CRM would split
                   good.rstrip("="), good + "=", "garbage", "é"):
        with pytest.raises(BadUserInput, match="`after`"):
            decode_cursor(NAME, DEFAULT_ORDER, cursor)
    assert decode_cursor(NAME, DEFAULT_ORDER, good) == ("2026-11-30T09:00:00Z", "C00007")
    assert decode_cursor(NAME, Order("name", False), by_name) == ("Acme", "C00007")


@pytest.mark.parametrize(
    "arguments",
    [
        {"after": ATTACK_CURSOR},
        {"search": "x" * 10_000},
        {"search": "name\x00"},
        {"owner_id": "R001,R002"},
        {"owner_id": "x" * 500},
    ],
)
async def test_bad_list_arguments_are_refused_without_a_backend_call(arguments):
    backend = ScriptedBackend(lambda request: httpx.Response(200, json={"items": [], "total": 0}))
    crm = crm_for(backend)
    ctx = SimpleNamespace(
        scope="all", principal=Principal("tester"),
        loaders=SimpleNamespace(backends=SimpleNamespace(crm=crm), remember_customers=lambda customers: None),
    )
    asked = {"search": None, "owner_id": None, "tier": None, "first": 20, "after": None, **arguments}
    with pytest.raises(BadUserInput):
        await customer_page(ctx, **asked)
    assert backend.calls == 0
    await crm.aclose()


async def test_keys_no_backend_could_hold_are_answered_unknown_without_a_call():
    backend = ScriptedBackend()
    crm = crm_for(backend)
    assert await crm.reps(["x" * 10_000, "R001,R002", " R001", "R\x00"]) == [None, None, None, None]
    assert backend.calls == 0
    await crm.aclose()
