"""The benchmark scenarios. Each starts its own gateway process (so memory and
warm-up are its own), sets the backend latency it needs, and returns a
JSON-ready dict, or `{"skipped": why}`.

The gateway keeps backend data in a cross-request cache, so a warm request may
reach no backend at all. Scenarios about backend calls and the critical path
send `Cache-Control: no-cache`, which makes every request fetch (and refill the
cache); the throughput and CPU scenarios also run with the cache, as clients would.

Every measurement also reads the gateway's `/metrics` before and after, for its own
account of where a request's time went (authentication, parsing and validation,
execution and the executor's phases within it, serialisation).
"""

from __future__ import annotations

import datetime as dt

import asyncio
import base64
import multiprocessing
import hashlib
import statistics
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

import httpx
import orjson

from bench.harness import ROOT, GatewayProcess
from bench.load import run_load
from bench.redis_server import RedisServer, redis_binary
from bench.measure import (
    PhaseTotals,
    count_fields,
    cpu_seconds,
    critical_path,
    gateway_gaps,
    memory_mb,
    phase_totals,
    phases_per_request,
    process_tree,
    summary,
)
from resolvers.customers import DEFAULT_ORDER
from resolvers.customers import NAME as CUSTOMERS
from resolvers.keysets import encode_cursor
from server.auth import mint_token
from server.settings import AuthSettings

QUERIES = ROOT / "tests" / "queries"
PAGE = (QUERIES / "customer360.graphql").read_text()
QUOTE = (QUERIES / "quote.graphql").read_text()
ONE_CUSTOMER = "query One($id: ID!) { customer(id: $id) { id name tier } }"
# The query compared with GraphQL Mesh in issue 15: 50 customers with orders, lines and invoices.
COMPARISON = ("query($after: String) { customers(first: 50, after: $after) { edges { node { id name tier "
              "orders(first: 100) { id status total lines { sku quantity unitPrice } } "
              "receivables { invoices(openOnly: false) { id amount dueDate status } } } } } }")
COMPARISON_FIRST = 50
LOAD_FIRST = 20  # customers per 360 page under load
# The throughput workloads, each a different id or page on every request
CUSTOMER_BY_ID, PAGE_UNDER_LOAD, COMPARISON_UNDER_LOAD = "customer(id)", f"360 page, first: {LOAD_FIRST}", "comparison query"
QUOTE_LINES = 20
CPU_TURN = 5  # requests per gateway and turn when CPU is compared between gateways
# The gateways trust tokens signed with this secret; the benchmark calls as an
# admin, who may read every field, so answers are complete and alike across runs.
SECRET = "isthmus-benchmark-secret-not-for-production"
CALLER = {"Authorization": f"Bearer {mint_token(SECRET, user='bench-admin', roles=['admin'], ttl_seconds=24 * 3600)}"}


@dataclass
class Bench:
    """The running demo systems, the options, one HTTP client for control calls, and
    the file the gateways log to (thousands of access-log lines would flood the terminal)."""

    systems: Any  # demo.launcher.DemoSystems
    options: Any  # argparse.Namespace from bench.run
    http: httpx.Client
    gateway_log: IO[bytes]
    scenario: str = ""  # the one running, set by bench.run
    # per scenario, the highest peak RSS of any one gateway it started (its process tree), read as it stopped
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def each_system(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answers = {}
        for system, url in self.systems.urls.items():
            response = self.http.request(method, f"{url}{path}", **kwargs)
            response.raise_for_status()
            answers[system] = response.json()
        return answers

    def set_latency(self, latency_ms: float) -> None:
        jitter = min(self.options.jitter_ms, latency_ms)  # a jitter above the latency would skew the mean up
        self.each_system("PUT", "/_faults", json={"latency_ms": latency_ms, "jitter_ms": jitter})

    @contextmanager
    def gateway(self, auth: dict[str, Any] | None = None, **settings: Any) -> Iterator[GatewayProcess]:
        """A gateway process for one measurement; its peak RSS is recorded as it stops. The
        per-principal cost budget is off: every request comes from one admin, and the budget
        (shared by replicas through Redis) would otherwise measure the rate limiter, not the gateway."""
        auth = {"jwt_secret": SECRET, **(auth or {})}
        limits = {"budget_per_window": 0, **settings.pop("limits", {})}
        # fresh reads unrationed: the bypassed runs send `no-cache` on every request, all as one admin
        budgets = {"fresh_reads": 0, **settings.pop("budgets", {})}
        with GatewayProcess(self.systems.urls, workers=self.options.workers, output=self.gateway_log, auth=auth,
                            limits=limits, budgets=budgets, **settings) as gateway:
            try:
                yield gateway
            finally:
                peak = memory_mb(process_tree(gateway.process.pid))["peak_rss_mb"]
                self.peak_rss_mb[self.scenario] = max(peak, self.peak_rss_mb.get(self.scenario, 0.0))

    def scrape(self, gateways: list[GatewayProcess]) -> PhaseTotals | None:
        """The gateways' request and phase counters, summed (read as the benchmark's admin).

        None with several workers: each scrape reaches one worker, whose counters are its own."""
        if self.options.workers > 1:
            return None
        totals = PhaseTotals()
        for gateway in gateways:
            response = self.http.get(f"{gateway.url}/metrics", headers=CALLER)
            response.raise_for_status()
            totals += phase_totals(response.text)
        return totals

    def post(self, gateway: GatewayProcess, query: str, variables: dict[str, Any], trace: bool = False,
             fresh: bool = True) -> tuple[float, dict]:
        """One GraphQL request: client-side latency in ms and the decoded answer.

        `fresh` bypasses the gateway's cache so the request reaches the backends.
        """
        headers = {**CALLER, "X-Isthmus-Trace": "1"} if trace else dict(CALLER)
        if fresh:
            headers["Cache-Control"] = "no-cache"
        started = time.perf_counter()
        response = self.http.post(f"{gateway.url}/graphql", json={"query": query, "variables": variables}, headers=headers)
        latency = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return latency, response.json()


def sequential(bench: Bench, gateway: GatewayProcess, query: str, variables: dict[str, Any],
               with_critical_path: bool = True, repetitions: int | None = None) -> dict[str, Any]:
    """Warm up, then time `repetitions` requests one at a time, each with its backend calls counted."""
    options = bench.options
    for _ in range(options.warmup):
        bench.post(gateway, query, variables)
    before = bench.scrape([gateway])
    latencies, totals, paths, levels, gaps, overheads, errors, unmatched = [], [], [], [], [], [], 0, 0
    mismatch = ""
    for _ in range(repetitions or options.repetitions):
        bench.each_system("POST", "/_stats/reset")
        latency, body = bench.post(gateway, query, variables, trace=with_critical_path)
        stats = bench.each_system("GET", "/_stats")
        latencies.append(latency)
        totals.append(sum(s["calls"] for s in stats.values()))
        errors += bool(body.get("errors"))
        if with_critical_path:
            trace = body["extensions"]["trace"]
            served = {system: answer["items"] for system, answer in bench.each_system("GET", "/_stats/calls").items()}
            try:
                path = critical_path(trace["calls"], served)
            except ValueError as exc:  # e.g. a retried call: one trace entry, two served calls
                unmatched += 1
                mismatch = str(exc)
                continue
            paths.append(path.total_ms)
            levels.append(path.levels)
            overheads += path.overhead_ms
            gaps.append(gateway_gaps(trace))
    result: dict[str, Any] = {
        "calls": statistics.median(totals),
        "calls_by_route": {system: s["by_route"] for system, s in stats.items()},
        "latency_ms": summary(latencies),
        "errors": errors,
        "phases": phases_between(before, bench.scrape([gateway])),
    }
    if with_critical_path:
        if not paths:
            raise RuntimeError(f"no request's trace matched the calls the backends served ({mismatch})")
        critical, usual = summary(paths), statistics.mode(len(g) for g in gaps)
        result |= {
            "critical_path_ms": critical,
            "levels": statistics.median(levels),
            "unmatched": unmatched,
            "call_overhead_ms": summary(overheads),
            "latency_over_critical_path": round(result["latency_ms"]["p50"] / critical["p50"], 2)
            if critical["p50"] else None,
            # medians, per position, over the requests that had the usual number of levels
            "gateway_gaps_ms": [round(statistics.median(g), 1) for g in zip(*(g for g in gaps if len(g) == usual))],
        }
    return result


def page(bench: Bench) -> dict[str, Any]:
    """Scenario 1: the 360 page at several sizes, batched (the gateway's normal mode)."""
    bench.set_latency(bench.options.latency_ms)
    with bench.gateway() as gateway:
        runs = [{"first": first, **sequential(bench, gateway, PAGE, {"first": first})} for first in bench.options.sizes]
    return {"backend_latency_ms": bench.options.latency_ms, "runs": runs}


def nobatch(bench: Bench) -> dict[str, Any]:
    """Scenario 2: the same page with one backend call per key, to show what batching saves."""
    bench.set_latency(bench.options.latency_ms)
    with bench.gateway(batching=False) as gateway:
        runs = [{"first": first, **sequential(bench, gateway, PAGE, {"first": first}, with_critical_path=False,
                                              repetitions=bench.options.nobatch_repetitions)}
                for first in bench.options.sizes]
    return {"backend_latency_ms": bench.options.latency_ms, "runs": runs}


def quote(bench: Bench) -> dict[str, Any]:
    """Scenario 3: the quote screen with 20 lines, when the schema has `Query.quote`."""
    bench.set_latency(bench.options.latency_ms)
    with bench.gateway() as gateway:
        _, body = bench.post(gateway, "{ __schema { queryType { fields { name } } } }", {})
        fields = {f["name"] for f in body["data"]["__schema"]["queryType"]["fields"]}
        if "quote" not in fields:
            return {"skipped": "the gateway's schema has no `Query.quote` field yet"}
        customer = backend_items(bench, "crm", "/customers/search", limit=1)[0]
        catalogue = backend_items(bench, "erp", "/products")
        products = catalogue[:: max(1, len(catalogue) // QUOTE_LINES)][:QUOTE_LINES]  # bought and built items
        lines = [{"sku": p["sku"], "quantity": "5", "unitPrice": p["list_price"]} for p in products]
        variables = {"input": {"customerId": customer["id"], "lines": lines}}
        return {"backend_latency_ms": bench.options.latency_ms, "lines": len(lines),
                **sequential(bench, gateway, QUOTE, variables)}


def throughput(bench: Bench) -> dict[str, Any]:
    """Scenario 4: closed-loop load on `customer(id)`, the 360 page and the comparison query, each
    request a different id or page, with the gateway's cache used and bypassed."""
    options = bench.options
    bench.set_latency(options.throughput_latency_ms)
    keysets = customer_keysets(bench)
    ids = [row_id for _, row_id in keysets]
    workloads = {
        CUSTOMER_BY_ID: [orjson.dumps({"query": ONE_CUSTOMER, "variables": {"id": i}}) for i in ids],
        PAGE_UNDER_LOAD: [orjson.dumps({"query": PAGE, "variables": {"first": LOAD_FIRST, "after": after}})
                          for after in page_cursors(keysets, LOAD_FIRST)],
        COMPARISON_UNDER_LOAD: [orjson.dumps({"query": COMPARISON, "variables": {"after": after}})
                                for after in page_cursors(keysets, COMPARISON_FIRST)],
    }
    runs = []
    for name, bodies in workloads.items():
        for fresh in (True, False):
            with bench.gateway() as gateway:
                headers = {**CALLER, "Cache-Control": "no-cache"} if fresh else CALLER
                runs.append({"query": name, "cache": "bypassed" if fresh else "used",
                             **loaded(bench, [gateway], bodies, headers, distinct=True)})
    return {"backend_latency_ms": options.throughput_latency_ms, "concurrency": options.concurrency,
            "duration_s": options.duration, "workers": options.workers, "customers": len(ids), "runs": runs}


def loaded(bench: Bench, gateways: list[GatewayProcess], bodies: list[bytes], headers: dict[str, str],
           distinct: bool = False) -> dict[str, Any]:
    """One load run after a warm-up, with the CPU each party used and the gateways' account of their time.

    Without `distinct`, the warm-up sends every body at least once and the run sends them
    round-robin. With it, no body is sent twice: the warm-up takes one per client from the end
    of `bodies`, the run the others in order, until `duration` passed or none is left.
    Several gateways (replicas) share the load round-robin; their CPU and memory are summed.
    """
    options, urls = bench.options, [f"{gateway.url}/graphql" for gateway in gateways]
    limit = None
    if distinct:
        held = options.concurrency * len(urls)
        warm, bodies = bodies[-held:], bodies[:-held]
        asyncio.run(run_load(urls, warm, options.concurrency, 60, headers, max_requests=len(warm)))
        limit = len(bodies)
    else:
        warm_up = max(len(bodies), options.concurrency) * len(urls)
        asyncio.run(run_load(urls, bodies, options.concurrency, 60, headers, max_requests=warm_up))
    gateway_pids = [pid for gateway in gateways for pid in process_tree(gateway.process.pid)]
    backend_pids = [pid for p in bench.systems.processes.values() for pid in process_tree(p.pid)]
    bench.each_system("POST", "/_stats/reset")
    before = bench.scrape(gateways)
    gateway_cpu, backend_cpu = cpu_seconds(gateway_pids), cpu_seconds(backend_pids)
    load = asyncio.run(run_load(urls, bodies, options.concurrency, options.duration, headers, max_requests=limit))
    gateway_cpu, backend_cpu = cpu_seconds(gateway_pids) - gateway_cpu, cpu_seconds(backend_pids) - backend_cpu
    backend_calls = sum(s["calls"] for s in bench.each_system("GET", "/_stats").values())
    requests = max(load.requests, 1)
    return {
        "requests": load.requests,
        "distinct_bodies": len(bodies) if distinct else None,
        "elapsed_s": round(load.elapsed_s, 2),
        "backend_calls_per_request": round(backend_calls / requests, 2),
        "per_second": round(load.per_second, 1),
        "per_second_per_worker": round(load.per_second / (options.workers * len(gateways)), 1),
        "latency_ms": summary(load.latencies_ms),
        "errors": load.errors,
        "memory": memory_mb(gateway_pids),
        "gateway_cpu_ms_per_request": round(gateway_cpu * 1000 / requests, 2),
        # CPU used over the run, in cores (1.0 = one core busy all the time)
        "cpu_cores": {name: round(seconds / load.elapsed_s, 2) for name, seconds in
                      (("gateway", gateway_cpu), ("backends", backend_cpu), ("load generator", load.client_cpu_s))},
        "phases": phases_between(before, bench.scrape(gateways)),
    }


def replicas(bench: Bench) -> dict[str, Any]:
    """Scenario 7: the 360 page (first: 20) through 1 and 2 gateway replicas sharing one Redis,
    the load split round-robin across their ports, with the caches warm and bypassed."""
    options = bench.options
    bench.set_latency(options.throughput_latency_ms)
    bodies = [orjson.dumps({"query": PAGE, "variables": {"first": 20}})]
    if redis_binary() is None:
        return {"skipped": "redis-server is not installed (apt-get install redis-server)"}
    runs = []
    with RedisServer() as redis:
        for count in (1, 2):
            for fresh in (False, True):
                redis.client().flushall()
                with ExitStack() as stack:
                    gateways = [stack.enter_context(bench.gateway(redis={"url": redis.url})) for _ in range(count)]
                    headers = {**CALLER, "Cache-Control": "no-cache"} if fresh else CALLER
                    runs.append({"replicas": count, "cache": "bypassed" if fresh else "used",
                                 **loaded(bench, gateways, bodies, headers)})
    return {"backend_latency_ms": options.throughput_latency_ms, "concurrency": options.concurrency,
            "duration_s": options.duration, "workers": options.workers, "runs": runs}


def cpu(bench: Bench) -> dict[str, Any]:
    """Scenario 5: gateway CPU per request and per resolved field, backends answering at once;
    first with every request fetching from the backends, then served from the gateway's cache."""
    bench.set_latency(0)
    with bench.gateway() as gateway:
        runs = [cpu_per_request(bench, {"gateway": gateway}, fresh)["gateway"] for fresh in (True, False)]
    return {"first": bench.options.cpu_first, "requests": bench.options.cpu_requests, "runs": runs}


def authorisation(bench: Bench) -> dict[str, Any]:
    """Scenario 6: scenario 5 with authorisation on and off (`auth.enabled`, a benchmark-only switch)."""
    if "enabled" not in AuthSettings.model_fields:
        return {"skipped": "the gateway cannot switch authorisation off (no setting `auth.enabled`)"}
    bench.set_latency(0)
    with bench.gateway() as on, bench.gateway(auth={"enabled": False}) as off:
        pairs = [cpu_per_request(bench, {"on": on, "off": off}, fresh) for fresh in (True, False)]
    return {"first": bench.options.cpu_first, "requests": bench.options.cpu_requests,
            "on": {"runs": [pair["on"] for pair in pairs]}, "off": {"runs": [pair["off"] for pair in pairs]},
            "cpu_ms_per_request": [round(pair["on"]["cpu_ms_per_request"] - pair["off"]["cpu_ms_per_request"], 2)
                                   for pair in pairs]}


def cpu_per_request(bench: Bench, gateways: dict[str, GatewayProcess], fresh: bool) -> dict[str, dict[str, Any]]:
    """CPU time of each gateway's processes over `cpu_requests` sequential 360 pages.

    Gateways compared are measured in turns of a few requests each, so a busy
    neighbour on a shared machine weighs on all of them alike.
    """
    options, variables = bench.options, {"first": bench.options.cpu_first}
    fields, pids, scraped = {}, {}, {}
    for name, gateway in gateways.items():
        for _ in range(max(options.warmup, 3)):
            _, body = bench.post(gateway, PAGE, variables, fresh=fresh)
        if body.get("errors"):
            raise RuntimeError(f"the 360 page answered errors: {body['errors'][:2]}")
        fields[name], pids[name] = count_fields(body["data"]), process_tree(gateway.process.pid)
        scraped[name] = bench.scrape([gateway])
    cpu_s, wall_s = dict.fromkeys(gateways, 0.0), dict.fromkeys(gateways, 0.0)
    for done in range(0, options.cpu_requests, CPU_TURN):
        for name, gateway in gateways.items():
            before, started = cpu_seconds(pids[name]), time.perf_counter()
            for _ in range(min(CPU_TURN, options.cpu_requests - done)):
                bench.post(gateway, PAGE, variables, fresh=fresh)
            wall_s[name] += time.perf_counter() - started
            cpu_s[name] += cpu_seconds(pids[name]) - before
    n = options.cpu_requests
    return {name: {"cache": "bypassed" if fresh else "used", "fields": fields[name],
                   "cpu_ms_per_request": round(cpu_s[name] * 1000 / n, 2),
                   "wall_ms_per_request": round(wall_s[name] * 1000 / n, 2),
                   "cpu_us_per_field": round(cpu_s[name] * 1e6 / n / fields[name], 3),
                   "phases": phases_between(scraped[name], bench.scrape([gateway]))}
            for name, gateway in gateways.items()}


def backend_items(bench: Bench, system: str, path: str, **params: Any) -> list[dict[str, Any]]:
    response = bench.http.get(f"{bench.systems.urls[system]}{path}", params=params)
    response.raise_for_status()
    return response.json()["items"]


def customer_keysets(bench: Bench) -> list[tuple[str, str]]:
    """Every customer's keyset (last activity, id) in the CRM's search order (the order `customers` pages
    through), as the CRM answers it."""
    keysets: list[tuple[str, str]] = []
    while True:
        response = bench.http.get(f"{bench.systems.urls['crm']}/customers/search",
                                  params={"limit": 1000, "offset": len(keysets)})
        response.raise_for_status()
        found = response.json()["cursors"]
        keysets += [(value, row_id) for value, row_id in found]
        if len(found) < 1000:
            return keysets


def page_cursors(keysets: list[tuple[str, str]], first: int) -> list[str | None]:
    """`after` of every full page of `first` of the customers with these keysets (in the list's order), in an
    order where pages do not overlap for as long as possible: starting at 0, first, 2·first, ..., then 1,
    first + 1, ... (None: the first page). After len(keysets) / first pages, each shares customers with earlier
    ones."""
    total = len(keysets)
    starts = [start for shift in range(first) for start in range(shift, total - first + 1, first)]
    return [None if start == 0 else encode_cursor(CUSTOMERS, DEFAULT_ORDER, *keysets[start - 1]) for start in starts]


def worklist_queries(today: dt.date) -> dict[str, str]:
    """The worklists of issue 20, 50 rows each, as a user of each asks: the page, the customer, the summary."""
    soon, window = today + dt.timedelta(days=60), (today.replace(day=1), today + dt.timedelta(days=90))
    return {
        "overdue invoices, EMEA": """{ invoices(first: 50, orderBy: {field: OPEN_AMOUNT, direction: DESC},
            filter: {minDaysOverdue: 31, minOpenAmount: "10000", customer: {region: ["EMEA"]}}) {
            totalCount edges { node { number openAmount daysOverdue customer { name } } }
            summary { aging { key amount } dso } } }""",
        "tickets breaching SLA": """{ tickets(first: 50, orderBy: {field: PRIORITY},
            filter: {status: [OPEN, IN_PROGRESS], slaBreached: true}) {
            totalCount edges { node { id priority subject customer { name } } } summary { byPriority { key count } } } }""",
        "customers over credit limit": """{ customers(first: 50, creditExceeded: true, orderBy: {field: NAME}) {
            totalCount edges { node { id name owner { name } receivables { creditAvailable } } } } }""",
        "contracts expiring": f"""{{ contracts(first: 50, orderBy: {{field: END_DATE}},
            filter: {{status: [ACTIVE], expiringBefore: "{soon}"}}) {{
            totalCount edges {{ node {{ number endDate customer {{ name }} }} }} summary {{ byKind {{ key count }} }} }} }}""",
        "opportunities closing": f"""{{ opportunities(first: 50,
            filter: {{closeFrom: "{window[0]}", closeTo: "{window[1]}"}}) {{
            totalCount edges {{ node {{ id stage amount customer {{ name }} }} }} summary {{ count weightedAmount }} }} }}""",
        "late orders": """{ orders(first: 50, orderBy: {field: PROMISED_DATE}, filter: {late: true}) {
            totalCount edges { node { number customer { name } lines { sku product { name } } } }
            summary { onTimeDeliveryRate } } }""",
    }


def worklists(bench: Bench) -> dict[str, Any]:
    """Scenario 8: each worklist of issue 20, 50 rows, against its critical path; the slowest is the target's."""
    bench.set_latency(bench.options.latency_ms)
    with bench.gateway() as gateway:
        runs = [{"worklist": name, **sequential(bench, gateway, query, {})}
                for name, query in worklist_queries(dt.datetime.now(dt.UTC).date()).items()]
    slowest = max(runs, key=lambda run: run["latency_ms"]["p50"])
    return {"backend_latency_ms": bench.options.latency_ms, "runs": runs, "slowest": slowest["worklist"]}


def phases_between(before: PhaseTotals | None, after: PhaseTotals | None) -> dict[str, Any] | None:
    return phases_per_request(before, after) if before is not None and after is not None else None


# Scenario 9: a burst of change events (issue 21)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"isthmus-benchmark-webhooks").decode()
BURST_RATE, BURST_SECONDS, BURST_PARTIES = 1000, 10.0, 50


def burst(bench: Bench) -> dict[str, Any]:
    """Scenario 9: `customer(id)` under closed-loop load (cache used) without and then during a burst of
    signed change events, 1,000 a second for 10 s over 50 parties, with two WebSocket subscribers to
    `alerts` reading; query latency, the gateway's memory, and how many evaluations the burst cost."""
    options = bench.options
    bench.set_latency(options.throughput_latency_ms)
    ids = [row_id for _, row_id in customer_keysets(bench)]
    parties = [c["refs"]["erp"] for c in backend_items(bench, "crm", "/customers/search", limit=200)
               if c["refs"]["erp"]][:BURST_PARTIES]
    bodies = [orjson.dumps({"query": ONE_CUSTOMER, "variables": {"id": i}}) for i in ids]
    with bench.gateway(events={"secret": WEBHOOK_SECRET}) as gateway:
        pids = process_tree(gateway.process.pid)
        asyncio.run(run_load(f"{gateway.url}/graphql", bodies, options.concurrency, 60, CALLER,
                             max_requests=len(bodies)))
        quiet = asyncio.run(run_load(f"{gateway.url}/graphql", bodies, options.concurrency, BURST_SECONDS, CALLER))
        rss_before = memory_mb(pids)
        during, sent, pushed = asyncio.run(under_burst(gateway, bodies, parties, options.concurrency))
        rss_after = memory_mb(pids)
        metrics = bench.http.get(f"{gateway.url}/metrics", headers=CALLER).text
    p50_quiet, p50_burst = statistics.median(quiet.latencies_ms), statistics.median(during.latencies_ms)
    return {
        "rate_per_s": BURST_RATE, "seconds": BURST_SECONDS, "parties": len(parties), "events": sent,
        "events_accepted": metric_total(metrics, 'isthmus_events_total{outcome="accepted"'),
        "evaluations": metric_total(metrics, "isthmus_change_evaluations"),
        "pushed_to_subscribers": pushed,
        "without": {"requests": quiet.requests, "latency_ms": summary(quiet.latencies_ms)},
        "during": {"requests": during.requests, "latency_ms": summary(during.latencies_ms), "errors": during.errors},
        "p50_ratio": round(p50_burst / p50_quiet, 2),
        "memory_before": rss_before, "memory_after": rss_after,
    }


async def under_burst(gateway: GatewayProcess, bodies: list[bytes], parties: list[str],
                      concurrency: int) -> tuple[Any, int, int]:
    """The load and the burst at once; (the load's result, events sent, messages pushed to the subscribers)."""
    import aiohttp
    from websockets.asyncio.client import connect

    from demo.webhooks import signed_headers

    pushed = 0

    async def subscriber() -> None:
        nonlocal pushed
        url = gateway.url.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(orjson.dumps({"type": "connection_init", "payload": CALLER}).decode())
            await ws.recv()
            query = "subscription { alerts { action alert { kind } customer { id } } }"
            await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}).decode())
            async for _ in ws:
                pushed += 1

    listening = [asyncio.create_task(subscriber()) for _ in range(2)]
    await asyncio.sleep(0.5)
    # The burst comes from a process of its own: in this one it would slow the load generator, not the gateway.
    sending = multiprocessing.get_context("spawn").Process(target=send_burst, args=(gateway.url, parties))
    sending.start()
    load = await run_load(f"{gateway.url}/graphql", bodies, concurrency, BURST_SECONDS, CALLER)
    await asyncio.to_thread(sending.join)
    sent = int(BURST_RATE * BURST_SECONDS)
    await asyncio.sleep(0.5)
    for task in listening:
        task.cancel()
    await asyncio.gather(*listening, return_exceptions=True)
    return load, sent, pushed


def send_burst(url: str, parties: list[str]) -> None:
    """`BURST_RATE` signed `invoice.overdue` events a second for `BURST_SECONDS`, round the parties (a child process)."""
    import aiohttp

    from demo.webhooks import signed_headers

    async def run() -> None:
        gate = asyncio.Semaphore(64)
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:

            async def send(n: int) -> None:
                async with gate:
                    body = orjson.dumps({"type": "invoice.overdue", "data": {"party_code": parties[n % len(parties)]}})
                    headers = signed_headers(WEBHOOK_SECRET, f"evt_burst_{n}_{time.time_ns()}", body)
                    async with session.post(f"{url}/events/erp", data=body, headers=headers) as answer:
                        await answer.read()

            tasks = []
            for n in range(int(BURST_RATE * BURST_SECONDS)):
                delay = started + n / BURST_RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(n)))
            await asyncio.gather(*tasks)

    asyncio.run(run())


def metric_total(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


BI_KEY = "isthmus-benchmark-bi-key-not-for-production"
BI_ACCOUNT = {"api_keys": [{"sha256": hashlib.sha256(BI_KEY.encode()).hexdigest(), "principal": "svc-bi",
                            "roles": ["bi_reader"]}]}
BUDGET_QUOTE_LINES = 10
ERP_BUDGET = 4


def budgets(bench: Bench) -> dict[str, Any]:
    """Scenario 10: people before batch work. A 10-line quote under `concurrency` closed-loop users (cache used,
    as clients send it), alone and while a BI export of every open order runs, with the ERP's budget at 4 calls
    at once and, for comparison, with no budget; the ERP's own count of the most calls it served at once. Then
    the adaptive limit (budget 16, quotes bypassing the cache) while the ERP's latency goes from 20 ms to three
    times that and back, sampled from `/metrics` every half second."""
    options = bench.options
    bench.set_latency(options.latency_ms)
    customers = backend_items(bench, "crm", "/customers/search", limit=options.concurrency)
    catalogue = backend_items(bench, "erp", "/products")
    step = max(1, len(catalogue) // (BUDGET_QUOTE_LINES * options.concurrency))
    bodies = []
    for n, customer in enumerate(customers):  # a different customer and lines per user
        products = catalogue[n * step:: step * options.concurrency][:BUDGET_QUOTE_LINES]
        lines = [{"sku": p["sku"], "quantity": "3", "unitPrice": p["list_price"]} for p in products]
        bodies.append(orjson.dumps({"query": QUOTE, "variables": {"input": {"customerId": customer["id"],
                                                                           "lines": lines}}}))
    runs = []
    for label, settings in ((f"ERP budget {ERP_BUDGET}", {"erp": {"budget": {"max_concurrent": ERP_BUDGET}}}),
                            ("no budget", {"budgets": {"enabled": False}})):
        with bench.gateway(auth=BI_ACCOUNT, **settings) as gateway:
            url = f"{gateway.url}/graphql"
            asyncio.run(run_load(url, bodies, options.concurrency, 2, CALLER))  # warm-up
            alone = asyncio.run(run_load(url, bodies, options.concurrency, options.duration, CALLER))
            bench.each_system("POST", "/_stats/reset")
            export: dict[str, Any] = {}
            exporter = threading.Thread(target=run_export, args=(gateway.url, export))
            exporter.start()
            time.sleep(0.5)  # the export's first pages are under way
            during = asyncio.run(run_load(url, bodies, options.concurrency, options.duration, CALLER))
            overlapped = exporter.is_alive()
            exporter.join()
            erp = bench.each_system("GET", "/_stats")["erp"]
            runs.append({"budget": label, "quote_alone_ms": summary(alone.latencies_ms),
                         "quote_during_export_ms": summary(during.latencies_ms),
                         "p50_ratio": round(statistics.median(during.latencies_ms)
                                            / statistics.median(alone.latencies_ms), 2),
                         "quote_errors": alone.errors + during.errors, "quotes": alone.requests + during.requests,
                         "export_overlapped_whole_run": overlapped, **export,
                         "erp_max_concurrent": erp["max_concurrent"]})
    return {"backend_latency_ms": options.latency_ms, "users": options.concurrency, "lines": BUDGET_QUOTE_LINES,
            "duration_s": options.duration, "runs": runs, "adaptive": adaptive_limit(bench, bodies)}


def run_export(base_url: str, out: dict[str, Any]) -> None:
    """The BI export of every open order's lines, read to the end: its status, rows and seconds."""
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=600) as client:
        response = client.get("/bi/OpenOrdersByProduct.json", headers={"X-API-Key": BI_KEY})
        rows = len(response.json()) if response.status_code == 200 else 0
    out.update(export_status=response.status_code, export_rows=rows,
               export_s=round(time.perf_counter() - started, 2))


def adaptive_limit(bench: Bench, bodies: list[bytes]) -> dict[str, Any]:
    """The ERP's adaptive limit under quotes bypassing the cache: 20 ms, three times that, 20 ms again."""
    options = bench.options
    phases = ((options.latency_ms, "baseline"), (options.latency_ms * 3, "tripled"), (options.latency_ms, "recovered"))
    erp = {"budget": {"max_concurrent": 16, "adaptive": True}}
    samples: list[dict[str, Any]] = []
    with bench.gateway(erp=erp, budgets={"fresh_reads": 0}) as gateway:
        url, fresh = f"{gateway.url}/graphql", {**CALLER, "Cache-Control": "no-cache"}
        started = time.perf_counter()
        for latency, phase in phases:
            bench.http.put(f"{bench.systems.urls['erp']}/_faults", json={"latency_ms": latency})
            stop = threading.Event()

            def sample(phase: str = phase) -> None:
                while not stop.wait(0.5):
                    metrics = bench.http.get(f"{gateway.url}/metrics", headers=CALLER).text
                    limit = next(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                                 if line.startswith('isthmus_backend_concurrency_limit{source="ERP"}'))
                    samples.append({"t_s": round(time.perf_counter() - started, 1), "phase": phase, "limit": limit})

            sampler = threading.Thread(target=sample)
            sampler.start()
            asyncio.run(run_load(url, bodies, options.concurrency, options.duration, fresh))
            stop.set()
            sampler.join()
    bench.set_latency(options.latency_ms)
    by_phase = {phase: [s["limit"] for s in samples if s["phase"] == phase] for _, phase in phases}
    return {"erp_latency_ms": [latency for latency, _ in phases], "max_concurrent": 16,
            "lowest_limit": {phase: min(limits, default=None) for phase, limits in by_phase.items()},
            "last_limit": {phase: limits[-1] if limits else None for phase, limits in by_phase.items()},
            "samples": samples}


RUNNERS = {"page": page, "nobatch": nobatch, "quote": quote, "throughput": throughput,
           "cpu": cpu, "auth": authorisation, "replicas": replicas, "worklists": worklists, "burst": burst,
           "budgets": budgets}
