"""A closed-loop load generator: `concurrency` clients, each sending its next
request as soon as the previous answer arrived, for `duration` seconds.

One aiohttp session with keep-alive connections and pre-encoded bodies, so the
client costs little CPU per request on a machine it shares with the gateway;
its own CPU time is measured and reported so that can be checked.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import aiohttp

HEADERS = {"Content-Type": "application/json"}


@dataclass
class LoadResult:
    elapsed_s: float
    client_cpu_s: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.requests / self.elapsed_s


async def run_load(url: str | list[str], bodies: list[bytes], concurrency: int, duration_s: float,
                   headers: dict[str, str] | None = None, max_requests: int | None = None) -> LoadResult:
    """POST `bodies` round-robin to `url` until `duration_s` passed or `max_requests` were sent;
    an answer other than 200 without `errors` is an error. Several urls (replicas) take
    turns, as behind a round-robin load balancer.

    Requests in flight at the end are awaited and counted, and `elapsed_s`
    runs until the last one returned, so the rate is not inflated.
    """
    headers = {**HEADERS, **(headers or {})}
    urls = [url] if isinstance(url, str) else url
    turn = itertools.count()
    cpu_started, started = time.process_time(), time.perf_counter()
    deadline = started + duration_s
    result = LoadResult(0.0, 0.0)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def client() -> None:
            while time.perf_counter() < deadline:
                n = next(turn)
                if max_requests is not None and n >= max_requests:
                    return
                body = bodies[n % len(bodies)]
                sent = time.perf_counter()
                try:
                    async with session.post(urls[n % len(urls)], data=body, headers=headers) as response:
                        answer = await response.read()
                        ok = response.status == 200 and b'"errors"' not in answer
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                result.errors += not ok

        await asyncio.gather(*(client() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    result.client_cpu_s = time.process_time() - cpu_started
    return result
