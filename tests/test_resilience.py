"""Circuit breakers and deadlines end to end: a real gateway process against a real failing backend.

One test per behaviour that needs real HTTP: a backend that is down (refused
connections) opens its circuit and readiness says so; a client's deadline ends a
slow call in SOURCE_TIMEOUT (a slow ERP past its own timeout: tests/test_failures.py).
Assertions are on what the gateway answers and what the backend was asked, never on
how long it took. The step-by-step rules
(thresholds, the half-open probe, retries over a scripted run of 503s, a backend
that never answers) are in process in tests/test_breaker.py and
tests/test_caller_isolation.py.
"""

import time

from conftest import gateway_with

NO_CACHE = {"cache": {"enabled": False}}
PRODUCT = 'query($s: ID!) { product(sku: $s) { sku name } }'


def first_sku(systems):
    return systems.get("erp", "/products")[0]["sku"]


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
        time.sleep(1.1)  # the cooldown, which the gateway process reads from its own clock
        body = gateway.query(PRODUCT, {"s": sku})
        assert body["data"]["product"]["sku"] == sku
        assert gateway.http.get(f"{gateway.url}/readyz?details").json()["sources"]["ERP"]["circuit"] == "closed"


def test_the_client_deadline_bounds_every_wait(systems, impatient_gateway):
    # the CRM waits up to its default 2 s, longer than its 1.5 s latency: only the 0.4 s deadline can time it out
    with systems.faults("crm", latency_ms=1500):
        body = impatient_gateway.query("{ customers(first: 2) { totalCount } }", headers={"X-Request-Timeout": "0.4"})
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_TIMEOUT"
