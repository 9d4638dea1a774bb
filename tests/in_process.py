"""The whole gateway in this process, over the demo systems mounted in this process too.

The gateway app runs over httpx's ASGITransport (its lifespan run by hand) and each
source's pooled client is pointed at a demo app over another ASGITransport: the real
request pipeline, resolvers, loaders, cache and sources, with no process, port or socket.
Tests of the machinery use it; what needs real HTTP or processes stays end to end.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx
from fastapi import FastAPI

from conftest import AUTH
from demo import clm, crm, desk, erp
from demo.generate import ensure_data
from server.http import create_app
from server.settings import BackendSettings, Settings

DEMO = {"crm": crm, "erp": erp, "clm": clm, "desk": desk}


class InProcess:
    """The gateway's client, its app (for its state) and the demo apps (for their stats and faults)."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, demo: dict[str, httpx.AsyncClient]) -> None:
        self.client = client
        self.app = app
        self.demo = demo

    async def calls(self) -> dict[str, dict[str, int]]:
        """Per system, its calls by route since the last reset."""
        return {name: (await http.get("/_stats")).json()["by_route"] for name, http in self.demo.items()}

    async def reset_stats(self) -> None:
        for http in self.demo.values():
            (await http.post("/_stats/reset")).raise_for_status()

    async def faults(self, system: str, **faults: Any) -> None:
        (await self.demo[system].put("/_faults", json=faults)).raise_for_status()


@asynccontextmanager
async def gateway_over_demo(**settings: Any) -> AsyncIterator[InProcess]:
    data = ensure_data()
    apps = {name: module.create_app(data) for name, module in DEMO.items()}
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
