"""One pooled HTTP client per backend, with the resilience every source shares.

Every backend call goes through `BackendClient.get` (REST reads),
`BackendClient.post_json` (RPC-style backends such as Tryton's JSON-RPC) or
`BackendClient.write` (REST writes), which
- caps each wait by the backend's timeout and the request's deadline;
- retries a failed read (5xx, 429, refused connection) a bounded number of times with
  jittered exponential backoff, never past the deadline; GETs are idempotent, a POST
  is retried only when the caller says it is (a search is, a login is not), and a
  timeout is not retried (the deadline would not allow a useful second try);
- keeps within the backend's budget (sources/admission.py): each attempt takes a slot of the
  calls at once and per second the backend is given, queueing by the request's priority
  class, and is shed with BACKEND_BUSY (never sent) when none comes within its wait;
- asks the backend's circuit breaker first, so a system that keeps failing is
  spared and the request fails fast with SOURCE_UNAVAILABLE, and tells it how each
  attempt ended, on every exit, cancellation included: only what shows the backend
  unwell counts against it, never a 4xx, the caller's own deadline, or a 5xx that
  only an unproven request met (see sources/breaker.py);
- turns transport failures into the `SourceError` hierarchy, so nothing above
  this module sees httpx.

A write is one attempt, never retried here: it carries the caller's `Idempotency-Key`,
and only the caller, who holds the key, may send it again. Its failures say whether the
write can have happened: a connection never made, an open circuit or a 503 (the backend
turned it away) did not write; a timeout, a dropped connection or another 5xx may have
(`SourceOutcomeUnknown`); a 4xx refused it (`SourceRejected`, with the field it named).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tenacity.stop import stop_base

from sources import deadline, events, received, trace
from sources.admission import Budget, Lease
from sources.breaker import CircuitBreaker
from sources.errors import (
    BackendBusy,
    SourceBadResponse,
    SourceError,
    SourceOutcomeUnknown,
    SourceRejected,
    SourceTimeout,
    SourceUnauthorized,
    SourceUnavailable,
)

Transport = Literal["httpx", "aiohttp"]

# Below this many seconds left, another attempt could not finish: give up instead.
MIN_USEFUL_WAIT = 0.05

# Statuses that say the backend (or what fronts it) is down or overloaded, whatever was asked.
OVERLOADED = frozenset({408, 429, 502, 503, 504})
# Statuses that say a request was turned away before it was acted on.
TURNED_AWAY = frozenset({429, 503})


class _NeverSent(SourceUnavailable):
    """The connection was never made: the request did not reach the backend."""


def _make_transport(kind: Transport, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


class BackendClient:
    """A keep-alive connection pool to one backend, created at start-up, closed at shutdown."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        timeout: float = 2.0,
        connect_timeout: float = 1.0,
        max_connections: int = 64,
        transport: Transport = "aiohttp",
        retries: int = 2,
        breaker: CircuitBreaker | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.source = source
        self.budget = budget
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.breaker = breaker or CircuitBreaker(source)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=_make_transport(transport, limits),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"Accept": "application/json"},
        )

    async def get(self, method: str, path: str, params: dict[str, str], *, keys: int = 1) -> bytes:
        """GET `path` and return the body of a 2xx answer; raise a `SourceError` otherwise."""
        request = ("GET", path, tuple(sorted(params.items())))
        url = self._url(path, params)
        return await self._call(method, path, keys, True, request, lambda: self._client.get(url))

    def _url(self, path: str, params: dict[str, str]) -> httpx.URL:
        """The absolute URL, parsed once. Given a relative path and `params`, httpx parses the
        URL several times over, character by character in Python, and quotes every comma of a
        batch's keys: a batch of 320 SKUs cost 0.8-1.9 ms to build; this way about 0.3 ms.
        Commas are left as they are (sub-delimiters, allowed in a query); the rest is encoded
        as httpx would (`urlencode`)."""
        query = "?" + urlencode(params, safe=",") if params else ""
        return httpx.URL(f"{self.base_url}{path}{query}")

    async def post_json(
        self,
        method: str,
        path: str,
        payload: Any,
        *,
        keys: int = 1,
        idempotent: bool,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """POST `payload` as JSON to `path` and return the body of a 2xx answer.

        Retried like a GET only when `idempotent` (a read through RPC); otherwise one attempt.
        A 401 raises `SourceUnauthorized`, so a caller holding a session can log in again.
        A POST has no request signature for the breaker (an RPC envelope carries a fresh id
        each time): its 500s never count against the backend.
        """
        return await self._call(
            method, path, keys, idempotent, None, lambda: self._client.post(path, json=payload, headers=headers)
        )

    async def write(
        self, method: str, verb: Literal["POST", "PATCH"], path: str, payload: Any, *, idempotency_key: str
    ) -> bytes:
        """Send one write with its `Idempotency-Key`; the body of a 2xx answer (see the module notes)."""
        headers = {"Idempotency-Key": idempotency_key}
        try:
            return await self._call(
                method,
                path,
                1,
                False,
                None,
                lambda: self._client.request(verb, path, json=payload, headers=headers),
                writing=True,
            )
        except (SourceRejected, SourceUnauthorized, _NeverSent, BackendBusy):
            raise
        except SourceUnavailable as exc:
            if exc.detail.startswith(("circuit open", "HTTP 429", "HTTP 503")):
                raise
            raise SourceOutcomeUnknown(self.source, method, exc.detail) from None
        except SourceError as exc:
            if exc.detail == "request deadline already passed":
                raise
            raise SourceOutcomeUnknown(self.source, method, exc.detail) from None

    async def _call(
        self,
        method: str,
        path: str,
        keys: int,
        idempotent: bool,
        request: Hashable | None,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        writing: bool = False,
    ) -> bytes:
        started = time.perf_counter()
        outcome = "ok"
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retries + 1 if idempotent else 1) | _DeadlineNear(),
                wait=wait_random_exponential(multiplier=0.05, max=0.4),
                retry=retry_if_exception_type(SourceUnavailable),
                reraise=True,
            ):
                with attempt:
                    body = await self._attempt(method, path, request, send, writing)
                    received.add(len(body))
                    return body
        except SourceError as exc:
            outcome = exc.code
            raise
        finally:
            seconds = time.perf_counter() - started
            events.backend_call(self.source, method, keys, seconds, outcome)
            recorder = trace.current()
            if recorder is not None:
                recorder.record(self.source, method, keys, started, outcome)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        request: Hashable | None,
        send: Callable[[], Awaitable[httpx.Response]],
        writing: bool = False,
    ) -> bytes:
        if not self.breaker.allow():
            raise SourceUnavailable(self.source, method, "circuit open after repeated failures")
        # What the breaker hears when the attempt ends; anything not judged below (cancelled,
        # the request's deadline already gone, a bug) says nothing about the backend.
        verdict: Callable[[], None] = self.breaker.released
        lease: Lease | None = None
        try:
            if self.budget is not None:
                lease = await self.budget.acquire(method)
            budget = deadline.remaining(self.timeout)
            if budget <= 0:
                raise SourceTimeout(self.source, method, "request deadline already passed")
            sent = time.perf_counter()
            try:
                response, body = await self._send(method, budget, send)
            except SourceTimeout:
                if budget >= self.timeout:
                    verdict = self.breaker.failed  # the backend's own timeout ran out, not a caller's patience
                    if lease is not None:
                        lease.dropped = True
                raise
            except SourceUnavailable:
                verdict = self.breaker.failed  # refused, reset or unreachable
                raise
            if lease is not None:
                lease.latency = time.perf_counter() - sent
            verdict = self._verdict(response.status_code, request)
            if writing and 400 <= response.status_code < 500 and response.status_code not in (401, *OVERLOADED):
                raise _rejected(self.source, method, response.status_code, body)
            return self._body(method, path, response.status_code, body)
        finally:
            verdict()
            if lease is not None:
                lease.release()

    def _verdict(self, status: int, request: Hashable | None) -> Callable[[], None]:
        """What an HTTP status says about the backend's health (see sources/breaker.py)."""
        if status < 400:
            return functools.partial(self.breaker.succeeded, request)
        if status in OVERLOADED:
            return self.breaker.failed
        if status >= 500:
            return functools.partial(self.breaker.suspect, request)
        return self.breaker.released  # a 4xx: the caller's fault, never the backend's

    async def _send(
        self, method: str, budget: float, send: Callable[[], Awaitable[httpx.Response]]
    ) -> tuple[httpx.Response, bytes]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                response = await send()
                body = await response.aread()
        except (TimeoutError, httpx.TimeoutException) as exc:
            if _refused(exc):
                failed = _NeverSent if _not_connected(exc) else SourceUnavailable
                raise failed(self.source, method, f"connection failed: {exc.__cause__!r}") from None
            waited = time.perf_counter() - started
            raise SourceTimeout(self.source, method, f"no answer within {waited:.2f} s") from None
        except httpx.ConnectError as exc:
            raise _NeverSent(self.source, method, f"{type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self.source, method, f"{type(exc).__name__}: {exc}") from None
        return response, body

    def _body(self, method: str, path: str, status: int, body: bytes) -> bytes:
        """The body of a 2xx answer; the `SourceError` an error status stands for."""
        if status >= 500 or status in OVERLOADED:
            raise SourceUnavailable(self.source, method, f"HTTP {status}")
        if status == 401:
            raise SourceUnauthorized(self.source, method, f"HTTP 401 for {path}")
        if status >= 400:
            raise SourceBadResponse(self.source, method, f"HTTP {status} for {path}")
        return body

    async def aclose(self) -> None:
        await self._client.aclose()


def _refused(exc: BaseException) -> bool:
    """A connection refused or dropped that the transport reported as a timeout.

    httpx-aiohttp maps every aiohttp connection error, a refused connection or a
    keep-alive connection the server closed included, to `httpx.ConnectTimeout`; only
    a cause that is itself a timeout is one. The rest is a backend that is down (and
    a retry on a fresh connection may well succeed).
    """
    cause = exc.__cause__
    return (
        isinstance(exc, httpx.ConnectTimeout)
        and type(cause).__module__.partition(".")[0] == "aiohttp"
        and not isinstance(cause, TimeoutError)
    )


def _not_connected(exc: BaseException) -> bool:
    """aiohttp could not open the connection (as opposed to losing one it had): nothing was sent."""
    return type(exc.__cause__).__name__.startswith("ClientConnector")


def _rejected(source: str, method: str, status: int, body: bytes) -> SourceRejected:
    """A 4xx answer to a write: its message and the body field it names (FastAPI's `detail` shape)."""
    field, message = None, f"HTTP {status}"
    try:
        detail = orjson.loads(body).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    if isinstance(detail, str):
        message = detail
    elif isinstance(detail, list) and detail and isinstance(detail[0], dict):
        location = [str(part) for part in detail[0].get("loc", ()) if part != "body"]
        field = ".".join(location) or None
        message = f"{field}: {detail[0].get('msg', 'invalid')}" if field else str(detail[0].get("msg", "invalid"))
    return SourceRejected(source, method, message[:300], status=status, field=field)


class _DeadlineNear(stop_base):
    """Stop retrying when the request's deadline leaves no time for a useful wait."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        return deadline.remaining(float("inf")) < MIN_USEFUL_WAIT
