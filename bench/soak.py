"""Fault soak: steady mixed load while a fault schedule hits each demo system in turn.

    python -m bench.soak [--seconds 600] [--concurrency 8]

The schedule gives each system one fault in turn — ERP down, CRM slower than its
timeout, CLM answering 50 % 5xx, DESK answering malformed JSON — each followed by
a recovery phase. It records the gateway's 5xx answers, requests past their
deadline, the share of answers in which every healthy source's data is intact
(no error names a source that was not faulted at the time), breaker transitions,
and the gateway's RSS over time. Results go to bench/results/soak-<date>-<sha>.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import GatewayProcess
from bench.measure import memory_mb, percentile
from bench.report import git
from demo.generate import SYSTEMS
from demo.launcher import start_systems
from server.auth import mint_token

QUERIES = Path(__file__).resolve().parent.parent / "tests" / "queries"
RESULTS = Path(__file__).resolve().parent / "results"
REQUEST_TIMEOUT = 5.0
BACKEND_TIMEOUT = 1.0
# (system, fault, what it is), applied in turn; each phase is followed by a recovery phase.
SCHEDULE = [
    ("erp", {"down": True}, "ERP down"),
    ("crm", {"latency_ms": 2500}, "CRM slower than its timeout"),
    ("clm", {"error_rate": 0.5, "status": 503}, "CLM 50 % 5xx"),
    ("desk", {"malformed_rate": 1.0}, "DESK malformed JSON"),
]
CLEAR = {"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "down": False, "malformed_rate": 0.0}
BREAKER_COOLDOWN = 3.0
# Seconds after a change during which answers are not judged: requests in flight straddle
# it, and after a recovery an open breaker waits its cool-down before it probes again.
SETTLE = BREAKER_COOLDOWN + 1.5


class Faults:
    """Which system is faulted now, and since when things last changed."""

    def __init__(self) -> None:
        self.faulted: str | None = None
        self.changed = time.monotonic()

    def set(self, system: str | None) -> None:
        self.faulted = system
        self.changed = time.monotonic()


async def schedule(urls: dict[str, str], faults: Faults, seconds: float, log: list[dict[str, Any]]) -> None:
    phase = seconds / (2 * len(SCHEDULE) + 1)
    await asyncio.sleep(phase)  # warm-up
    async with httpx.AsyncClient() as client:
        for system, fault, what in SCHEDULE:
            await client.put(f"{urls[system]}/_faults", json=fault)
            faults.set(system.upper())
            log.append({"at": round(time.monotonic(), 1), "event": f"{what}: start"})
            await asyncio.sleep(phase)
            await client.put(f"{urls[system]}/_faults", json=CLEAR)
            faults.set(None)
            log.append({"at": round(time.monotonic(), 1), "event": f"{what}: recovered"})
            await asyncio.sleep(phase)


async def load(url: str, bodies: list[bytes], headers: dict[str, str], concurrency: int, seconds: float, faults: Faults) -> dict[str, Any]:
    stats = {"requests": 0, "server_errors": 0, "past_deadline": 0, "judged": 0, "intact": 0, "latencies": [], "violations": []}
    until = time.monotonic() + seconds
    async with aiohttp.ClientSession(headers={**headers, "Content-Type": "application/json"}) as session:

        async def client() -> None:
            while time.monotonic() < until:
                body = random.choice(bodies)
                faulted, changed = faults.faulted, faults.changed
                sent = time.monotonic()
                async with session.post(url, data=body) as response:
                    payload = await response.read()
                elapsed = time.monotonic() - sent
                stats["requests"] += 1
                stats["latencies"].append(elapsed * 1000)
                if response.status >= 500:
                    stats["server_errors"] += 1
                if elapsed > REQUEST_TIMEOUT + 0.5:
                    stats["past_deadline"] += 1
                if sent - changed > SETTLE and faults.changed == changed:
                    stats["judged"] += 1
                    errors = json.loads(payload).get("errors") or []
                    failed = {e.get("extensions", {}).get("source") for e in errors} - {None}
                    if failed <= {faulted}:
                        stats["intact"] += 1
                    elif len(stats["violations"]) < 50:
                        codes = sorted({e["extensions"]["code"] for e in errors if e.get("extensions", {}).get("source") in failed - {faulted}})
                        stats["violations"].append(
                            {"faulted": faulted, "failed": sorted(failed), "codes": codes, "since_change_s": round(sent - changed, 1)}
                        )

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return stats


async def sample_rss(pid: int, seconds: float, every: float, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        samples.append((round(time.monotonic() - started, 1), memory_mb([pid])["rss_mb"]))
        await asyncio.sleep(every)


def breaker_transitions(url: str, headers: dict[str, str]) -> dict[str, int]:
    text = httpx.get(f"{url}/metrics", headers=headers).text  # /metrics takes an admin (or the metrics token)
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "isthmus_breaker_transitions":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = f"{sample.labels['source']}->{sample.labels['to']}"
                    counts[key] = int(sample.value)
    return counts


def bodies(crm_url: str) -> list[bytes]:
    customers = httpx.get(f"{crm_url}/customers/search", params={"limit": 200}).json()["items"]
    page = (QUERIES / "customer360.graphql").read_text()
    small = 'query($id: ID!) { customer(id: $id) { id name tier owner { name } orders(first: 3) { number total } contracts { number } tickets { id } } }'
    mixed = [json.dumps({"query": page, "variables": {"first": 10}}).encode()]
    mixed += [json.dumps({"query": small, "variables": {"id": c["id"]}}).encode() for c in customers[:50]]
    return mixed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    secret = secrets.token_urlsafe(32)
    headers = {"Authorization": f"Bearer {mint_token(secret, user='soak', roles=['admin'])}"}
    faults, log, rss = Faults(), [], []
    with start_systems(ports=dict.fromkeys(SYSTEMS, 0)) as systems:
        settings = {
            "auth": {"jwt_secret": secret},
            "limits": {"budget_per_window": 0},
            "request_timeout": REQUEST_TIMEOUT,
            # Short TTLs, so the backends keep being called and the faults are felt (and
            # stale-if-error serves what it can while they last).
            "cache": {"ttl": {kind: 2 for kind in ("master", "activity", "lists", "orders", "balances", "stock")}, "grace": 20},
            "resilience": {"breaker_cooldown": BREAKER_COOLDOWN},
            **{name: {"timeout": BACKEND_TIMEOUT} for name in ("crm", "erp", "clm", "desk")},
        }
        with GatewayProcess(systems.urls, **settings) as gateway:
            requests = bodies(systems.urls["crm"])

            async def run() -> dict[str, Any]:
                stats, *_ = await asyncio.gather(
                    load(f"{gateway.url}/graphql", requests, headers, args.concurrency, args.seconds, faults),
                    schedule(systems.urls, faults, args.seconds, log),
                    sample_rss(gateway.process.pid, args.seconds, max(1.0, args.seconds / 60), rss),
                )
                return stats

            stats = asyncio.run(run())
            transitions = breaker_transitions(gateway.url, headers)
    latencies = stats.pop("latencies")
    warm = [mb for at, mb in rss if at >= args.seconds / (2 * len(SCHEDULE) + 1)] or [mb for _, mb in rss]
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git("rev-parse", "--short", "HEAD"),
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        **stats,
        "intact_share": round(stats["intact"] / stats["judged"], 4) if stats["judged"] else None,
        "latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1), "max": round(max(latencies), 1)},
        "breaker_transitions": transitions,
        "rss_mb": {"after_warmup": warm[0], "peak": max(warm), "end": warm[-1]},
        "rss_samples": rss,
        "schedule": log,
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"soak-{dt.date.today().isoformat()}-{result['git']}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    summary = (
        f"| soak {args.seconds:g} s, {args.concurrency} clients | value |\n|---|---|\n"
        f"| requests | {stats['requests']} |\n| gateway 5xx | {stats['server_errors']} |\n"
        f"| past the deadline | {stats['past_deadline']} |\n"
        f"| answers with every healthy source intact | {stats['intact']} / {stats['judged']} ({result['intact_share']}) |\n"
        f"| latency p50 / p95 / max ms | {result['latency_ms']['p50']} / {result['latency_ms']['p95']} / {result['latency_ms']['max']} |\n"
        f"| breaker transitions | {', '.join(f'{k} {v}' for k, v in sorted(transitions.items())) or 'none'} |\n"
        f"| RSS MB after warm-up / peak / end | {result['rss_mb']['after_warmup']} / {result['rss_mb']['peak']} / {result['rss_mb']['end']} |\n"
    )
    (RESULTS / f"{name}.md").write_text(summary)
    print(summary)
    ok = stats["server_errors"] == 0 and stats["past_deadline"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
