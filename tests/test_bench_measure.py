"""The arithmetic the benchmark targets are judged by: critical path, field count, percentiles."""

import pytest

from bench.measure import count_fields, critical_path, dependency_levels, gateway_gaps, percentile


def call(source, method, start, duration, cache="miss"):
    return {"source": source, "method": method, "keys": 1, "start_ms": start, "duration_ms": duration,
            "outcome": "ok", "cache": cache}


# A 360 page as the gateway traces it: the customer search, then five look-ups
# started while none of them had returned, then products once orders were back.
# Gateway-side durations are inflated by a busy event loop.
TRACE = {
    "durationMs": 160.0,
    "calls": [
        call("CRM", "search_customers", 0.5, 25.0),
        call("CRM", "reps", 30.0, 24.0),
        call("ERP", "orders_by_party", 31.0, 40.0),
        call("ERP", "invoices_by_party", 32.0, 22.0),
        call("DESK", "tickets_by_org", 33.0, 21.0),
        call("CRM", "reps", 34.0, 0.0, cache="hit"),  # served by the gateway's cache: no backend call
        call("ERP", "products", 90.0, 30.0),
    ],
}

# The same calls as the backends timed them (epoch ms), in the order they arrived:
# the two level-2 ERP calls arrived swapped.
SERVED = {
    "crm": [{"route": "/customers/search", "start_ms": 1000.9, "duration_ms": 20.0},
            {"route": "/reps", "start_ms": 1030.4, "duration_ms": 19.0}],
    "erp": [{"route": "/invoices", "start_ms": 1031.2, "duration_ms": 21.0},
            {"route": "/orders", "start_ms": 1031.3, "duration_ms": 23.0},
            {"route": "/products", "start_ms": 1090.5, "duration_ms": 18.0}],
    "desk": [{"route": "/tickets", "start_ms": 1033.5, "duration_ms": 22.5}],
    "clm": [],
}


def test_a_call_is_one_level_below_the_deepest_call_that_ended_before_it_started():
    calls = [call("A", "a", 0, 10), call("B", "b", 11, 10), call("C", "c", 12, 30), call("D", "d", 25, 5)]
    # b and c start after a ended; d starts after b ended, while c still runs
    assert dependency_levels(calls) == [1, 2, 2, 3]


def test_calls_started_together_share_a_level():
    calls = [call("A", "a", 0, 20), call("B", "b", 1, 20), call("C", "c", 2, 20)]
    assert dependency_levels(calls) == [1, 1, 1]


def test_critical_path_sums_the_slowest_server_timed_call_of_each_level():
    path = critical_path(TRACE["calls"], SERVED)
    assert path.levels == 3
    # level 1: search 20; level 2: reps 19, invoices 21, orders 23, tickets 22.5; level 3: products 18
    assert path.slowest_per_level_ms == [20.0, 23.0, 18.0]
    assert path.total_ms == pytest.approx(61.0)
    # gateway minus backend duration, in start order: search, reps, orders, invoices, tickets, products
    # (the cache hit is no call); orders and invoices, swapped on the wire, swap their timings too
    assert path.overhead_ms == pytest.approx([5.0, 5.0, 19.0, -1.0, -1.5, 12.0])


def test_critical_path_refuses_traces_that_do_not_match_the_served_calls():
    served = {**SERVED, "desk": []}
    with pytest.raises(ValueError, match="desk"):
        critical_path(TRACE["calls"], served)


def test_gateway_gaps_are_the_stretches_without_a_backend_call_in_flight():
    # before the first call; level 1 ends 25.5, level 2 starts 30; level 2 ends 71, level 3 starts 90;
    # the last answer at 120, the response at 160
    assert gateway_gaps(TRACE) == pytest.approx([0.5, 4.5, 19.0, 40.0])


def test_every_key_of_every_object_counts_once_per_list_item():
    data = {
        "customers": {
            "totalCount": 2,
            "edges": [
                {"node": {"id": "C1", "tags": ["a", "b"], "owner": {"name": "X"}}},
                {"node": {"id": "C2", "tags": [], "owner": None}},
            ],
        }
    }
    # customers 1, totalCount + edges 2, two edges with node 2, node fields 3 + 3, owner.name 1
    assert count_fields(data) == 12
    assert count_fields({}) == 0
    assert count_fields({"a": [[{"b": 1}], [{"b": 2}, {"b": 3}]]}) == 4


def test_percentile_is_a_measured_value_by_nearest_rank():
    values = list(range(1, 21))
    assert percentile(values, 95) == 19
    assert percentile(values, 50) == 10
    assert percentile(list(range(1, 11)), 95) == 10
    assert percentile([7.0], 95) == 7.0
