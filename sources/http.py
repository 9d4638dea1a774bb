"""One pooled HTTP client per backend, with the resilience every source shares.

Every backend call goes through `BackendClient.get` (REST reads) or
`BackendClient.post_json` (RPC-style backends such as Tryton's JSON-RPC), which
- caps each wait by the backend's timeout and the request's deadline;
- retries a failed read (5xx, 429, refused connection) a bounded number of times with
  jittered exponential backoff, never past the deadline; GETs are idempotent, a POST
  is retried only when the caller says it is (a search is, a login is not), and a
  timeout is not retried (the deadline would not allow a useful second try);
- asks the backend's circuit breaker first, so a system that keeps failing is
  spared and the request fails fast with SOURCE_UNAVAILABLE, and tells it how each
  attempt ended, on every exit, cancellation included: only what shows the backend
  unwell counts against it, never a 4xx, the caller's own deadline, or a 5xx that
  only an unproven request met (see sources/breaker.py);
- turns transport failures into the `SourceError` hierarchy, so nothing above
  this module sees httpx.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tenacity.stop import stop_base

from sources import deadline, events, received, trace
from sources.breaker import CircuitBreaker
from sources.errors import SourceBadResponse, SourceError, SourceTimeout, SourceUnauthorized, SourceUnavailable

Transport = Literal["httpx", "aiohttp"]

# Below this many seconds left, another attempt could not finish: give up instead.
MIN_USEFUL_WAIT = 0.05

# Statuses that say the backend (or what fronts it) is down or overloaded, whatever was asked.
OVERLOADED = frozenset({408, 429, 502, 503, 504})


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
    ) -> None:
        self.source = source
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
        return await self._call(method, path, keys, True, request, lambda: self._client.get(path, params=params))

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

    async def _call(
        self,
        method: str,
        path: str,
        keys: int,
        idempotent: bool,
        request: Hashable | None,
        send: Callable[[], Awaitable[httpx.Response]],
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
                    body = await self._attempt(method, path, request, send)
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
        self, method: str, path: str, request: Hashable | None, send: Callable[[], Awaitable[httpx.Response]]
    ) -> bytes:
        if not self.breaker.allow():
            raise SourceUnavailable(self.source, method, "circuit open after repeated failures")
        # What the breaker hears when the attempt ends; anything not judged below (cancelled,
        # the request's deadline already gone, a bug) says nothing about the backend.
        verdict: Callable[[], None] = self.breaker.released
        try:
            budget = deadline.remaining(self.timeout)
            if budget <= 0:
                raise SourceTimeout(self.source, method, "request deadline already passed")
            try:
                response, body = await self._send(method, budget, send)
            except SourceTimeout:
                if budget >= self.timeout:
                    verdict = self.breaker.failed  # the backend's own timeout ran out, not a caller's patience
                raise
            except SourceUnavailable:
                verdict = self.breaker.failed  # refused, reset or unreachable
                raise
            verdict = self._verdict(response.status_code, request)
            return self._body(method, path, response.status_code, body)
        finally:
            verdict()

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
                raise SourceUnavailable(self.source, method, f"connection failed: {exc.__cause__!r}") from None
            waited = time.perf_counter() - started
            raise SourceTimeout(self.source, method, f"no answer within {waited:.2f} s") from None
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


class _DeadlineNear(stop_base):
    """Stop retrying when the request's deadline leaves no time for a useful wait."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        return deadline.remaining(float("inf")) < MIN_USEFUL_WAIT
