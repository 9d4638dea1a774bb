"""Backend budgets end to end: what a system of record sees of the gateway, counted at the system.

The demo systems report the most calls they served at once (`/_stats` `max_concurrent`), so
the budget is asserted from the backend's side, across processes and replicas. Nothing here
asserts how long anything took; the timing claim (a quote's p50 while an export runs) is the
benchmark's (`python -m app bench --scenarios budgets`). The machinery is in process in
tests/test_budgets.py.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.harness import GatewayProcess
from conftest import BI_AUTH, BI_KEY, LIVE, bearer

QUOTE = """query($input: QuoteInput!) {
  quote(input: $input) { total lines { sku amount availability { available canPromise } } }
}"""
QUOTE_USERS = 16
PATIENT = {"max_wait": {"interactive": 30.0, "worklist": 30.0, "batch": 30.0}}


def quote_input(systems) -> dict:
    customer = systems.get("crm", "/customers/search", limit=1)[0]
    products = systems.get("erp", "/products")
    lines = [{"sku": p["sku"], "quantity": "2", "unitPrice": p["list_price"]} for p in products[::97][:10]]
    return {"input": {"customerId": customer["id"], "lines": lines}}


def test_with_an_erp_budget_of_4_the_erp_never_serves_more_than_4_calls_while_an_export_and_16_quote_users_run(
    systems,
):
    variables = quote_input(systems)
    with GatewayProcess(
        systems.urls, auth=BI_AUTH, erp={"timeout": 10, "budget": {"max_concurrent": 4}}, budgets=PATIENT, **LIVE
    ) as gateway, systems.faults("erp", latency_ms=20):  # the demo ERP serves one call at a time without it
        systems.reset_stats()
        export: dict = {}
        done = threading.Event()

        def run_export() -> None:
            try:
                with httpx.Client(base_url=gateway.url, timeout=300) as client:
                    response = client.get("/bi/OpenOrdersByProduct.json", headers={"X-API-Key": BI_KEY})
                    export["status"], export["rows"] = response.status_code, response.json()
            finally:
                done.set()

        def quote_user(n: int) -> list[dict]:
            answers = []
            with httpx.Client(base_url=gateway.url, timeout=60, headers=bearer("admin", user=f"rep-{n}")) as client:
                while not done.is_set() or not answers:
                    answers.append(client.post("/graphql", json={"query": QUOTE, "variables": variables}).json())
            return answers

        exporter = threading.Thread(target=run_export)
        exporter.start()
        with ThreadPoolExecutor(QUOTE_USERS) as pool:
            quotes = [answer for answers in pool.map(quote_user, range(QUOTE_USERS)) for answer in answers]
        exporter.join()
        erp = systems.http.get(f"{systems.urls['erp']}/_stats").json()

    assert export["status"] == 200 and len(export["rows"]) > 1000  # every open order's lines, complete JSON
    assert all("errors" not in answer and answer["data"]["quote"]["lines"] for answer in quotes)
    assert len(quotes) >= QUOTE_USERS
    assert erp["max_concurrent"] == 4  # the load filled the budget, and never went past it


PRODUCT = "query($s: ID!) { product(sku: $s) { sku name } }"


def erp_limit(gateway: GatewayProcess) -> float:
    metrics = httpx.get(f"{gateway.url}/metrics", headers=bearer("admin")).text
    line = next(line for line in metrics.splitlines() if line.startswith('isthmus_backend_concurrency_limit{source="ERP"}'))
    return float(line.rsplit(" ", 1)[1])


def test_the_adaptive_limit_shrinks_when_the_erps_latency_triples_and_recovers_when_it_returns(systems):
    skus = [p["sku"] for p in systems.get("erp", "/products")[:50]]
    erp = {"budget": {"max_concurrent": 8, "adaptive": True}}
    with GatewayProcess(systems.urls, auth=BI_AUTH, erp=erp, budgets=PATIENT, **LIVE) as gateway:

        def load(rounds: int = 1) -> None:
            def user(n: int) -> None:
                with httpx.Client(base_url=gateway.url, timeout=60, headers=bearer("admin")) as client:
                    for r in range(12 * rounds):
                        body = client.post("/graphql", json={"query": PRODUCT, "variables": {"s": skus[(n + r) % 50]}})
                        assert "errors" not in body.json()

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(user, range(8)))

        def until(done, latency_ms: int, most: int) -> list[float]:
            seen = []
            with systems.faults("erp", latency_ms=latency_ms):
                for _ in range(most):
                    load()
                    seen.append(erp_limit(gateway))
                    if done(seen[-1]):
                        break
            return seen

        baseline = until(lambda limit: False, 20, 2)
        tripled = until(lambda limit: limit <= 2, 60, 20)
        recovered = until(lambda limit: limit == 8, 20, 30)
    assert baseline == [8.0, 8.0]
    assert tripled[-1] <= 2 < 8  # shrank while the ERP answered three times slower
    assert recovered[-1] == 8  # and grew back to the budget when it answered as before
