"""What one access line costs: `server.access.audit` as the GraphQL route calls it.

    python scripts/audit_bench.py [--count 20000]

Logging is set up as `isthmus serve` sets it up (`server.logs.configure`), the stream
pointed at /dev/null, and a fresh request per line (the cost of building the request
object is measured alone and subtracted). Best of seven runs of `--count` lines, CPU
time. It also times the line through the `logging` framework, which is what it costs
when something else listens too (a filter on the handler forces that path). It uses
nothing but `audit` and `configure`, so the same script measures any earlier commit.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.requests import Request  # noqa: E402

from resolvers.context import Principal  # noqa: E402
from server import logs  # noqa: E402
from server.access import audit  # noqa: E402

PRINCIPAL = Principal(id="R007", name="Rep Seven", roles=("sales_rep",), team="North")
SCOPE = {
    "type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"), (b"authorization", b"Bearer x")],
    "scheme": "http", "server": ("127.0.0.1", 8000), "root_path": "",
}


def line() -> None:
    audit(Request(dict(SCOPE)), principal=PRINCIPAL, status=200, outcome="ok", operation="Customer360Page",
          denied=["Customer.taxId", "OrderLine.unitCost"], document=None, duration_ms=123.45)


def request_only() -> None:
    Request(dict(SCOPE))


def best_us(run, count: int) -> float:
    run()
    times = []
    for _ in range(7):
        start = time.process_time()
        for _ in range(count):
            run()
        times.append(time.process_time() - start)
    return min(times) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    logs.configure()
    devnull = open("/dev/null", "w")  # noqa: SIM115  (open for the whole run)
    for handler in logging.getLogger().handlers:
        handler.setStream(devnull)
    logs.request_id.set("3f2a9c1e4b7d4e0f9a1b2c3d4e5f6a7b")
    base = best_us(request_only, args.count)
    print(f"one access line, as the gateway writes it: {best_us(line, args.count) - base:.2f} µs")
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: True)
    print(f"the same through logging (another listener): {best_us(line, args.count) - base:.2f} µs")
    print(f"(building the request, subtracted: {base:.2f} µs)")


if __name__ == "__main__":
    main()
