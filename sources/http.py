"""One pooled HTTP client per backend, with the resilience every source shares.

Every backend call goes through `BackendClient.get`, which
- caps each wait by the backend's timeout and the request's deadline;
- retries a failed read (5xx, refused connection) a bounded number of times with
  jittered exponential backoff, never past the deadline; reads are idempotent,
  and a timeout is not retried (the deadline would not allow a useful second try);
- asks the backend's circuit breaker first, so a system that keeps failing is
  spared and the request fails fast with SOURCE_UNAVAILABLE;
- turns transport failures into the `SourceError` hierarchy, so nothing above
  this module sees httpx.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from sources import deadline, events, trace
from sources.breaker import CircuitBreaker
from sources.errors import SourceBadResponse, SourceError, SourceTimeout, SourceUnavailable

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
        started = time.perf_counter()
        outcome = "ok"
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retries + 1) | _deadline_near,
                wait=wait_random_exponential(multiplier=0.05, max=0.4),
                retry=retry_if_exception_type(SourceUnavailable),
                reraise=True,
            ):
                with attempt:
                    return await self._attempt(method, path, params)
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

    async def _attempt(self, method: str, path: str, params: dict[str, str]) -> bytes:
        if not self.breaker.allow():
            raise SourceUnavailable(self.source, method, "circuit open after repeated failures")
        try:
            body = await self._get(method, path, params)
        except SourceError:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return body

    async def _get(self, method: str, path: str, params: dict[str, str]) -> bytes:
        budget = deadline.remaining(self.timeout)
        if budget <= 0:
            raise SourceTimeout(self.source, method, "request deadline already passed")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                response = await self._client.get(path, params=params)
                body = await response.aread()
        except (TimeoutError, httpx.TimeoutException):
            waited = time.perf_counter() - started
            raise SourceTimeout(self.source, method, f"no answer within {waited:.2f} s") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self.source, method, f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise SourceUnavailable(self.source, method, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SourceBadResponse(self.source, method, f"HTTP {response.status_code} for {path}")
        return body

    async def aclose(self) -> None:
        await self._client.aclose()


def _deadline_near(_: object) -> bool:
    return deadline.remaining(float("inf")) < MIN_USEFUL_WAIT
