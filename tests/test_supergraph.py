"""Isthmus composed into a supergraph with a second subgraph, served by a real router.

GraphQL Mesh's compose CLI builds the supergraph from both subgraphs' `_service { sdl }`;
Hive Gateway serves it and forwards the caller's token. A query crossing both
subgraphs makes the router ask Isthmus for `_entities`, which costs one CRM call for
50 customers and applies the caller's row-level rules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.harness import free_port, stop
from conftest import bearer, token

HERE = Path(__file__).resolve().parent / "federation"
BIN = HERE / "node_modules" / ".bin"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="Node.js and npm are needed for the router (GraphQL Mesh compose, Hive Gateway)",
)


def segment_of(router, customer_id: str) -> str:
    """What the marketing subgraph itself says, asked directly."""
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { segment } } }"
    variables = {"r": [{"__typename": "Customer", "id": customer_id}]}
    body = httpx.post(router["marketing"], json={"query": query, "variables": variables}, timeout=10).json()
    return body["data"]["_entities"][0]["segment"]


def install_router() -> None:
    """`npm ci` the pinned packages once (about a minute); again only when the lock file changes."""
    installed = HERE / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= (HERE / "package-lock.json").stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True, timeout=900)


class Process:
    """A child process that answers GraphQL at `url` once `{ __typename }` works."""

    def __init__(self, command: list[str], url: str, env: dict[str, str], log: Path, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.log = log
        self.process = subprocess.Popen(command, cwd=HERE, env={**os.environ, **env},
                                        stdout=log.open("wb"), stderr=subprocess.STDOUT)
        until = time.monotonic() + 60
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.post(url, json={"query": "{ __typename }"}, headers=headers, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{command[0]} did not answer: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture(scope="module")
def targets(systems):
    return systems.get("crm", "/customers/search", limit=50)


@pytest.fixture(scope="module")
def router(federated_gateway, targets, tmp_path_factory):
    install_router()
    work = tmp_path_factory.mktemp("supergraph")
    admin = {"Authorization": f"Bearer {token('admin')}"}
    isthmus = federated_gateway  # the subgraph every federation test shares
    port = free_port()
    marketing = Process(
        [sys.executable, "-m", "uvicorn", "marketing:app", "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/graphql",
        {"MARKETING_TARGETS": ",".join(t["id"] for t in targets)},
        work / "marketing.log",
    )
    try:
        supergraph = work / "supergraph.graphql"
        subprocess.run(
            [str(BIN / "mesh-compose"), "-o", str(supergraph)],
            cwd=HERE,
            env={**os.environ, "ISTHMUS_URL": f"{isthmus.url}/graphql", "MARKETING_URL": marketing.url,
                 "ISTHMUS_TOKEN": token("admin")},
            check=True,
            timeout=120,
            capture_output=True,
        )
        port = free_port()
        gateway = Process(
            [str(BIN / "hive-gateway"), "supergraph", str(supergraph), "--host", "127.0.0.1", "--port", str(port)],
            f"http://127.0.0.1:{port}/graphql",
            {},
            work / "hive-gateway.log",
            headers=admin,
        )
        try:
            yield {"url": gateway.url, "marketing": marketing.url, "supergraph": supergraph.read_text()}
        finally:
            gateway.stop()
    finally:
        marketing.stop()


def ask(router, query, headers):
    response = httpx.post(router["url"], json={"query": query}, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_supergraph_joins_customer_from_isthmus_with_marketing(router, targets):
    assert "join__graph" in router["supergraph"] and "ISTHMUS" in router["supergraph"].upper()
    customer = targets[0]
    body = ask(router, f'{{ customer(id: "{customer["id"]}") {{ id name tier segment }} }}', bearer("admin"))
    assert "errors" not in body, body
    assert body["data"]["customer"] == {
        "id": customer["id"], "name": customer["name"], "tier": customer["tier"], "segment": segment_of(router, customer["id"]),
    }


def test_fifty_campaign_targets_cost_isthmus_one_crm_call(router, targets, systems):
    systems.reset_stats()
    body = ask(router, '{ campaign(id: "spring") { name targets { id segment name tier } } }', bearer("admin"))
    assert "errors" not in body, body
    got = body["data"]["campaign"]["targets"]
    assert [(t["id"], t["name"]) for t in got] == [(c["id"], c["name"]) for c in targets]
    assert systems.by_route()["crm"] == {"/customers": 1}


def test_the_router_carries_the_callers_rights(router, targets):
    rep = targets[0]["owner_id"]
    others = {t["name"] for t in targets if t["owner_id"] != rep}
    body = ask(router, '{ campaign(id: "spring") { targets { id name } } }', bearer("sales_rep", user=rep))
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}, body
    text = json.dumps(body)
    assert not [name for name in others if json.dumps(name) in text], "a customer the rep may not see leaked"
    anonymous = ask(router, f'{{ customer(id: "{targets[0]["id"]}") {{ name }} }}', {})
    assert (anonymous.get("data") or {}).get("customer") is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
