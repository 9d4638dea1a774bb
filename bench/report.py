"""Results as JSON (every number) and Markdown (the tables a reader compares),
with the machine they were measured on, issue 15's targets marked met or missed,
and where the gateway says each measurement's time went.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sysconfig
from datetime import date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from bench.harness import ROOT
from bench.measure import PIPELINE_PHASES
from bench.scenarios import COMPARISON_UNDER_LOAD, CUSTOMER_BY_ID

# --- the machine ------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers depend on besides the code: hardware, interpreter, libraries, commit."""
    config_args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu_model": proc_value("/proc/cpuinfo", "model name"),
        "memory_gb": round(int(proc_value("/proc/meminfo", "MemTotal").split()[0]) / 1024**2, 1),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "python_build": f"{platform.python_implementation()} {', '.join(platform.python_build())}, "
                        f"{platform.python_compiler()}",
        "python_pgo": "--enable-optimizations" in config_args,
        "python_lto": "--with-lto" in config_args,
        "strawberry": version("strawberry-graphql"),
        "graphql_core": version("graphql-core"),
        "git_sha": git("rev-parse", "--short", "HEAD"),
        # earlier results are not a change to the code measured
        "git_dirty": bool(git("status", "--porcelain", "--", ".", ":(exclude)bench/results")),
    }


def proc_value(path: str, key: str) -> str:
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return "?"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


# --- targets (reported, never asserted) -------------------------------------------------

RATIO_TARGET = 1.15  # latency over critical path
FIELD_CPU_TARGET_US = 1.5
COMPARISON_CPU_TARGET_MS = 25
ONE_CUSTOMER_TARGET = 1500  # req/s per worker
CACHE_HIT_TARGET = 1 / 3  # CPU of a cache hit over the same request with the cache bypassed
RSS_TARGET_MB = 250
# 11 when the target was set; ERP `/open_items` (receivables as the ERP computes them) made it 12
PAGE_CALLS_TARGET = 12
WORKLIST_RATIO_TARGET = 1.3  # issue 20: the slowest worklist, p50 over its critical path


def targets(results: dict[str, Any]) -> list[dict[str, str]]:
    """Issue 15's targets, each judged on the figures of the scenarios that measured it
    ("not measured" when none did: a scenario left out, skipped or failed)."""
    scenarios = results["scenarios"]
    rows = []

    def add(target: str, value: str | None, met: bool | None) -> None:
        status = "not measured" if met is None else "met" if met else "missed"
        rows.append({"target": target, "value": value or "-", "status": status})

    page = scenarios.get("page", {})
    page_runs = sorted(page.get("runs", []), key=lambda run: run["first"])
    firsts = " (first " + " / ".join(str(run["first"]) for run in page_runs) + ")"
    ratios = [run["latency_over_critical_path"] for run in page_runs]
    measured = bool(ratios) and None not in ratios
    latency = f", {page['backend_latency_ms']:g} ms backends" if "backend_latency_ms" in page else ""
    add(f"360 page p50 ≤ {RATIO_TARGET} × critical path at every `first`{latency}",
        " / ".join(f"{ratio} ×" for ratio in ratios) + firsts if measured else None,
        all(ratio <= RATIO_TARGET for ratio in ratios) if measured else None)

    cpu_runs = {run["cache"]: run for run in scenarios.get("cpu", {}).get("runs", [])}
    bypassed, used = cpu_runs.get("bypassed"), cpu_runs.get("used")
    add(f"gateway CPU ≤ {FIELD_CPU_TARGET_US} µs per resolved field, cache bypassed",
        f"{bypassed['cpu_us_per_field']} µs ({bypassed['fields']:,} fields)" if bypassed else None,
        bypassed["cpu_us_per_field"] <= FIELD_CPU_TARGET_US if bypassed else None)

    load = scenarios.get("throughput", {})
    by_query = {(run["query"], run["cache"]): run for run in load.get("runs", [])}
    comparison = by_query.get((COMPARISON_UNDER_LOAD, "bypassed"))
    add(f"comparison query, a different page per request: gateway CPU ≤ {COMPARISON_CPU_TARGET_MS} ms per request, "
        "cache bypassed",
        f"{comparison['gateway_cpu_ms_per_request']:g} ms" if comparison else None,
        comparison["gateway_cpu_ms_per_request"] <= COMPARISON_CPU_TARGET_MS if comparison else None)

    one = by_query.get((CUSTOMER_BY_ID, "bypassed"))
    add(f"customer(id), a different id per request, {load.get('backend_latency_ms', 0):g} ms backends: "
        f"≥ {ONE_CUSTOMER_TARGET:,} req/s per worker, cache bypassed",
        f"{one['per_second_per_worker']:,.0f} req/s" if one else None,
        one["per_second_per_worker"] >= ONE_CUSTOMER_TARGET if one else None)

    ratio = used["cpu_ms_per_request"] / bypassed["cpu_ms_per_request"] if used and bypassed else None
    add("a cache hit costs ≤ 1/3 of the CPU of the same request with the cache bypassed "
        "(360 page, the same page again)",
        f"{used['cpu_ms_per_request']:g} / {bypassed['cpu_ms_per_request']:g} ms = {ratio:.2f}"
        if ratio is not None else None,
        ratio <= CACHE_HIT_TARGET if ratio is not None else None)

    peaks = results.get("gateway_peak_rss_mb") or {}
    worst = max(peaks, key=peaks.__getitem__, default=None)
    add(f"gateway RSS ≤ {RSS_TARGET_MB} MB through the whole benchmark (peak of any one gateway)",
        f"{peaks[worst]:g} MB ({worst})" if worst else None,
        peaks[worst] <= RSS_TARGET_MB if worst else None)

    quote = scenarios.get("quote", {})
    add(f"quote of 20 lines: p50 ≤ {RATIO_TARGET} × critical path",
        f"{quote['latency_over_critical_path']} × ({quote['lines']} lines)"
        if quote.get("latency_over_critical_path") else None,
        quote["latency_over_critical_path"] <= RATIO_TARGET if quote.get("latency_over_critical_path") else None)

    calls = [run["calls"] for run in page_runs]
    add(f"360 page: {PAGE_CALLS_TARGET} backend calls at any `first`",
        " / ".join(f"{c:g}" for c in calls) + firsts if calls else None,
        all(c == PAGE_CALLS_TARGET for c in calls) if calls else None)

    lists = scenarios.get("worklists", {})
    slowest = next((run for run in lists.get("runs", []) if run["worklist"] == lists.get("slowest")), None)
    add(f"slowest worklist (50 rows): p50 ≤ {WORKLIST_RATIO_TARGET} × critical path (issue 20)",
        f"{slowest['latency_over_critical_path']} × ({slowest['worklist']})" if slowest else None,
        slowest["latency_over_critical_path"] <= WORKLIST_RATIO_TARGET if slowest else None)
    return rows


# --- Markdown ---------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float) -> str:
    return f"{value:,.1f}"


def special(result: dict[str, Any]) -> str | None:
    """The note standing in for a table when a scenario was skipped or failed."""
    if "skipped" in result:
        return f"Skipped: {result['skipped']}."
    if "error" in result:
        return f"**Failed**: `{result['error']}`"
    return None


SEQUENTIAL_HEADERS = ["backend calls", "p50 ms", "p95 ms", "critical path ms (levels)", "p50 ÷ critical path",
                      "per-call overhead ms, p50", "gateway-only ms: before / between levels / after", "errors"]


def sequential_cells(run: dict[str, Any]) -> list[Any]:
    return [f"{run['calls']:g}", ms(run["latency_ms"]["p50"]), ms(run["latency_ms"]["p95"]),
            f"{ms(run['critical_path_ms']['p50'])} ({run['levels']:g})", f"**{run['latency_over_critical_path']}**",
            ms(run["call_overhead_ms"]["p50"]), " / ".join(ms(gap) for gap in run["gateway_gaps_ms"]), run["errors"]]


def worklists_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    return table(["worklist, 50 rows", *SEQUENTIAL_HEADERS],
                 [[run["worklist"] + (" (slowest)" if run["worklist"] == result["slowest"] else ""),
                   *sequential_cells(run)] for run in result["runs"]])


def page_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    return table(["first", *SEQUENTIAL_HEADERS], [[run["first"], *sequential_cells(run)] for run in result["runs"]])


def nobatch_section(result: dict[str, Any], scenarios: dict[str, Any]) -> str:
    by_first = {run["first"]: run for run in scenarios.get("page", {}).get("runs", [])}
    rows = []
    for run in result["runs"]:
        base = by_first.get(run["first"])
        factor = (f"{run['calls'] / base['calls']:.0f} × calls, "
                  f"{run['latency_ms']['p50'] / base['latency_ms']['p50']:.1f} × p50") if base and base["calls"] else "-"
        rows.append([run["first"], f"{run['calls']:g}", ms(run["latency_ms"]["p50"]), ms(run["latency_ms"]["p95"]),
                     factor, run["errors"]])
    return table(["first", "backend calls", "p50 ms", "p95 ms", "unbatched ÷ batched", "errors"], rows)


def quote_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    return table(["lines", *SEQUENTIAL_HEADERS], [[result["lines"], *sequential_cells(result)]])


def throughput_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    rows = [[run["query"], run["cache"], f"{run['per_second']:,.1f}", f"{run['per_second_per_worker']:,.1f}",
             ms(run["latency_ms"]["p50"]), ms(run["latency_ms"]["p95"]),
             f"{run['errors']} / {run['requests']} of {run['distinct_bodies']:,} in {run['elapsed_s']:g} s",
             f"**{run['gateway_cpu_ms_per_request']:g}**", f"{run['backend_calls_per_request']:g}",
             f"{run['memory']['peak_rss_mb']:g}", " / ".join(f"{cores:.2f}" for cores in run["cpu_cores"].values())]
            for run in result["runs"]]
    return "\n".join([
        f"Each request a different id or page, none sent twice ({result['customers']:,} customers; pages start "
        "0, first, 2 × first, ..., then 1, first + 1, ...: after customers ÷ first requests they share customers "
        "with earlier pages). A run ends after its duration or when every distinct request was sent.",
        "",
        table(["query", "gateway cache", "req/s", "req/s per worker", "p50 ms", "p95 ms",
               "errors / requests of distinct, in", "gateway CPU ms per request", "backend calls per request",
               "gateway peak RSS MB", "CPU cores: gateway / backends / load generator"], rows)])


def replicas_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    rows = [[run["replicas"], run["cache"], f"**{run['per_second']:,.1f}**", ms(run["latency_ms"]["p50"]),
             ms(run["latency_ms"]["p95"]), f"{run['errors']} / {run['requests']}", f"{run['backend_calls_per_request']:g}",
             f"{run['memory']['peak_rss_mb']:g}", " / ".join(f"{cores:.2f}" for cores in run["cpu_cores"].values())]
            for run in result["runs"]]
    return table(["replicas", "caches", "req/s", "p50 ms", "p95 ms", "errors / requests", "backend calls per request",
                  "gateways' peak RSS MB", "CPU cores: gateways / backends / load generator"], rows)


def cpu_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    return table(["first", "gateway cache", "requests", "fields per answer", "CPU ms per request",
                  "wall ms per request", "CPU µs per field"],
                 [[result["first"], run["cache"], result["requests"], f"{run['fields']:,}",
                   ms(run["cpu_ms_per_request"]), ms(run["wall_ms_per_request"]), f"**{run['cpu_us_per_field']}**"]
                  for run in result["runs"]])


def auth_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    rows = [[state, run["cache"], ms(run["cpu_ms_per_request"]), run["cpu_us_per_field"]]
            for state in ("on", "off") for run in result[state]["runs"]]
    rows += [["cost (on − off)", run["cache"], f"**{ms(cost)}**", round(cost * 1000 / run["fields"], 3)]
             for run, cost in zip(result["on"]["runs"], result["cpu_ms_per_request"])]
    return table(["authorisation", "gateway cache", "CPU ms per request", "CPU µs per field"], rows)


def budgets_section(result: dict[str, Any], _: dict[str, Any]) -> str:
    rows = [[run["budget"], ms(run["quote_alone_ms"]["p50"]), ms(run["quote_during_export_ms"]["p50"]),
             f"**{run['p50_ratio']}**", ms(run["quote_during_export_ms"]["p95"]),
             f"{run['quote_errors']} / {run['quotes']}",
             f"{run['export_status']}, {run['export_rows']:,} rows in {run['export_s']:g} s"
             + ("" if run["export_overlapped_whole_run"] else " (ended before the quotes)"),
             run["erp_max_concurrent"]]
            for run in result["runs"]]
    adaptive = result["adaptive"]
    trail = ", ".join(f"{s['t_s']:g} s {s['limit']:g}" for s in adaptive["samples"])
    return "\n".join([
        f"{result['users']} quote users ({result['lines']} lines, cache used) for {result['duration_s']:g} s alone, "
        f"then {result['duration_s']:g} s while `/bi/OpenOrdersByProduct.json` (every open order) runs as `batch`.",
        "",
        table(["ERP", "quote p50 ms alone", "p50 ms during export", "during ÷ alone", "p95 ms during export",
               "quote errors / quotes", "export", "ERP's most calls at once"], rows),
        "",
        f"Adaptive ERP limit (budget {adaptive['max_concurrent']}, quotes bypassing the cache), ERP latency "
        f"{' → '.join(f'{latency:g}' for latency in adaptive['erp_latency_ms'])} ms: lowest limit per phase "
        f"{adaptive['lowest_limit']}, last {adaptive['last_limit']}. Samples: {trail}.",
    ])


def phase_rows(scenarios: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, the gateway's account of its time) of every measurement that has one, in scenario order."""
    rows: list[tuple[str, dict[str, Any]]] = []

    def add(label: str, run: dict[str, Any]) -> None:
        if run.get("phases"):
            rows.append((label, run["phases"]))

    def runs(key: str, result: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return (scenarios.get(key, {}) if result is None else result).get("runs", [])

    for run in runs("page"):
        add(f"1. 360 page, first {run['first']}", run)
    for run in runs("nobatch"):
        add(f"2. 360 page without batching, first {run['first']}", run)
    if "lines" in scenarios.get("quote", {}):
        add(f"3. quote, {scenarios['quote']['lines']} lines", scenarios["quote"])
    for run in runs("throughput"):
        add(f"4. {run['query']}, cache {run['cache']}", run)
    for run in runs("cpu"):
        add(f"5. 360 page, first {scenarios['cpu']['first']}, cache {run['cache']}", run)
    for state in ("on", "off"):
        for run in runs("auth", scenarios.get("auth", {}).get(state, {})):
            add(f"6. authorisation {state}, cache {run['cache']}", run)
    for run in runs("replicas"):
        add(f"7. {run['replicas']} replica(s), caches {run['cache']}", run)
    for run in runs("worklists"):
        add(f"8. {run['worklist']}", run)
    return rows


def phases_section(scenarios: dict[str, Any]) -> str | None:
    """Mean ms per request in each phase, as the gateway measured it (`/metrics`)."""
    rows = phase_rows(scenarios)
    if not rows:
        return None
    seen = {phase for _, phases in rows for phase in phases["phases_ms"]}
    executor = [phase for phase in ("plan", "waiting", "completing") if phase in seen]
    executor += sorted(seen - set(PIPELINE_PHASES) - set(executor))
    pipeline = [phase for phase in PIPELINE_PHASES if phase in seen]
    columns = pipeline[: pipeline.index("execute") + 1] if "execute" in pipeline else pipeline
    columns = columns + executor + [phase for phase in pipeline if phase not in columns]

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}" if value < 10 else f"{value:,.1f}"

    return "\n".join([
        "Mean ms per request, from the gateway's `/metrics` (`isthmus_request_phase_seconds`) read before and "
        "after each measurement. The executor's phases (" + (", ".join(executor) or "none reported") + ") lie "
        "within `execute`; `request` is the whole pipeline, from authentication to the encoded answer (HTTP "
        "parsing and sending are outside it). Under concurrent load a phase is wall time and includes the "
        "other requests the event loop served meanwhile.",
        "",
        table(["measurement", *(f"execute: {c}" if c in executor else c for c in columns), "request"],
              [[label, *(cell(phases["phases_ms"].get(c)) for c in columns), f"**{cell(phases['request_ms'])}**"]
               for label, phases in rows]),
    ])


def markdown(results: dict[str, Any]) -> str:
    m, o, scenarios = results["machine"], results["options"], results["scenarios"]
    out = [
        f"# Isthmus benchmark, {m['date'][:10]}, {m['git_sha']}{' (dirty)' if m['git_dirty'] else ''}",
        "",
        f"- Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_gb']} GB; "
        f"load average at start {' / '.join(map(str, m['load_average_at_start']))}",
        f"- Python {m['python']} ({m['python_build']}; PGO {'yes' if m['python_pgo'] else 'no'}, "
        f"LTO {'yes' if m['python_lto'] else 'no'}); strawberry {m['strawberry']}, graphql-core {m['graphql_core']}",
        f"- Run: {'quick' if o['quick'] else 'full'}, {o['repetitions']} repetitions "
        f"({o['nobatch_repetitions']} without batching) after {o['warmup']} warm-up, "
        f"{o['workers']} gateway worker(s), backend latency {o['latency_ms']:g} ± {o['jitter_ms']:g} ms; "
        f"took {results['wall_s']:g} s",
        "",
        "## Issue 15 targets",
        "",
        table(["target", "measured", "status"], [[t["target"], t["value"], f"**{t['status']}**"]
                                                  for t in targets(results)]),
    ]
    peaks = results.get("gateway_peak_rss_mb") or {}
    if peaks:
        out += ["", "Gateway peak RSS by scenario (MB): " + ", ".join(f"{k} {v:g}" for k, v in peaks.items())]
    sections = [
        ("page", "1. Customer-360 page", page_section),
        ("nobatch", "2. Customer-360 page without batching", nobatch_section),
        ("quote", "3. Quote screen, 20 lines", quote_section),
        ("throughput", "4. Throughput", throughput_section),
        ("cpu", "5. Gateway CPU per resolved field (backends at 0 ms)", cpu_section),
        ("auth", "6. Authorisation cost", auth_section),
        ("replicas", "7. Replicas sharing Redis: the 360 page (first: 20)", replicas_section),
        ("worklists", "8. Worklists", worklists_section),
        ("budgets", "10. People before batch work: the ERP's budget", budgets_section),
    ]
    for key, title, render in sections:
        if key not in scenarios:
            continue
        result = scenarios[key]
        if key in ("throughput", "replicas") and "runs" in result:
            title += (f" (concurrency {result['concurrency']}, {result['duration_s']:g} s, "
                      f"backends at {result['backend_latency_ms']:g} ms)")
        out += ["", f"## {title}", "", special(result) or render(result, scenarios)]
    phases = phases_section(scenarios)
    if phases:
        out += ["", "## Where the gateway's time goes", "", phases]
    return "\n".join(out) + "\n"


# --- files ------------------------------------------------------------------------------


def write(results: dict[str, Any], text: str, directory: str | Path) -> list[Path]:
    """`<date>-<sha>.json` and `.md`, and `latest.md` as a copy of the Markdown."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{date.today().isoformat()}-{results['machine']['git_sha'] or 'nogit'}"
    results = {**results, "targets": targets(results)}
    json_path, md_path, latest = stem.with_suffix(".json"), stem.with_suffix(".md"), directory / "latest.md"
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(text)
    shutil.copyfile(md_path, latest)
    return [json_path, md_path, latest]
