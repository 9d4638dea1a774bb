"""Results as JSON (every number) and Markdown (the tables a reader compares),
with the machine they were measured on and the targets marked met or missed.
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


def targets(scenarios: dict[str, Any]) -> list[dict[str, str]]:
    """Each target judged on the figures of the scenarios that measured it; where a scenario ran
    with the gateway's cache used and bypassed, a target is met only if met both ways."""
    rows = []

    def add(target: str, value: str | None, met: bool | None) -> None:
        status = "not measured" if met is None else "met" if met else "missed"
        rows.append({"target": target, "value": value or "-", "status": status})

    page_runs = sorted(scenarios.get("page", {}).get("runs", []), key=lambda run: run["first"])
    calls = [run["calls"] for run in page_runs]
    add("360 page: backend calls do not grow with `first`, ≤ 12",
        " / ".join(f"{c:g}" for c in calls) + " (first " + " / ".join(str(r["first"]) for r in page_runs) + ")"
        if calls else None,
        all(c <= 12 for c in calls) and calls == sorted(calls, reverse=True) if calls else None)

    fifty = next((run for run in page_runs if run["first"] == 50 and run["latency_over_critical_path"]), None)
    latency = scenarios.get("page", {}).get("backend_latency_ms")
    add(f"360 page, 50 customers, {latency:g} ms backends: p50 ≤ 1.15 × critical path" if fifty else
        "360 page, 50 customers: p50 ≤ 1.15 × critical path",
        f"{fifty['latency_over_critical_path']} ×" if fifty else None,
        fifty["latency_over_critical_path"] <= 1.15 if fifty else None)

    cpu_runs = scenarios.get("cpu", {}).get("runs", [])
    add("gateway CPU ≤ 2 µs per field",
        ", ".join(f"{run['cpu_us_per_field']} µs cache {run['cache']}" for run in cpu_runs) or None,
        all(run["cpu_us_per_field"] <= 2 for run in cpu_runs) if cpu_runs else None)

    load_runs = scenarios.get("throughput", {}).get("runs", [])
    ones = [run for run in load_runs if run["query"] == "customer(id)"]
    add("customer(id) ≥ 1,500 req/s per worker",
        ", ".join(f"{run['per_second_per_worker']:,.0f} req/s cache {run['cache']}" for run in ones) or None,
        all(run["per_second_per_worker"] >= 1500 for run in ones) if ones else None)

    peak = max((run["memory"]["peak_rss_mb"] for run in load_runs), default=None)
    add("gateway RSS ≤ 250 MB under throughput", f"{peak:g} MB" if peak is not None else None,
        peak <= 250 if peak is not None else None)
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
             ms(run["latency_ms"]["p50"]), ms(run["latency_ms"]["p95"]), f"{run['errors']} / {run['requests']}",
             f"{run['backend_calls_per_request']:g}", f"{run['memory']['peak_rss_mb']:g}",
             " / ".join(f"{cores:.2f}" for cores in run["cpu_cores"].values())]
            for run in result["runs"]]
    return table(["query", "gateway cache", "req/s", "req/s per worker", "p50 ms", "p95 ms", "errors / requests",
                  "backend calls per request", "gateway peak RSS MB", "CPU cores: gateway / backends / load generator"], rows)


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
        "## Targets",
        "",
        table(["target", "measured", "status"], [[t["target"], t["value"], f"**{t['status']}**"]
                                                  for t in targets(scenarios)]),
    ]
    sections = [
        ("page", "1. Customer-360 page", page_section),
        ("nobatch", "2. Customer-360 page without batching", nobatch_section),
        ("quote", "3. Quote screen, 20 lines", quote_section),
        ("throughput", "4. Throughput", throughput_section),
        ("cpu", "5. Gateway CPU per resolved field (backends at 0 ms)", cpu_section),
        ("auth", "6. Authorisation cost", auth_section),
        ("replicas", "7. Replicas sharing Redis: the 360 page (first: 20)", replicas_section),
    ]
    for key, title, render in sections:
        if key not in scenarios:
            continue
        result = scenarios[key]
        if key in ("throughput", "replicas") and "runs" in result:
            title += (f" (concurrency {result['concurrency']}, {result['duration_s']:g} s, "
                      f"backends at {result['backend_latency_ms']:g} ms)")
        out += ["", f"## {title}", "", special(result) or render(result, scenarios)]
    return "\n".join(out) + "\n"


# --- files ------------------------------------------------------------------------------


def write(results: dict[str, Any], text: str, directory: str | Path) -> list[Path]:
    """`<date>-<sha>.json` and `.md`, and `latest.md` as a copy of the Markdown."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{date.today().isoformat()}-{results['machine']['git_sha'] or 'nogit'}"
    results = {**results, "targets": targets(results["scenarios"])}
    json_path, md_path, latest = stem.with_suffix(".json"), stem.with_suffix(".md"), directory / "latest.md"
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(text)
    shutil.copyfile(md_path, latest)
    return [json_path, md_path, latest]
