"""Where a request's time went: recorded per phase for operators on `/metrics`, never told to the caller.

In-process: the app over httpx's ASGITransport, backends on a closed port (`{ me }` needs none).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import AUTH, bearer
from server.http import create_app
from server.settings import Settings
from test_http_exposure import nowhere

ME = "{ me { id roles } }"
PIPELINE = {"authenticate", "parse_validate", "execute", "serialise"}


@asynccontextmanager
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(Settings(**{"auth": AUTH, **nowhere()}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://isthmus", timeout=30) as client:
            yield client, app


async def phases(client: httpx.AsyncClient) -> dict[str, tuple[float, float]]:
    """(count, sum in seconds) of each phase, as an operator reads them."""
    text = (await client.get("/metrics", headers=bearer("admin"))).text
    found: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "isthmus_request_phase_seconds":
            for sample in family.samples:
                entry = found.setdefault(sample.labels["phase"], [0.0, 0.0])
                if sample.name.endswith("_count"):
                    entry[0] = sample.value
                elif sample.name.endswith("_sum"):
                    entry[1] = sample.value
    return {phase: (count, total) for phase, (count, total) in found.items()}


async def test_each_request_is_observed_once_per_phase_of_the_pipeline():
    async with served() as (client, _):
        for _ in range(3):
            answer = await client.post("/graphql", json={"query": ME}, headers=bearer("finance"))
            assert answer.json()["data"]["me"]["roles"] == ["finance"]
        seen = await phases(client)
    assert set(seen) == PIPELINE | {"plan", "waiting", "completing"}  # the plan executor's own
    for phase, (count, total) in seen.items():
        assert count == 3 and (total > 0 or phase == "waiting"), phase  # `me` waits for no backend


async def test_the_executors_phases_land_in_the_same_series():
    """The executor reports its own phases (plan, waiting, completing) through `Context.spent`."""
    async with served() as (client, app):
        executor = app.state.gateway.executor
        run = executor.run

        async def timed(prepared, *, context, **kwargs):
            for _ in range(2):  # a phase spent twice adds up
                started = time.perf_counter()
                await asyncio.sleep(0.02)
                context.spent("waiting", time.perf_counter() - started)
            return await run(prepared, context=context, **kwargs)

        executor.run = timed
        await client.post("/graphql", json={"query": ME}, headers=bearer("finance"))
        seen = await phases(client)
    count, waited = seen["waiting"]
    assert count == 1 and waited >= 0.04
    assert seen["execute"][1] >= waited  # the executor's phases lie within `execute`


async def test_a_refused_request_is_observed_in_the_phases_it_passed():
    async with served() as (client, _):
        invalid = await client.post("/graphql", json={"query": "{ me { nope } }"}, headers=bearer("finance"))
        assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        unknown = await client.post(
            "/graphql", json={"query": ME, "operationName": "Missing"}, headers=bearer("finance")
        )
        assert unknown.status_code == 400
        seen = await phases(client)
    assert "execute" not in seen
    assert seen["parse_validate"][0] == 2 and seen["authenticate"][0] == 2


async def test_the_caller_is_told_nothing_of_the_phases():
    """Per-request timings would tell a caller what others' requests cost (what is cached, what is slow)."""
    async with served() as (client, _):
        answer = await client.post("/graphql", json={"query": ME}, headers=bearer("finance"))
        assert set(answer.json()) == {"data", "extensions"}
        assert set(answer.json()["extensions"]) == {"freshness"}
        assert not any(phase in answer.text for phase in PIPELINE)
        assert "server-timing" not in answer.headers
        assert (await client.get("/metrics", headers=bearer("finance"))).status_code == 403
