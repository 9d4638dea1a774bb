"""The cross-request cache, end to end: repeated reads cost nothing, freshness is the client's to ask.

These run against the shared gateway with the cache on (`cached_gateway`): each test
warms what it counts first. The cache's own rules (TTL, single-flight, stale-if-error,
the bound) are proven in process on a moved clock in tests/test_cache.py; single-flight
across real requests is tests/test_caller_isolation_http.py.
"""

PAGE_VARIABLES = {"first": 10}


def test_a_repeated_page_within_the_ttl_makes_no_backend_call(systems, page_query, cached_gateway):
    gateway = cached_gateway
    cold = gateway.query(page_query, PAGE_VARIABLES)
    assert "errors" not in cold
    systems.reset_stats()
    warm = gateway.query(page_query, PAGE_VARIABLES)
    assert sum(systems.calls().values()) == 0
    assert warm["data"] == cold["data"]
    ages = warm["extensions"]["freshness"]
    assert set(ages) == {"CRM", "ERP", "CLM", "DESK"}
    assert all(entry["age"] > 0 and entry["stale"] is False for entry in ages.values())


def test_no_cache_from_the_client_fetches_everything_again(systems, page_query, cached_gateway):
    gateway = cached_gateway
    gateway.query(page_query, PAGE_VARIABLES)
    systems.reset_stats()
    fresh = gateway.query(page_query, PAGE_VARIABLES, headers={"Cache-Control": "no-cache"})
    calls = systems.calls()
    assert all(calls[system] > 0 for system in ("crm", "erp", "clm", "desk"))
    assert all(entry["age"] < 1 for entry in fresh["extensions"]["freshness"].values())


def test_fresh_max_age_zero_on_availability_refetches_stock_only(systems, page_query, cached_gateway):
    fresh_stock = page_query.replace("availability {", "availability @fresh(maxAge: 0) {")
    assert fresh_stock != page_query
    gateway = cached_gateway
    gateway.query(page_query, PAGE_VARIABLES)
    systems.reset_stats()
    body = gateway.query(fresh_stock, PAGE_VARIABLES)
    assert "errors" not in body
    assert systems.by_route() == {"crm": {}, "erp": {"/stock": 1}, "clm": {}, "desk": {}, "srm": {}, "mes": {}}
