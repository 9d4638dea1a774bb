"""The cross-request cache: repeated reads cost nothing, freshness is the client's to ask, failures fall back."""

import concurrent.futures
import time

from conftest import gateway_with

PAGE_VARIABLES = {"first": 10}


def test_a_repeated_page_within_the_ttl_makes_no_backend_call(systems, page_query):
    with gateway_with(systems) as gateway:
        cold = gateway.query(page_query, PAGE_VARIABLES)
        assert "errors" not in cold
        systems.reset_stats()
        warm = gateway.query(page_query, PAGE_VARIABLES)
        assert sum(systems.calls().values()) == 0
        assert warm["data"] == cold["data"]
        ages = warm["extensions"]["freshness"]
        assert set(ages) == {"CRM", "ERP", "CLM", "DESK"}
        assert all(entry["age"] > 0 and entry["stale"] is False for entry in ages.values())


def test_no_cache_from_the_client_fetches_everything_again(systems, page_query):
    with gateway_with(systems) as gateway:
        gateway.query(page_query, PAGE_VARIABLES)
        systems.reset_stats()
        fresh = gateway.query(page_query, PAGE_VARIABLES, headers={"Cache-Control": "no-cache"})
        calls = systems.calls()
        assert all(calls[system] > 0 for system in ("crm", "erp", "clm", "desk"))
        assert all(entry["age"] < 1 for entry in fresh["extensions"]["freshness"].values())


def test_fresh_max_age_zero_on_availability_refetches_stock_only(systems, page_query):
    fresh_stock = page_query.replace("availability {", "availability @fresh(maxAge: 0) {")
    assert fresh_stock != page_query
    with gateway_with(systems) as gateway:
        gateway.query(page_query, PAGE_VARIABLES)
        systems.reset_stats()
        body = gateway.query(fresh_stock, PAGE_VARIABLES)
        assert "errors" not in body
        assert systems.by_route() == {"crm": {}, "erp": {"/stock": 1}, "clm": {}, "desk": {}}


def test_concurrent_identical_requests_on_a_cold_cache_make_one_call_per_method(systems, page_query):
    with gateway_with(systems) as gateway:
        systems.reset_stats()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            bodies = list(pool.map(lambda _: gateway.query(page_query, PAGE_VARIABLES), range(20)))
        assert all("errors" not in body for body in bodies)
        routes = systems.by_route()
        assert routes["erp"] and all(n == 1 for counts in routes.values() for n in counts.values()), routes


def test_stale_data_is_served_within_the_grace_period_and_marked(systems):
    query = 'query($id: ID!) { customer(id: $id) { name receivables { openBalance } } }'
    customer = next(c for c in systems.get("crm", "/customers/search", limit=20) if c["refs"]["erp"])
    short = {"cache": {"ttl": {k: 1 for k in ("master", "activity", "lists", "orders", "balances", "stock")}, "grace": 2}}
    with gateway_with(systems, **short) as gateway:
        warm = gateway.query(query, {"id": customer["id"]})
        with systems.faults("erp", down=True):
            time.sleep(1.2)
            stale = gateway.query(query, {"id": customer["id"]})
            assert stale["data"] == warm["data"]
            assert stale["extensions"]["freshness"]["ERP"]["stale"] is True
            assert "errors" not in stale
            time.sleep(2.2)
            gone = gateway.query(query, {"id": customer["id"]})
    assert gone["data"]["customer"]["name"] == customer["name"]
    assert gone["data"]["customer"]["receivables"] is None
    assert {e["extensions"]["code"] for e in gone["errors"]} == {"SOURCE_UNAVAILABLE"}


def test_the_cache_holds_no_more_entries_than_its_bound(systems):
    skus = [p["sku"] for p in systems.get("erp", "/products")][:300]
    with gateway_with(systems, cache={"max_entries": 50}) as gateway:
        body = gateway.query("query($s: [ID!]!) { products(skus: $s) { sku } }", {"s": skus})
        assert len(body["data"]["products"]) == 300
        metrics = gateway.http.get(f"{gateway.url}/metrics").text
    entries = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("isthmus_cache_entries{") and 'method="products"' in line
    )
    assert entries == 50
