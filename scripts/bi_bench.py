"""How long a BI export takes, end to end: `GET /bi/<operation>.<csv|json>` of the whole customer base.

    python scripts/bi_bench.py [--operation OpenOrdersByProduct] [--format csv] [--runs 3]

Starts the four demo systems and a gateway process as the BI tests do (live data, no
cache, a bi_reader service account, the default cost budget), exports the operation `--runs` times over HTTP and
prints the rows and the seconds of each run, then the best and the median.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import GatewayProcess  # noqa: E402
from demo.launcher import start_systems  # noqa: E402

KEY = "bi-bench-key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operation", default="OpenOrdersByProduct")
    parser.add_argument("--format", default="csv", choices=("csv", "json"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    auth = {
        "jwt_secret": "bi-bench-secret-0123456789-0123456789",
        "api_keys": [{"sha256": hashlib.sha256(KEY.encode()).hexdigest(), "principal": "svc-bi", "roles": ["bi_reader"]}],
    }
    with start_systems(ports={"crm": 0, "erp": 0, "clm": 0, "desk": 0}) as systems, GatewayProcess(
        systems.urls, auth=auth, erp={"timeout": 10}, cache={"enabled": False}, resilience={"breaker": False}
    ) as gateway, httpx.Client(base_url=gateway.url, headers={"X-API-Key": KEY}, timeout=300) as client:
        seconds = []
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            response = client.get(f"/bi/{args.operation}.{args.format}")
            took = time.perf_counter() - started
            response.raise_for_status()
            rows = response.content.count(b"\n") - 1 if args.format == "csv" else len(response.json())
            seconds.append(took)
            print(f"run {run}: {rows} rows in {took:.2f} s", flush=True)
        print(
            f"{args.operation}.{args.format}: {rows} rows; best {min(seconds):.2f} s, "
            f"median {statistics.median(seconds):.2f} s of {len(seconds)} runs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
