"""What operators see: metrics, health, request ids and per-request traces."""

from prometheus_client.parser import text_string_to_metric_families


def test_metrics_expose_requests_backend_calls_batches_caches_and_breakers(systems, page_query, cached_gateway):
    cached_gateway.query(page_query, {"first": 5}, headers={"Cache-Control": "no-cache"})  # misses, whatever ran before
    cached_gateway.query(page_query, {"first": 5})  # hits
    text = cached_gateway.http.get(f"{cached_gateway.url}/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    samples = {name: [s for s in family.samples] for name, family in families.items()}
    assert any(s.labels.get("operation") == "Customer360Page" and s.labels["outcome"] == "ok" for s in samples["isthmus_requests"])
    assert "isthmus_request_duration_seconds" in families
    assert {s.labels["source"] for s in samples["isthmus_backend_calls"]} == {"CRM", "ERP", "CLM", "DESK"}
    assert any(s.name.endswith("_count") for s in samples["isthmus_backend_batch_keys"])
    events = {s.labels["event"] for s in samples["isthmus_cache_events"]}
    assert {"hit", "miss"} <= events
    assert "isthmus_breaker_state" in families


def test_the_request_id_is_taken_from_the_caller_or_made_and_returned(gateway):
    given = gateway.post("{ me { id } }", headers={"X-Request-Id": "req-42"})
    assert given.headers["X-Request-Id"] == "req-42"
    made = gateway.post("{ me { id } }")
    assert len(made.headers["X-Request-Id"]) == 32


def test_health_and_readiness(gateway):
    assert gateway.http.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    assert gateway.http.get(f"{gateway.url}/readyz").json() == {"status": "ready"}
    ready = gateway.http.get(f"{gateway.url}/readyz?details").json()  # the client is an admin
    assert ready["status"] == "ready"
    assert set(ready["sources"]) == {"CRM", "ERP", "CLM", "DESK", "SRM", "MES"}


def test_a_trace_lists_every_backend_call_when_asked(systems, gateway, page_query):
    systems.reset_stats()
    body = gateway.query(page_query, {"first": 5}, headers={"X-Isthmus-Trace": "1"})
    calls = body["extensions"]["trace"]["calls"]
    assert len(calls) == sum(systems.calls().values())
    assert all({"source", "method", "keys", "start_ms", "duration_ms", "outcome", "cache"} <= set(c) for c in calls)
    assert "trace" not in gateway.query(page_query, {"first": 5})["extensions"]
