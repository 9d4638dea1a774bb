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
