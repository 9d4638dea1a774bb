"""One pooled HTTP client per backend, with the resilience every source shares.

Every backend call goes through `BackendClient.get` (REST reads) or
`BackendClient.post_json` (RPC-style backends such as Tryton's JSON-RPC), which
- caps each wait by the backend's timeout and the request's deadline;
- retries a failed read (5xx, 429, refused connection) a bounded number of times with
  jittered exponential backoff, never past the deadline; GETs are idempotent, a POST
  is retried only when the caller says it is (a search is, a login is not), and a
  timeout is not retried (the deadline would not allow a useful second try);
- asks the backend's circuit breaker first, so a system that keeps failing is
  spared and the request fails fast with SOURCE_UNAVAILABLE;
- turns transport failures into the `SourceError` hierarchy, so nothing above
  this module sees httpx.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Literal

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from sources import deadline, events, trace
from sources.breaker import CircuitBreaker
from sources.errors import SourceBadResponse, SourceError, SourceTimeout, SourceUnauthorized, SourceUnavailable

Transport = Literal["httpx", "aiohttp"]

# Below this many seconds left, another attempt could not finish: give up instead.
MIN_USEFUL_WAIT = 0.05


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
        return await self._call(method, path, keys, True, lambda: self._client.get(path, params=params))

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
        """
        return await self._call(
            method, path, keys, idempotent, lambda: self._client.post(path, json=payload, headers=headers)
        )

    async def _call(
        self, method: str, path: str, keys: int, idempotent: bool, send: Callable[[], Awaitable[httpx.Response]]
    ) -> bytes:
        started = time.perf_counter()
        outcome = "ok"
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retries + 1 if idempotent else 1) | _deadline_near,
                wait=wait_random_exponential(multiplier=0.05, max=0.4),
                retry=retry_if_exception_type(SourceUnavailable),
                reraise=True,
            ):
                with attempt:
                    return await self._attempt(method, path, send)
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

    async def _attempt(self, method: str, path: str, send: Callable[[], Awaitable[httpx.Response]]) -> bytes:
        if not self.breaker.allow():
            raise SourceUnavailable(self.source, method, "circuit open after repeated failures")
        try:
            body = await self._send(method, path, send)
        except SourceUnauthorized:
            raise  # the backend is up: an expired session is no reason to open its circuit
        except SourceError:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return body

    async def _send(self, method: str, path: str, send: Callable[[], Awaitable[httpx.Response]]) -> bytes:
        budget = deadline.remaining(self.timeout)
        if budget <= 0:
            raise SourceTimeout(self.source, method, "request deadline already passed")
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
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise SourceUnavailable(self.source, method, f"HTTP {response.status_code}")
        if response.status_code == 401:
            raise SourceUnauthorized(self.source, method, f"HTTP 401 for {path}")
        if response.status_code >= 400:
            raise SourceBadResponse(self.source, method, f"HTTP {response.status_code} for {path}")
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


def _deadline_near(_: object) -> bool:
    return deadline.remaining(float("inf")) < MIN_USEFUL_WAIT
