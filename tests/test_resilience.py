"""Retries, circuit breakers and deadlines: the gateway stays quick and honest when a backend misbehaves."""

import time

from conftest import gateway_with

NO_CACHE = {"cache": {"enabled": False}}
PRODUCT = 'query($s: ID!) { product(sku: $s) { sku name } }'


def first_sku(systems):
    return systems.get("erp", "/products")[0]["sku"]


def success_share(gateway, sku, n=40):
    ok = 0
    for _ in range(n):
        body = gateway.query(PRODUCT, {"s": sku})
        ok += body["data"]["product"] is not None
    return ok / n


def test_retries_recover_most_reads_when_half_the_calls_fail(systems):
    sku = first_sku(systems)
    quiet = {**NO_CACHE, "resilience": {"breaker": False}}
    with gateway_with(systems, **quiet) as retrying, gateway_with(
        systems, **{**NO_CACHE, "resilience": {"breaker": False, "retries": 0}}
    ) as single:
        with systems.faults("erp", error_rate=0.5, status=503):
            systems.reset_stats()
            with_retries = success_share(retrying, sku)
            calls = systems.calls()["erp"]
            without = success_share(single, sku)
    assert with_retries >= 0.7
    assert with_retries > without
    assert calls > 40  # the failed attempts were tried again


def test_an_open_breaker_stops_calls_to_a_failing_system_and_closes_after_it_recovers(systems):
    sku = first_sku(systems)
    settings = {**NO_CACHE, "resilience": {"retries": 0, "breaker_threshold": 3, "breaker_cooldown": 1.0}}
    with gateway_with(systems, **settings) as gateway:
        with systems.faults("erp", down=True):
            for _ in range(3):
                gateway.query(PRODUCT, {"s": sku})
            ready = gateway.http.get(f"{gateway.url}/readyz?details")
            assert ready.json()["sources"]["ERP"]["circuit"] == "open"
            assert ready.json()["status"] == "degraded"
            systems.reset_stats()
            for _ in range(5):
                body = gateway.query(PRODUCT, {"s": sku})
                assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
            assert systems.calls()["erp"] == 0
        time.sleep(1.1)
        body = gateway.query(PRODUCT, {"s": sku})
        assert body["data"]["product"]["sku"] == sku
        assert gateway.http.get(f"{gateway.url}/readyz?details").json()["sources"]["ERP"]["circuit"] == "closed"


def test_a_backend_slower_than_its_timeout_costs_at_most_the_timeout(systems):
    sku = first_sku(systems)
    with gateway_with(systems, erp={"timeout": 0.3}, **NO_CACHE) as gateway:
        with systems.faults("erp", latency_ms=2000):
            for _ in range(3):
                started = time.monotonic()
                body = gateway.query(PRODUCT, {"s": sku})
                elapsed = time.monotonic() - started
                assert body["errors"][0]["extensions"]["code"] == "SOURCE_TIMEOUT"
                assert elapsed < 0.3 + 0.3


def test_the_client_deadline_bounds_every_wait(systems):
    with gateway_with(systems, **NO_CACHE) as gateway:
        with systems.faults("crm", latency_ms=1500):
            started = time.monotonic()
            body = gateway.query("{ customers(first: 2) { totalCount } }", headers={"X-Request-Timeout": "0.4"})
            elapsed = time.monotonic() - started
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_TIMEOUT"
    assert elapsed < 0.4 + 0.3
