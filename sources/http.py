"""One pooled HTTP client per backend, with the error mapping every source shares.

Every backend call goes through `BackendClient.get`: it caps the wait by the
backend's timeout and the request's deadline, and turns transport failures into
the `SourceError` hierarchy so nothing above this module sees httpx.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import httpx

from sources import deadline, trace
from sources.errors import SourceBadResponse, SourceError, SourceTimeout, SourceUnavailable

Transport = Literal["httpx", "aiohttp"]


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
        transport: Transport = "httpx",
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
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
            return await self._get(method, path, params, started)
        except SourceError as exc:
            outcome = exc.code
            raise
        finally:
            recorder = trace.current()
            if recorder is not None:
                recorder.record(self.source, method, keys, started, outcome)

    async def _get(self, method: str, path: str, params: dict[str, str], started: float) -> bytes:
        budget = deadline.remaining(self.timeout)
        if budget <= 0:
            raise SourceTimeout(self.source, method, "request deadline already passed")
        try:
            async with asyncio.timeout(budget):
                response = await self._client.get(path, params=params)
        except (TimeoutError, httpx.TimeoutException):
            waited = time.perf_counter() - started
            raise SourceTimeout(self.source, method, f"no answer within {waited:.2f} s") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self.source, method, f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise SourceUnavailable(self.source, method, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SourceBadResponse(self.source, method, f"HTTP {response.status_code} for {path}")
        return response.content

    async def aclose(self) -> None:
        await self._client.aclose()
