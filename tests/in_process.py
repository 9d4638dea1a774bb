"""The whole gateway in this process, over the demo systems mounted in this process too.

The gateway app runs over httpx's ASGITransport (its lifespan run by hand) and each
source's pooled client is pointed at a demo app over another ASGITransport: the real
request pipeline, resolvers, loaders, cache and sources, with no process, port or socket.
Tests of the machinery use it; what needs real HTTP or processes stays end to end.
Synchronous tests drive it on an event loop of its own thread (`gateway_in_thread`, and
conftest's `in_process_with`); the demo apps are built once per process and shared.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Coroutine, Iterator, TypeVar

import httpx
from fastapi import FastAPI

from conftest import AUTH
from demo import clm, crm, desk, erp, mes, srm
from demo.generate import ensure_data
from server.http import create_app
from server.settings import BackendSettings, Settings

DEMO = {"crm": crm, "erp": erp, "clm": clm, "desk": desk, "srm": srm, "mes": mes}
T = TypeVar("T")


class InProcess:
    """The gateway's client, its app (for its state) and the demo apps (for their stats and faults)."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, demo: dict[str, httpx.AsyncClient]) -> None:
        self.client = client
        self.app = app
        self.demo = demo

    async def calls(self) -> dict[str, int]:
        """Per system, its calls since the last reset."""
        return {name: (await http.get("/_stats")).json()["calls"] for name, http in self.demo.items()}

    async def by_route(self) -> dict[str, dict[str, int]]:
        """Per system, its calls by route since the last reset."""
        return {name: (await http.get("/_stats")).json()["by_route"] for name, http in self.demo.items()}

    async def reset_stats(self) -> None:
        for http in self.demo.values():
            (await http.post("/_stats/reset")).raise_for_status()

    async def faults(self, system: str, **faults: Any) -> None:
        (await self.demo[system].put("/_faults", json=faults)).raise_for_status()


@functools.cache
def demo_apps() -> dict[str, FastAPI]:
    """The four demo apps, built once per test process (each renders all its records as it starts).

    The in-process gateways of a process share them, and so their call counters and fault
    switches: a test resets the counters before it counts and clears the faults it set.
    """
    data = ensure_data()
    return {name: module.create_app(data) for name, module in DEMO.items()}


@asynccontextmanager
async def gateway_over_demo(**settings: Any) -> AsyncIterator[InProcess]:
    apps = demo_apps()
    backends = {name: BackendSettings(url=f"http://{name}.demo") for name in apps}
    app = create_app(Settings(**{"auth": AUTH, "http_transport": "httpx", **backends, **settings}))
    async with app.router.lifespan_context(app):
        sources = app.state.services.backends
        demo: dict[str, httpx.AsyncClient] = {}
        for name, demo_app in apps.items():
            http = getattr(sources, name).http
            pooled = http._client
            http._client = httpx.AsyncClient(
                base_url=pooled.base_url, headers=pooled.headers, timeout=pooled.timeout,
                transport=httpx.ASGITransport(app=demo_app),
            )
            await pooled.aclose()
            demo[name] = httpx.AsyncClient(base_url=f"http://{name}.demo", transport=httpx.ASGITransport(app=demo_app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://isthmus", timeout=30) as client:
            try:
                yield InProcess(client, app, demo)
            finally:
                for http in demo.values():
                    await http.aclose()


class _LoopTransport(httpx.BaseTransport):
    """A synchronous transport that hands each request to the in-process gateway on its loop's thread.

    A request that gets no answer within the client's read timeout fails the caller with
    httpx.ReadTimeout, as it would over a socket.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
        self.loop = loop
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        timeout = request.extensions.get("timeout", {}).get("read")
        future = asyncio.run_coroutine_threadsafe(self._send(request), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout(f"no answer within {timeout} s", request=request) from None

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self.client.send(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)


class InThread:
    """An in-process gateway on an event loop of its own thread, for synchronous tests (hypothesis, and
    helpers shared with the end-to-end tests): `transport` for an `httpx.Client`, `run` for its coroutines."""

    def __init__(self, loop: asyncio.AbstractEventLoop, gateway: InProcess) -> None:
        self.loop = loop
        self.gateway = gateway
        self.transport = _LoopTransport(loop, gateway.client)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


@contextmanager
def gateway_in_thread(**settings: Any) -> Iterator[InThread]:
    """`gateway_over_demo` with these settings, on an event loop of its own thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="in-process-gateway", daemon=True)
    thread.start()
    running = gateway_over_demo(**settings)
    try:
        gateway = asyncio.run_coroutine_threadsafe(running.__aenter__(), loop).result()
        try:
            yield InThread(loop, gateway)
        finally:
            asyncio.run_coroutine_threadsafe(running.__aexit__(None, None, None), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
