"""Prometheus metrics: requests and where their time went, backend calls, batches, caches, breakers, Redis,
and the backends' budgets (waits and sheds per class as they happen; limits, calls in flight and queues
read from the budgets when scraped).

The sources report through `sources.events`; this module turns those reports
into series. One registry per app, so several apps in one process (tests) do
not collide.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from resolvers.live import Live
from sources import events
from sources.admission import Budget

MAX_OPERATION_LABELS = 200
UNAUTHENTICATED = "unauthenticated"  # the operation label of refused callers: they name no series
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "isthmus_requests_total", "GraphQL requests by operation and outcome", ["operation", "outcome"], registry=r
        )
        self.request_seconds = Histogram(
            "isthmus_request_duration_seconds",
            "GraphQL request latency",
            ["operation"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.phase_seconds = Histogram(
            "isthmus_request_phase_seconds",
            "Where a GraphQL request's time went: authenticate, parse_validate, execute (and the executor's "
            "phases within it), serialise",
            ["phase"],
            registry=r,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        # phase -> its histogram child: labels() once per phase, not per request
        self._phases: dict[str, Histogram] = {}
        self.backend_calls = Counter(
            "isthmus_backend_calls_total",
            "Backend calls by source, method and outcome",
            ["source", "method", "outcome"],
            registry=r,
        )
        self.backend_seconds = Histogram(
            "isthmus_backend_call_duration_seconds",
            "Backend call latency, retries included",
            ["source"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.batch_keys = Histogram(
            "isthmus_backend_batch_keys",
            "Keys per backend call",
            ["source", "method"],
            registry=r,
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
        )
        self.cache_events = Counter(
            "isthmus_cache_events_total",
            "Cache look-ups by result: hit, miss, stale, shared",
            ["source", "method", "event"],
            registry=r,
        )
        self.cache_entries = Gauge(
            "isthmus_cache_entries", "Entries held per source method", ["source", "method"], registry=r
        )
        self.cache_bytes = Gauge(
            "isthmus_cache_bytes",
            "Estimated resident bytes held per source method (all together within cache.max_bytes)",
            ["source", "method"],
            registry=r,
        )
        self.breaker = Gauge(
            "isthmus_breaker_state", "Circuit state: 0 closed, 1 half-open, 2 open", ["source"], registry=r
        )
        self.breaker_transitions = Counter(
            "isthmus_breaker_transitions_total", "Circuit state changes", ["source", "to"], registry=r
        )
        self.redis_up = Gauge("isthmus_redis_up", "1 while Redis answers, 0 while replicas go without it", registry=r)
        self.redis_failures = Counter(
            "isthmus_redis_failures_total", "Redis operations that failed (served without Redis)", registry=r
        )
        self.change_events = Counter(
            "isthmus_events_total",
            "Change events from the systems of record by outcome: accepted, forged, expired, duplicate, malformed",
            ["system", "outcome"],
            registry=r,
        )
        self.subscriptions = Gauge("isthmus_subscriptions", "Subscriptions open in this process", registry=r)
        self.subscribers_dropped = Gauge(
            "isthmus_subscribers_dropped", "Subscribers ended for falling behind, since the start", registry=r
        )
        self.evaluations = Gauge(
            "isthmus_change_evaluations", "Batches of changes evaluated for subscribers, since the start", registry=r
        )
        self.queue_wait = Histogram(
            "isthmus_backend_queue_wait_seconds",
            "Time a backend call waited for a slot of its backend's budget, by priority class (0 when none)",
            ["source", "class"],
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self._queue_waits: dict[tuple[str, str], Histogram] = {}
        self.sheds = Counter(
            "isthmus_backend_shed_total",
            "Backend calls shed after waiting as long as their class may (BACKEND_BUSY), never sent",
            ["source", "class"],
            registry=r,
        )
        self.concurrency_limit = Gauge(
            "isthmus_backend_concurrency_limit",
            "Calls this replica may have in flight at once to the backend (adaptive: its current value)",
            ["source"],
            registry=r,
        )
        self.in_flight = Gauge("isthmus_backend_in_flight", "Calls in flight to the backend", ["source"], registry=r)
        self.queued = Gauge(
            "isthmus_backend_queued",
            "Calls waiting for the backend's budget, by class",
            ["source", "class"],
            registry=r,
        )
        self.saturated = Gauge(
            "isthmus_backend_saturated",
            "1 while calls to the backend queue or are shed (or did within the last 5 s)",
            ["source"],
            registry=r,
        )
        self._operations: set[str] = set()
        events.listen(self)

    # --- sources.events.Listener ---------------------------------------------

    def backend_call(self, source: str, method: str, keys: int, seconds: float, outcome: str) -> None:
        self.backend_calls.labels(source, method, outcome).inc()
        self.backend_seconds.labels(source).observe(seconds)
        self.batch_keys.labels(source, method).observe(keys)

    def cache_event(self, source: str, method: str, event: str, count: int) -> None:
        self.cache_events.labels(source, method, event).inc(count)

    def cache_size(self, source: str, method: str, entries: int, size: int) -> None:
        self.cache_entries.labels(source, method).set(entries)
        self.cache_bytes.labels(source, method).set(size)

    def breaker_state(self, source: str, state: str) -> None:
        self.breaker.labels(source).set(BREAKER_STATES[state])
        self.breaker_transitions.labels(source, state).inc()

    def redis_state(self, up: bool) -> None:
        self.redis_up.set(1 if up else 0)
        if not up:
            self.redis_failures.inc()

    def budget_wait(self, source: str, klass: str, seconds: float) -> None:
        child = self._queue_waits.get((source, klass))
        if child is None:
            child = self._queue_waits[source, klass] = self.queue_wait.labels(source, klass)
        child.observe(seconds)

    def budget_shed(self, source: str, klass: str) -> None:
        self.sheds.labels(source, klass).inc()

    def budget_limit(self, source: str, limit: int) -> None:
        self.concurrency_limit.labels(source).set(limit)

    def budgets(self, budgets: Iterable[Budget]) -> None:
        """Read the budgets' state into their gauges (before a scrape)."""
        for budget in budgets:
            self.concurrency_limit.labels(budget.source).set(budget.limit)
            self.in_flight.labels(budget.source).set(budget.in_flight)
            self.saturated.labels(budget.source).set(1 if budget.saturated else 0)
            for klass, count in budget.queued().items():
                self.queued.labels(budget.source, klass).set(count)

    # --- requests ------------------------------------------------------------

    def operation_label(self, name: object) -> str:
        """Operation names come from (authenticated) clients: keep the label set small and safe."""
        if not isinstance(name, str) or not name:
            return "anonymous"
        if len(name) > 64 or not name.replace("_", "").isalnum():
            return "other"
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATION_LABELS:
                return "other"
            self._operations.add(name)
        return name

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        self.requests.labels(operation, outcome).inc()
        self.request_seconds.labels(operation).observe(seconds)

    def phases(self, phases: dict[str, float]) -> None:
        """One request's time per phase, in seconds. Phase names come from the code, never from a client."""
        for phase, seconds in phases.items():
            child = self._phases.get(phase)
            if child is None:
                child = self._phases[phase] = self.phase_seconds.labels(phase)
            child.observe(seconds)

    def watch(self, live: Live) -> None:
        """The subscriptions' gauges read the hub when scraped."""
        self.subscriptions.set_function(live.subscribers)
        self.subscribers_dropped.set_function(lambda: live.dropped)
        self.evaluations.set_function(lambda: live.evaluations)

    def event(self, system: str, outcome: str) -> None:
        self.change_events.labels(system, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
