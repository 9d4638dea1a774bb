"""What the benchmarks compute from raw readings: percentiles, the critical path
of a request, the size of an answer, where the gateway says a request's time went
(its `/metrics`), and CPU and memory of a process tree.

Pure functions except the `/proc` readers at the end, so the arithmetic the
targets are judged by is unit-tested (tests/test_bench_measure.py).
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from prometheus_client.parser import text_string_to_metric_families

# --- statistics -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: a value that was actually measured, never interpolated."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(percentile(values, 95), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


# --- critical path ----------------------------------------------------------------------


def backend_calls(trace_calls: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace entries that reached a backend (a cache hit in the gateway did not)."""
    return sorted((c for c in trace_calls if c.get("cache", "miss") == "miss"), key=lambda c: c["start_ms"])


def dependency_levels(calls: Sequence[dict[str, Any]]) -> list[int]:
    """Level of each call (sorted by start): 1 + the highest level of the calls that ended before it started.

    Chosen over clustering by start time because it needs no gap threshold and
    follows causality: a call can only depend on calls whose answers the gateway
    had when it sent it, so no call is placed too early. It may place a call too
    late when the gateway, busy elsewhere, sends an independent call after a
    sibling has already returned; that adds a level, lengthens the critical path
    and flatters the ratio. The number of levels is reported so this shows: the
    360 page has 3 (customers; their relations; products and stock).
    """
    ends = [c["start_ms"] + c["duration_ms"] for c in calls]
    levels: list[int] = []
    for call in calls:
        before = [levels[i] for i in range(len(levels)) if ends[i] <= call["start_ms"]]
        levels.append(1 + max(before, default=0))
    return levels


@dataclass
class CriticalPath:
    slowest_per_level_ms: list[float]
    # per call, the gateway's duration minus the backend's: client, network and event-loop delay
    overhead_ms: list[float]

    @property
    def levels(self) -> int:
        return len(self.slowest_per_level_ms)

    @property
    def total_ms(self) -> float:
        return sum(self.slowest_per_level_ms)


def critical_path(trace_calls: Sequence[dict[str, Any]], server_calls: dict[str, list[dict[str, Any]]]) -> CriticalPath:
    """Sum over dependency levels of the slowest call of the level, as timed by the backends.

    Levels come from the gateway's trace; durations from each backend's
    `/_stats/calls` (the trace's own durations include time the gateway's event
    loop spent elsewhere). The two are matched per system in start order: levels
    rise with start time, and calls of one level that swap order on the wire
    share the level, so the per-level maximum is unaffected.
    """
    calls = backend_calls(trace_calls)
    levels = dependency_levels(calls)
    server_ms: dict[int, float] = {}  # index into `calls` -> server-side duration
    for system, served in server_calls.items():
        mine = [i for i, call in enumerate(calls) if call["source"].lower() == system]
        if len(mine) != len(served):
            raise ValueError(f"{system}: the trace has {len(mine)} calls, the backend served {len(served)}")
        for i, record in zip(mine, sorted(served, key=lambda r: r["start_ms"])):
            server_ms[i] = record["duration_ms"]
    if len(server_ms) != len(calls):
        raise ValueError("the trace has calls to systems without server timings")
    slowest = [0.0] * max(levels, default=0)
    for i, level in enumerate(levels):
        slowest[level - 1] = max(slowest[level - 1], server_ms[i])
    return CriticalPath(slowest, [round(calls[i]["duration_ms"] - server_ms[i], 3) for i in range(len(calls))])


def gateway_gaps(trace: dict[str, Any]) -> list[float]:
    """Gateway-only stretches of a request, from its trace: before the first backend call,
    between the last answer of one level and the first call of the next, and after the last answer."""
    calls = backend_calls(trace["calls"])
    levels = dependency_levels(calls)
    if not calls:
        return [trace["durationMs"]]
    firsts: dict[int, float] = {}
    lasts: dict[int, float] = {}
    for call, level in zip(calls, levels):
        firsts[level] = min(firsts.get(level, math.inf), call["start_ms"])
        lasts[level] = max(lasts.get(level, 0.0), call["start_ms"] + call["duration_ms"])
    top = max(levels)
    gaps = [firsts[1]] + [max(0.0, firsts[n + 1] - lasts[n]) for n in range(1, top)]
    return gaps + [max(0.0, trace["durationMs"] - max(lasts.values()))]


# --- answer size ------------------------------------------------------------------------


def count_fields(value: Any) -> int:
    """Every key of every object, recursively; an object in a list counts once per item."""
    if isinstance(value, dict):
        return len(value) + sum(count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(item) for item in value)
    return 0


# --- where the gateway's time goes (its /metrics) ------------------------------------------

# The pipeline's own phases, in the order a request passes them; every other phase is the
# executor's (plan, waiting for backends, completing, ...) and lies within "execute".
PIPELINE_PHASES = ("authenticate", "parse_validate", "execute", "serialise")
UNAUTHENTICATED = "unauthenticated"  # refused before the pipeline: no phases of their own


@dataclass
class PhaseTotals:
    """Counters of one `/metrics` scrape (or several gateways' summed): GraphQL requests that
    reached the pipeline, their summed duration, and the seconds spent per phase."""

    requests: float = 0.0
    request_seconds: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)

    def __add__(self, other: "PhaseTotals") -> "PhaseTotals":
        seconds = dict(self.seconds)
        for phase, value in other.seconds.items():
            seconds[phase] = seconds.get(phase, 0.0) + value
        return PhaseTotals(self.requests + other.requests, self.request_seconds + other.request_seconds, seconds)


def phase_totals(text: str) -> PhaseTotals:
    """Read `isthmus_request_phase_seconds` and the request counters from Prometheus text."""
    totals = PhaseTotals()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("operation") == UNAUTHENTICATED:
                continue
            if sample.name == "isthmus_requests_total":
                totals.requests += sample.value
            elif sample.name == "isthmus_request_duration_seconds_sum":
                totals.request_seconds += sample.value
            elif sample.name == "isthmus_request_phase_seconds_sum":
                phase = sample.labels["phase"]
                totals.seconds[phase] = totals.seconds.get(phase, 0.0) + sample.value
    return totals


def phases_per_request(before: PhaseTotals, after: PhaseTotals) -> dict[str, Any] | None:
    """Mean ms per request of each phase between two scrapes, and of the whole pipeline
    (`request_ms`: authentication plus the request's duration, from the route to the encoded
    answer). A phase a request did not pass counts as 0 for it; None without requests."""
    n = after.requests - before.requests
    if n <= 0:
        return None
    seconds = {phase: after.seconds[phase] - before.seconds.get(phase, 0.0) for phase in after.seconds}
    phases = {phase: round(seconds[phase] * 1000 / n, 3) for phase in PIPELINE_PHASES if phase in seconds}
    phases |= {phase: round(value * 1000 / n, 3) for phase, value in sorted(seconds.items())
               if phase not in PIPELINE_PHASES}
    request = (after.request_seconds - before.request_seconds + seconds.get("authenticate", 0.0)) * 1000 / n
    return {"requests": n, "phases_ms": phases, "request_ms": round(request, 3)}


# --- /proc readings (Linux) -------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants (uvicorn workers when workers > 1)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of processes (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14, 15 counted from 1 with pid and comm
    return total / CLOCK_TICKS


def memory_mb(pids: Iterable[int]) -> dict[str, float]:
    """Summed VmHWM (each process's peak resident set) and VmRSS (now), in MB."""
    totals = {"VmHWM": 0, "VmRSS": 0}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    name, _, rest = line.partition(":")
                    if name in totals:
                        totals[name] += int(rest.split()[0])  # kB
        except OSError:
            continue
    return {"peak_rss_mb": round(totals["VmHWM"] / 1024, 1), "rss_mb": round(totals["VmRSS"] / 1024, 1)}
