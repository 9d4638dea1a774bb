"""`isthmus bench`: start the demo systems, run the scenarios, write the results.

    isthmus bench                          everything, default settings (a few minutes)
    isthmus bench -- --quick               fewer repetitions, 3 s of load: for development
    isthmus bench -- --scenarios page,cpu --latency-ms 50

Every process it starts is stopped on the way out, also on Ctrl-C or an error.
See bench/README.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time

import httpx

from bench import report
from bench.harness import ROOT
from bench.scenarios import RUNNERS, Bench
from demo.generate import SYSTEMS
from demo.launcher import start_systems

# (full, --quick) for the options whose default depends on --quick
DEFAULTS = {"repetitions": (20, 5), "nobatch_repetitions": (5, 3), "warmup": (3, 1), "duration": (10.0, 3.0),
            "cpu_requests": (30, 10)}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="isthmus bench", description="Benchmarks of the Isthmus gateway.")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and 3 s of load")
    parser.add_argument("--scenarios", default=",".join(RUNNERS),
                        help=f"comma-separated, from {','.join(RUNNERS)} (default: all)")
    parser.add_argument("--latency-ms", type=float, default=20, help="backend latency for the sequential scenarios")
    parser.add_argument("--jitter-ms", type=float, default=3, help="± around the backend latency")
    parser.add_argument("--sizes", default="10,50,100", help="values of `first` for the 360 page")
    parser.add_argument("--repetitions", type=int, help="timed requests per measurement (20; quick 5)")
    parser.add_argument("--nobatch-repetitions", type=int,
                        help="timed requests per size without batching, slow by design (5; quick 3)")
    parser.add_argument("--warmup", type=int, help="untimed requests before each measurement (3; quick 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the throughput scenario")
    parser.add_argument("--duration", type=float, help="seconds of each throughput run (10; quick 3)")
    parser.add_argument("--throughput-latency-ms", type=float, default=0,
                        help="backend latency under load (0: measure the gateway, not Little's law)")
    parser.add_argument("--cpu-requests", type=int, help="requests of the CPU scenario (30; quick 10)")
    parser.add_argument("--cpu-first", type=int, default=50, help="page size of the CPU scenario")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument("--output-dir", default=str(ROOT / "bench" / "results"))
    # `isthmus bench -- --quick`: app.py's REMAINDER argument keeps the "--" that lets options through
    options = parser.parse_args(argv[1:] if argv[:1] == ["--"] else argv)
    for name, (full, quick) in DEFAULTS.items():
        if getattr(options, name) is None:
            setattr(options, name, quick if options.quick else full)
    options.sizes = [int(size) for size in options.sizes.split(",")]
    options.scenarios = [name.strip() for name in options.scenarios.split(",") if name.strip()]
    unknown = set(options.scenarios) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if min(options.repetitions, options.nobatch_repetitions, options.cpu_requests) < 1:
        parser.error("repetitions and requests must be at least 1")
    return options


def main(argv: list[str]) -> int:
    options = parse(argv)
    signal.signal(signal.SIGTERM, interrupt)  # `timeout`, `kill`: clean up as on Ctrl-C
    started = time.monotonic()
    results = {"machine": report.machine(), "options": vars(options).copy(), "scenarios": {}}
    failed = False
    faults = {"latency_ms": options.latency_ms, "jitter_ms": options.jitter_ms}
    gateway_log = tempfile.NamedTemporaryFile(prefix="isthmus-bench-gateway-", suffix=".log", delete=False)
    try:
        with gateway_log, start_systems(ports=dict.fromkeys(SYSTEMS, 0), faults=faults) as systems, \
                httpx.Client(timeout=120) as http:
            bench = Bench(systems, options, http, gateway_log)
            for name in options.scenarios:
                log(f"{name}...")
                bench.scenario = name
                began = time.monotonic()
                try:
                    results["scenarios"][name] = RUNNERS[name](bench)
                    log(f"{name} took {time.monotonic() - began:.0f} s")
                except Exception as exc:  # one broken scenario must not hide the others
                    failed = True
                    results["scenarios"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                    log(f"{name} failed: {exc}")
            results["gateway_peak_rss_mb"] = bench.peak_rss_mb
    except KeyboardInterrupt:
        log(f"interrupted; every process stopped, nothing written; the gateways' logs: {gateway_log.name}")
        return 130
    if failed:
        log(f"the gateways' logs are kept in {gateway_log.name}")
    else:
        os.unlink(gateway_log.name)
    results["wall_s"] = round(time.monotonic() - started, 1)
    markdown = report.markdown(results)
    for path in report.write(results, markdown, options.output_dir):
        log(f"wrote {path}")
    print(markdown)
    return 1 if failed else 0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
