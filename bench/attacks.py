"""`python -m bench.attacks`: how fast the gateway refuses the documented attacks, and what they cost the backends.

Starts the demo systems and a gateway with production defaults (cache and breakers on),
sends each attack 20 times as a new document (no parse cache helps), and prints the codes
answered, the backend calls they caused (the demo systems' `/_stats`) and the times:

- a fragment bomb of 40 levels (each fragment spreads the previous one twice);
- a query whose cost hides in variable defaults (`$n: Int = 100`);
- a customer cursor with a huge offset, which once made the CRM answer 500 and opened its breaker.
"""

from __future__ import annotations

import statistics
import time

import httpx

from bench.harness import GatewayProcess
from demo.launcher import start_systems
from server.auth import mint_token

SECRET = "bench-attacks-secret-0123456789abcdef"
SYSTEMS = ("crm", "erp", "clm", "desk")
COST = """query($n: Int = 100, $m: Int = 200) { customers(first: $n) { edges { node { id orders(first: $n) { id lines { sku } }
  timeline(first: $m) { kind } contracts { id orders { id lines { sku } } } tickets { id } } } } }"""
CURSOR = 'query { customers(after: "Y3VzdG9tZXJzOjk5OTk5OTk5OTk5OTk5OTk5OTk5") { totalCount } }'


def fragment_bomb(levels: int) -> str:
    fragments = ["fragment F0 on Customer { id name }"]
    fragments += [f"fragment F{i} on Customer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    return f"query {{ customers(first: 1) {{ edges {{ node {{ ...F{levels - 1} }} }} }} }}\n" + "\n".join(fragments)


def main() -> None:
    with start_systems(ports={system: 0 for system in SYSTEMS}) as running, \
            GatewayProcess(running.urls, auth={"jwt_secret": SECRET}) as gateway, httpx.Client(timeout=30) as client:
        headers = {"Authorization": f"Bearer {mint_token(SECRET, user='attacker', roles=['sales_rep'], ttl_seconds=600)}"}
        for name, query in (("fragment bomb, 40 levels", fragment_bomb(40)), ("cost in variable defaults", COST),
                            ("cursor with a huge offset", CURSOR)):
            for system in SYSTEMS:
                client.post(f"{running.urls[system]}/_stats/reset")
            times, codes = [], set()
            for i in range(20):
                started = time.perf_counter()
                body = client.post(f"{gateway.url}/graphql", json={"query": f"{query}\n# {i}"}, headers=headers).json()
                times.append((time.perf_counter() - started) * 1000)
                codes |= {error["extensions"]["code"] for error in body.get("errors", [])}
            calls = sum(client.get(f"{running.urls[system]}/_stats").json()["calls"] for system in SYSTEMS)
            print(f"{name}: {', '.join(sorted(codes))}; backend calls {calls}; "
                  f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    main()
