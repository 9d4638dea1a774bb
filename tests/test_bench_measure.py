"""The arithmetic the benchmark targets are judged by: critical path, field count, percentiles,
the gateway's phases read from its metrics, the varied pages, and the targets' verdicts."""

import pytest

from bench.measure import (
    PhaseTotals,
    count_fields,
    critical_path,
    dependency_levels,
    gateway_gaps,
    percentile,
    phase_totals,
    phases_per_request,
)
from bench.report import phases_section, targets
from bench.scenarios import COMPARISON_UNDER_LOAD, CUSTOMER_BY_ID, page_cursors
from resolvers.customers import DEFAULT_ORDER, NAME
from resolvers.keysets import decode_cursor
from server.metrics import UNAUTHENTICATED, Metrics


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


# --- the gateway's account of its time (/metrics) ------------------------------------------


def scrape(metrics) -> PhaseTotals:
    return phase_totals(metrics.render().decode())


def test_phases_per_request_are_the_mean_ms_between_two_scrapes_of_the_gateways_metrics():
    metrics = Metrics()  # the gateway's own exposition, so the parser reads what /metrics writes
    metrics.request(UNAUTHENTICATED, "unauthenticated", 0.5)  # refused before the pipeline: not a request here
    metrics.request("Page", "ok", 0.1)
    metrics.phases({"authenticate": 0.001, "parse_validate": 0.002, "execute": 0.09, "waiting": 0.06, "serialise": 0.004})
    before = scrape(metrics)
    assert before.requests == 1 and before.seconds["execute"] == pytest.approx(0.09)
    for execute, waiting in ((0.05, 0.03), (0.07, 0.01)):
        metrics.request("Page", "ok", execute + 0.01)
        metrics.phases({"authenticate": 0.001, "parse_validate": 0.002, "execute": execute, "waiting": waiting,
                        "plan": 0.004, "serialise": 0.003})
    metrics.request("Other", "refused", 0.002)  # refused by the pipeline: a request, with only its first phases
    metrics.phases({"authenticate": 0.002, "parse_validate": 0.001})

    measured = phases_per_request(before, scrape(metrics))
    assert measured["requests"] == 3
    phases = measured["phases_ms"]
    # the pipeline's phases first, in the order a request passes them, then the executor's by name
    assert list(phases) == ["authenticate", "parse_validate", "execute", "serialise", "plan", "waiting"]
    assert phases["execute"] == pytest.approx(40.0)  # (50 + 70) / 3 requests: a phase not passed counts 0
    assert phases["authenticate"] == pytest.approx(4 / 3, abs=1e-3)
    assert phases["waiting"] == pytest.approx(40 / 3, abs=1e-3)
    assert phases["plan"] == pytest.approx(8 / 3, abs=1e-3)
    # the pipeline's duration (60 + 80 + 2 ms) plus authentication (4 ms), per request
    assert measured["request_ms"] == pytest.approx(146 / 3, abs=1e-3)


def test_no_request_between_scrapes_gives_no_phases():
    metrics = Metrics()
    assert phases_per_request(scrape(metrics), scrape(metrics)) is None


def test_phase_totals_of_several_gateways_add_up():
    one = PhaseTotals(2, 0.2, {"execute": 0.1, "serialise": 0.01})
    two = PhaseTotals(3, 0.3, {"execute": 0.2, "waiting": 0.05})
    both = one + two
    assert (both.requests, both.request_seconds) == (5, pytest.approx(0.5))
    assert both.seconds == pytest.approx({"execute": 0.3, "serialise": 0.01, "waiting": 0.05})


def test_the_phase_table_puts_the_executors_phases_under_execute():
    scenarios = {
        "page": {"runs": [{"first": 10, "phases": {"requests": 5, "request_ms": 50.0,
                                                    "phases_ms": {"authenticate": 0.1, "parse_validate": 0.2,
                                                                  "execute": 48.0, "serialise": 1.5,
                                                                  "completing": 9.0, "waiting": 30.0}}}]},
        "cpu": {"first": 50, "runs": [{"cache": "used", "phases": None}]},  # several workers: not measured
    }
    text = phases_section(scenarios)
    header = next(line for line in text.splitlines() if line.startswith("| measurement"))
    assert header == ("| measurement | authenticate | parse_validate | execute | execute: waiting | "
                      "execute: completing | serialise | request |")
    assert "| 1. 360 page, first 10 | 0.100 | 0.200 | 48.0 | 30.0 | 9.000 | 1.500 | **50.0** |" in text
    assert "5. " not in text
    assert phases_section({"cpu": {"error": "RuntimeError: boom"}}) is None


# --- varied pages, and the targets ---------------------------------------------------------------


def test_page_cursors_start_every_full_page_once_without_overlap_for_as_long_as_possible():
    keysets = [(f"2026-11-{30 - n:02d}T09:00:00Z", f"C{n:05d}") for n in range(10)]  # newest activity first
    cursors = page_cursors(keysets, 3)
    # each cursor is the keyset of the row before its page, as the `customers` list issues it
    starts = [0 if cursor is None else keysets.index(decode_cursor(NAME, DEFAULT_ORDER, cursor)) + 1
              for cursor in cursors]
    assert starts == [0, 3, 6, 1, 4, 7, 2, 5]  # every start of a full page (the last is 7), once
    assert cursors[0] is None


def run(first, ratio, calls):
    return {"first": first, "latency_over_critical_path": ratio, "calls": calls}


def test_the_issue_15_targets_are_judged_on_the_scenarios_that_measured_them():
    results = {
        "scenarios": {
            "page": {"backend_latency_ms": 20, "runs": [run(100, 1.1, 12), run(10, 1.05, 12), run(50, 1.2, 12)]},
            "quote": {"skipped": "no Query.quote"},
            "cpu": {"first": 50, "runs": [{"cache": "bypassed", "cpu_us_per_field": 1.4, "fields": 19206,
                                           "cpu_ms_per_request": 30.0},
                                          {"cache": "used", "cpu_us_per_field": 0.5, "fields": 19206,
                                           "cpu_ms_per_request": 9.0}]},
            "throughput": {"backend_latency_ms": 0, "runs": [
                {"query": CUSTOMER_BY_ID, "cache": "bypassed", "per_second_per_worker": 1600.0},
                {"query": CUSTOMER_BY_ID, "cache": "used", "per_second_per_worker": 900.0},  # not the target's
                {"query": COMPARISON_UNDER_LOAD, "cache": "bypassed", "gateway_cpu_ms_per_request": 31.5},
            ]},
        },
        "gateway_peak_rss_mb": {"page": 180.0, "throughput": 251.0},
    }
    rows = {row["target"].split(":")[0].split(" ≤")[0].split(" ≥")[0]: row for row in targets(results)}
    status = {name: row["status"] for name, row in rows.items()}
    assert len(rows) == 9
    assert status["slowest worklist (50 rows)"] == "not measured"
    # 1.2 at first 50 misses, though 10 and 100 are met
    assert status["360 page p50"] == "missed"
    assert rows["360 page p50"]["value"] == "1.05 × / 1.2 × / 1.1 × (first 10 / 50 / 100)"
    assert status["360 page"] == "met"  # 12 backend calls at every first
    assert status["gateway CPU"] == "met"
    assert status["comparison query, a different page per request"] == "missed"
    assert status["customer(id), a different id per request, 0 ms backends"] == "met"  # judged bypassed only
    assert status["a cache hit costs"] == "met" and rows["a cache hit costs"]["value"] == "9 / 30 ms = 0.30"
    assert status["gateway RSS"] == "missed" and rows["gateway RSS"]["value"] == "251 MB (throughput)"
    assert status["quote of 20 lines"] == "not measured"
    assert targets({"scenarios": {}})[0]["status"] == "not measured"


def test_the_worklist_target_is_judged_on_the_slowest_worklist():
    def run(name, p50, critical):
        return {"worklist": name, "latency_ms": {"p50": p50}, "latency_over_critical_path": round(p50 / critical, 2)}

    lists = {"runs": [run("late orders", 80.0, 50.0), run("tickets breaching SLA", 30.0, 25.0)], "slowest": "late orders"}
    (row,) = [r for r in targets({"scenarios": {"worklists": lists}}) if r["target"].startswith("slowest worklist")]
    assert (row["value"], row["status"]) == ("1.6 × (late orders)", "missed")
    lists["runs"][0] = run("late orders", 60.0, 50.0)
    (row,) = [r for r in targets({"scenarios": {"worklists": lists}}) if r["target"].startswith("slowest worklist")]
    assert row["status"] == "met"
