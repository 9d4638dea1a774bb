"""Two gateway replicas sharing a real Redis: APQ, source cache, cost budgets, policy reloads.

Redis is optional and never in the way: when it dies, both replicas keep
answering from their in-process state and say so in /readyz.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench.harness import GatewayProcess
from bench.redis_server import RedisServer, redis_binary
from conftest import AUTH, Gateway, bearer

pytestmark = pytest.mark.skipif(
    redis_binary() is None, reason="redis-server is not installed (apt-get install redis-server; .ci/run does)"
)

POLICIES = Path(__file__).resolve().parent.parent / "policies"
CUSTOMER = "query($id: ID!) { customer(id: $id) { id name owner { name } orders(first: 5) { id total } receivables { openBalance } } }"


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("policy")
    for name in ("model.conf", "policy.csv"):
        shutil.copy(POLICIES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def replicas(systems, redis_server, policy_dir):
    """Two replicas as a deployment runs them: same settings, same Redis, same policy files."""
    settings = {
        "auth": AUTH,
        "redis": {"url": redis_server.url},
        "resilience": {"breaker": False},
        "policy_dir": str(policy_dir),
        "limits": {"budget_per_window": 2_000, "budget_window": 600},
    }
    with ExitStack() as stack:
        yield [Gateway(stack.enter_context(GatewayProcess(systems.urls, **settings)).url) for _ in range(2)]


@pytest.fixture(scope="module")
def customer_ids(systems):
    return [c["id"] for c in systems.get("crm", "/customers/search", limit=20)]


def apq(text):
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(text.encode()).hexdigest()}}


def test_a_query_registered_through_one_replica_is_served_by_the_other(replicas):
    one, two = replicas
    text = "query RegisteredOnOne { me { id roles } }"
    assert two.http.post(f"{two.url}/graphql", json={"extensions": apq(text)}).json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert one.http.post(f"{one.url}/graphql", json={"query": text, "extensions": apq(text)}).json()["data"]["me"]["id"] == "test-admin"
    served = two.http.post(f"{two.url}/graphql", json={"extensions": apq(text)}).json()
    assert served["data"]["me"]["id"] == "test-admin"


def test_a_source_cache_fill_by_one_replica_serves_the_other(replicas, systems, customer_ids):
    one, two = replicas
    variables = {"id": customer_ids[3]}
    systems.reset_stats()
    first = one.query(CUSTOMER, variables)
    assert "errors" not in first
    assert sum(systems.calls().values()) > 0
    systems.reset_stats()
    second = two.query(CUSTOMER, variables)
    assert second["data"] == first["data"]
    assert systems.calls() == {"crm": 0, "erp": 0, "clm": 0, "desk": 0, "srm": 0, "mes": 0}
    # the same freshness rules: no-cache goes to the systems of record, whatever Redis holds
    systems.reset_stats()
    two.query(CUSTOMER, variables, headers={"Cache-Control": "no-cache"})
    assert systems.calls()["crm"] > 0


def test_shared_entries_obey_each_requests_freshness_and_the_ttl(replicas, systems):
    one, two = replicas
    plain = '{ product(sku: "SKU-0002") { name availability { available } } }'
    fresh = '{ product(sku: "SKU-0002") { name availability @fresh(maxAge: 0) { available } } }'
    one.query(plain)
    systems.reset_stats()
    assert two.query(fresh)["data"]["product"]["name"]
    # the product comes from Redis; stock must be live, so only stock is fetched
    assert systems.by_route()["erp"] == {"/stock": 1}
    time.sleep(5.3)  # past stock's 5 s TTL, well within the product's 300 s
    systems.reset_stats()
    two.query(plain)
    assert systems.by_route()["erp"] == {"/stock": 1}


def test_a_principal_has_one_cost_budget_across_replicas(replicas):
    one, two = replicas
    headers = bearer("finance", user="budget-tester")
    query = "{ customers(first: 50) { edges { node { id name tier } } } }"  # estimated cost: 300
    answers = [replica.post(query, headers=headers).status_code for replica in (one, two) * 4]
    # 2,000 units per 600 s: six queries fit, whichever replica takes them; then the caller waits
    assert answers == [200] * 6 + [429] * 2


def test_a_policy_reload_on_one_replica_reloads_the_other_through_redis(replicas, policy_dir):
    one, two = replicas
    before = two.http.get(f"{two.url}/readyz?details").json()["policy"]
    rules = policy_dir / "policy.csv"
    rules.write_text(rules.read_text() + "p, sales_rep, Product.standardCost, read, allow\n")
    reloaded = one.http.post(f"{one.url}/admin/policy/reload").json()
    assert reloaded["reloaded"] is True
    # Only /readyz is asked of the second replica, and /readyz never looks at the files: a new digest there
    # can only come from the first replica's notice on Redis. It takes milliseconds; 10 s only stops a hang.
    until = time.monotonic() + 10
    while True:
        now = two.http.get(f"{two.url}/readyz?details").json()["policy"]
        if now["digest"] != before["digest"] or time.monotonic() > until:
            break
        time.sleep(0.02)
    assert now["digest"] == one.http.get(f"{one.url}/readyz?details").json()["policy"]["digest"] != before["digest"]
    as_rep = two.query('{ product(sku: "SKU-0001") { standardCost } }', headers=bearer("sales_rep", user="R001"))
    assert "errors" not in as_rep and as_rep["data"]["product"]["standardCost"] is not None


def test_when_redis_dies_both_replicas_keep_answering_and_say_so(replicas, redis_server, customer_ids):
    one, two = replicas
    text = "query StillServed { me { id } }"
    one.http.post(f"{one.url}/graphql", json={"query": text, "extensions": apq(text)})
    assert two.http.post(f"{two.url}/graphql", json={"extensions": apq(text)}).status_code == 200
    redis_server.stop()
    try:
        for replica in (one, two):
            for customer_id in customer_ids[:5]:
                started = time.monotonic()
                body = replica.query(CUSTOMER, {"id": customer_id})
                assert "errors" not in body and body["data"]["customer"]["id"] == customer_id
                assert time.monotonic() - started < 2.0
            # what each replica already had stays in-process: the APQ document, the policy
            assert replica.http.post(f"{replica.url}/graphql", json={"extensions": apq(text)}).json()["data"]["me"]["id"] == "test-admin"
            ready = replica.http.get(f"{replica.url}/readyz?details")
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded" and ready.json()["redis"]["state"] == "down"
            assert "isthmus_redis_up 0.0" in replica.http.get(f"{replica.url}/metrics").text
    finally:
        redis_server.start()
    until = time.monotonic() + 10
    while time.monotonic() < until and any(
        r.http.get(f"{r.url}/readyz?details").json()["redis"]["state"] != "up" for r in replicas
    ):
        time.sleep(0.2)
    assert all(r.http.get(f"{r.url}/readyz?details").json()["status"] == "ready" for r in replicas)
    assert all("isthmus_redis_up 1.0" in r.http.get(f"{r.url}/metrics").text for r in replicas)


@pytest.fixture(scope="module")
def budgeted_replicas(systems, redis_server):
    """Two replicas sharing an ERP budget of 4 calls at once through Redis (2 each while it is away); no cache."""
    settings = {
        "auth": AUTH,
        "redis": {"url": redis_server.url, "retry_after": 0.5},
        "erp": {"budget": {"max_concurrent": 4}},
        "budgets": {"replicas": 2, "max_wait": {"interactive": 30.0}},
        "cache": {"enabled": False},
        "resilience": {"breaker": False},
    }
    with ExitStack() as stack:
        yield [Gateway(stack.enter_context(GatewayProcess(systems.urls, **settings)).url) for _ in range(2)]


def erp_load(replicas, customer_ids, users_per_replica: int = 8, rounds: int = 3) -> list[dict]:
    """Concurrent customer pages (two ERP calls each) through both replicas at once."""
    from concurrent.futures import ThreadPoolExecutor

    def user(n: int) -> list[dict]:
        replica = replicas[n % 2]
        return [replica.query(CUSTOMER, {"id": customer_ids[(n + r) % len(customer_ids)]}) for r in range(rounds)]

    with ThreadPoolExecutor(users_per_replica * 2) as pool:
        return [answer for answers in pool.map(user, range(users_per_replica * 2)) for answer in answers]


def test_two_replicas_share_one_erp_budget_through_redis_and_keep_to_their_share_without_it(
    budgeted_replicas, redis_server, systems, customer_ids
):
    with systems.faults("erp", latency_ms=40):  # the demo ERP serves one call at a time without it
        systems.reset_stats()
        answers = erp_load(budgeted_replicas, customer_ids)
        shared = systems.http.get(f"{systems.urls['erp']}/_stats").json()["max_concurrent"]
        redis_server.stop()
        try:
            systems.reset_stats()
            alone = erp_load(budgeted_replicas, customer_ids)
            apart = systems.http.get(f"{systems.urls['erp']}/_stats").json()["max_concurrent"]
            limits = [
                r.http.get(f"{r.url}/readyz?details").json()["sources"]["ERP"]["budget"]["limit"]
                for r in budgeted_replicas
            ]
        finally:
            redis_server.start()
    assert all("errors" not in answer for answer in answers + alone)
    assert shared == 4  # sixteen users on two replicas: the ERP saw the budget, never more
    assert apart <= 4 and limits == [2, 2]  # each replica on its share while Redis is away
