"""Shared fixtures: the four demo systems and gateway processes over real HTTP, and gateways in this
process (tests/in_process.py) behind the same client, for what a socket between processes adds nothing to."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import httpx
import pytest

from bench.harness import GatewayProcess
from demo.launcher import start_systems
from expected import Catalogue, freshest, stock_by_sku
from server.auth import mint_token

if TYPE_CHECKING:  # in_process imports this module
    from in_process import InThread

QUERIES = Path(__file__).resolve().parent / "queries"
SYSTEMS = ("crm", "erp", "clm", "desk", "srm", "mes")
LIVE = {"cache": {"enabled": False}, "resilience": {"breaker": False}}
TEST_SECRET = "test-secret-for-isthmus-tests-only-0123456789"
AUTH = {"jwt_secret": TEST_SECRET}
BI_KEY = "bi-reader-key-for-tests-only"
BI_AUTH = {  # AUTH and a bi_reader service account (X-API-Key)
    "jwt_secret": TEST_SECRET,
    "api_keys": [{"sha256": hashlib.sha256(BI_KEY.encode()).hexdigest(), "principal": "svc-bi", "roles": ["bi_reader"]}],
}


def token(*roles: str, user: str = "tester", team: str | None = None, ttl: int = 3600) -> str:
    return mint_token(TEST_SECRET, user=user, roles=list(roles), team=team, ttl_seconds=ttl)


def bearer(*roles: str, user: str = "tester", team: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, user=user, team=team)}"}


class Systems:
    """The running demo systems, with their call counters and fault switches."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.http = httpx.Client(timeout=30)

    def get(self, system: str, path: str, **params: Any) -> list[dict[str, Any]]:
        """Items from a system's REST API, as a test's independent source of truth."""
        params = {key: ",".join(value) if isinstance(value, (list, tuple, set)) else value for key, value in params.items()}
        response = self.http.get(f"{self.urls[system]}{path}", params=params)
        response.raise_for_status()
        return response.json()["items"]

    def reset_stats(self) -> None:
        for system in SYSTEMS:
            self.http.post(f"{self.urls[system]}/_stats/reset").raise_for_status()

    def calls(self) -> dict[str, int]:
        return {system: self.http.get(f"{self.urls[system]}/_stats").json()["calls"] for system in SYSTEMS}

    def by_route(self) -> dict[str, dict[str, int]]:
        return {system: self.http.get(f"{self.urls[system]}/_stats").json()["by_route"] for system in SYSTEMS}

    @contextmanager
    def faults(self, system: str, **faults: Any) -> Iterator[None]:
        self.http.put(f"{self.urls[system]}/_faults", json=faults).raise_for_status()
        try:
            yield
        finally:
            self.http.put(
                f"{self.urls[system]}/_faults",
                json={"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "down": False, "malformed_rate": 0.0,
                      "latency_after_ms": 0},
            ).raise_for_status()


class Gateway:
    """A client of a running gateway; it calls as an admin unless told otherwise."""

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60, headers=bearer("admin", user="test-admin"), transport=transport)

    def post(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, **kwargs)

    def query(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = self.post(query, variables, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


class InProcessGateway(Gateway):
    """A `Gateway` that runs in this process over the demo apps (tests/in_process.py), with their counters."""

    def __init__(self, running: InThread) -> None:
        super().__init__("http://isthmus", running.transport)
        self.running = running
        self.transport = running.transport  # for a client of a test's own (other default headers)

    def reset_stats(self) -> None:
        self.running.run(self.running.gateway.reset_stats())

    def calls(self) -> dict[str, int]:
        return self.running.run(self.running.gateway.calls())

    def by_route(self) -> dict[str, dict[str, int]]:
        return self.running.run(self.running.gateway.by_route())


@contextmanager
def in_process_with(**settings: Any) -> Iterator[InProcessGateway]:
    """A gateway of its own (cold caches, fresh breakers) with these settings, in this process.

    For tests of what a setting does, where a process of its own adds nothing: it starts in
    a fraction of the time (the code is loaded already). Its backends are the demo apps in
    this process: count calls with its own `reset_stats`/`calls`, not `systems`'.
    """
    from in_process import gateway_in_thread  # imports conftest: not at the top

    with gateway_in_thread(**settings) as running:
        yield InProcessGateway(running)


@pytest.fixture(scope="session")
def systems() -> Iterator[Systems]:
    with start_systems(ports={system: 0 for system in SYSTEMS}) as running:
        yield Systems(running.urls)


@pytest.fixture(scope="session")
def gateway(systems: Systems) -> Iterator[Gateway]:
    """A gateway without the cross-request cache: every answer comes live from the systems.

    Tests of batching, figures and failures use it so that what they count and see is
    the live path; the cache and the circuit breakers have their own tests
    (test_caching.py, test_resilience.py), so here they are off.
    """
    with GatewayProcess(systems.urls, auth=AUTH, **LIVE) as process:
        yield Gateway(process.url)


@pytest.fixture(scope="session")
def in_process_gateway() -> Iterator[Gateway]:
    """Like `gateway` (no cache, no breakers), but the gateway and the demo apps run in this process.

    For the property and fuzz tests: thousands of requests through the whole app (auth, parse,
    limits, executor, loaders, sources) where a socket between processes proves nothing more.
    """
    with in_process_with(**LIVE) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def in_process_reference_gateway() -> Iterator[Gateway]:
    """`in_process_gateway` executing every operation on graphql-core's executor, not its plan (`plans = false`)."""
    with in_process_with(plans=False, **LIVE) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def in_process_subgraph() -> Iterator[Gateway]:
    """`in_process_gateway` serving as an Apollo Federation subgraph (`_entities`), as `federated_gateway` does."""
    with in_process_with(federation={"enabled": True}, **LIVE) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def impatient_gateway(systems: Systems) -> Iterator[Gateway]:
    """A gateway that waits at most 0.5 s for the ERP (and has no cache)."""
    with GatewayProcess(systems.urls, erp={"timeout": 0.5}, auth=AUTH, **LIVE) as process:
        yield Gateway(process.url)


@pytest.fixture(scope="session")
def cached_gateway(systems: Systems) -> Iterator[Gateway]:
    """A gateway with the production defaults: cross-request cache and circuit breakers on.

    Shared by the end-to-end tests that need the cache on but not a cold one; a test
    that counts what a cold cache fetches starts its own (`gateway_with`).
    """
    with GatewayProcess(systems.urls, auth=AUTH) as process:
        yield Gateway(process.url)


@pytest.fixture(scope="session")
def federated_gateway(systems: Systems) -> Iterator[Gateway]:
    """A gateway serving as an Apollo Federation subgraph (no cache): one process for every federation test."""
    with GatewayProcess(systems.urls, auth=AUTH, federation={"enabled": True}, **LIVE) as process:
        yield Gateway(process.url)


@pytest.fixture(scope="session")
def bi_gateway(systems: Systems) -> Iterator[GatewayProcess]:
    """A gateway with the bi_reader service account and live data (no cache): persisted documents and exports.

    Exports read megabytes per ERP page; on a loaded 2-core machine the default 2 s backend
    timeout is about the machine, not the exports, so here the ERP gets 10 s."""
    with GatewayProcess(systems.urls, auth=BI_AUTH, erp={"timeout": 10}, **LIVE) as process:
        yield process


@pytest.fixture(scope="session")
def demo_gateway(systems: Systems) -> Iterator[Gateway]:
    """What `isthmus demo` serves (tokens per role, GraphiQL's role picker, the front-ends under /app/) over
    live data (no cache, no breakers, so a system taken down shows at once), on HTTP for a browser."""
    import app as isthmus
    from browser import DemoServer
    from server.http import create_app
    from server.settings import Settings

    site = isthmus.demo_site(TEST_SECRET, systems.get("crm", "/reps"))
    settings = Settings(auth=AUTH, **{name: {"url": url} for name, url in systems.urls.items()}, **LIVE)
    server = DemoServer(create_app(settings, demo=site))
    try:
        yield Gateway(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium that resolves no host but 127.0.0.1 (tests/browser.py); skips where there is none."""
    from browser import Browser, missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    running = Browser()
    try:
        yield running
    finally:
        running.quit()


@contextmanager
def gateway_with(systems: Systems, **settings: Any) -> Iterator[Gateway]:
    """A gateway process of its own (cold caches, fresh breakers) with these settings."""
    with GatewayProcess(systems.urls, auth=AUTH, **settings) as process:
        yield Gateway(process.url)


@pytest.fixture(scope="module")
def catalogue(systems) -> Catalogue:
    """Products, BOMs and costs from the ERP's REST data: what ATP, costing and quote tests recompute from."""
    return Catalogue(systems)


@pytest.fixture(scope="module")
def stock(systems) -> dict:
    """Stock per SKU with receipts dated as a promise dates them (SRM confirmations, MES planned ends)."""
    return stock_by_sku(freshest(systems, systems.get("erp", "/stock")))


@pytest.fixture(scope="session")
def page_query() -> str:
    return (QUERIES / "customer360.graphql").read_text()


# Under `make test` (pytest-xdist: --dist loadfile --no-loadscope-reorder) each worker takes whole
# modules in collection order, the next as it finishes one. The longest go first, so that the short
# ones fill in beside them rather than run after them: by their time with coverage on the 2-core
# machine (each 8 to 40 s; Tryton is seeded for about half a minute before its first test).
SLOWEST = (
    "test_authorisation_properties.py", "test_tryton.py", "test_bi.py", "test_fuzz.py", "test_replicas.py",
    "test_quote.py", "test_field_access.py", "test_entities_properties.py", "test_derivation_properties.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(SLOWEST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOWEST)))  # stable: the rest keep their order
