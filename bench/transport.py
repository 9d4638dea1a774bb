"""httpx's own transport against httpx-aiohttp's, for the fan-out a source makes without batching.

    python -m bench.transport [--fanout 50] [--rounds 30] [--latency-ms 20]

Starts the demo systems, sends `fanout` concurrent one-key look-ups to the CRM
through `BackendClient` with each transport, `rounds` times, and prints the
median and p95 wall time of a round, plus one batched call for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from demo.generate import SYSTEMS
from demo.launcher import start_systems
from sources.http import BackendClient


async def measure(url: str, transport: str, fanout: int, rounds: int, ids: list[str]) -> dict[str, float]:
    client = BackendClient("CRM", url, transport=transport, timeout=10)
    try:
        async def one_round() -> float:
            started = time.perf_counter()
            await asyncio.gather(*(client.get("customers", "/customers", {"ids": ids[i]}) for i in range(fanout)))
            return (time.perf_counter() - started) * 1000

        async def batched() -> float:
            started = time.perf_counter()
            await client.get("customers", "/customers", {"ids": ",".join(ids[:fanout])})
            return (time.perf_counter() - started) * 1000

        await one_round()  # warm the pool
        fan = sorted([await one_round() for _ in range(rounds)])
        batch = sorted([await batched() for _ in range(rounds)])
        return {
            "fanout_p50_ms": round(statistics.median(fan), 1),
            "fanout_p95_ms": round(fan[int(len(fan) * 0.95) - 1], 1),
            "batch_p50_ms": round(statistics.median(batch), 1),
        }
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fanout", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=20)
    args = parser.parse_args()
    with start_systems(ports=dict.fromkeys(SYSTEMS, 0)) as systems:
        url = systems.urls["crm"]
        ids = [c["id"] for c in httpx.get(f"{url}/customers/search", params={"limit": args.fanout}).json()["items"]]
        httpx.put(f"{url}/_faults", json={"latency_ms": args.latency_ms, "jitter_ms": 0}).raise_for_status()
        for transport in ("httpx", "aiohttp", "httpx", "aiohttp"):
            print(transport, asyncio.run(measure(url, transport, args.fanout, args.rounds, ids)), flush=True)


if __name__ == "__main__":
    main()
