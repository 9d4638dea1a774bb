"""The floor under the gateway: what the 360 page costs this stack with no GraphQL at all.

    python -m bench.floor [--first 50] [--requests 30]

A stand-in server on the gateway's own HTTP stack (uvicorn, FastAPI, orjson) answers each
POST by doing only what any executor of the page must do: the page's 12 backend GETs,
a level at a time, through the gateway's `BackendClient` (httpx over the aiohttp transport,
pooled), each answer decoded into the gateway's records (`Source.validate`, msgspec), and
the gateway's own answer for that page (fetched once beforehand) encoded by orjson. No
parsing, validation, authorisation, caching or execution.

Both it and a real gateway serve the same page in turns, backends at 0 ms; the report is
each one's CPU per request and per field of the answer. What the floor spends per field is
the least any executor on this stack can spend on this page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request, Response

from bench.harness import ROOT, free_port, stop
from bench.measure import count_fields, cpu_seconds, process_tree
from sources import records as R
from sources.base import Items, Source
from sources.http import BackendClient

# What each of the page's backend calls answers, by its route.
ROUTES: dict[str, type[R.Record]] = {
    "crm /customers/search": R.CustomerPage,
    "crm /customers": R.Customer,
    "crm /reps": R.SalesRep,
    "crm /contacts": R.Contact,
    "crm /opportunities": R.Opportunity,
    "crm /activities": R.Activity,
    "erp /parties": R.Party,
    "erp /orders": R.Order,
    "erp /invoices": R.Invoice,
    "erp /open_items": R.OpenItem,
    "erp /products": R.Product,
    "erp /stock": R.Stock,
    "clm /contracts": R.Contract,
    "desk /tickets": R.Ticket,
}
SYSTEMS = ("crm", "erp", "clm", "desk")


def floor_app(urls: dict[str, str], answers: dict[str, Any]) -> FastAPI:
    """The stand-in: the backend calls and decoding of a request, then the gateway's answer to it encoded."""
    clients = {system: BackendClient(system.upper(), url) for system, url in urls.items()}
    decoder = Source("floor", clients["crm"])
    app = FastAPI()

    async def get(route: str, **params: str) -> Any:
        system, path = route.split(" ")
        body = await clients[system].get(route, path, params)
        model = ROUTES[route]
        return decoder.validate(route, body, model if model is R.CustomerPage else Items[model])  # type: ignore[valid-type]

    @app.post("/graphql")
    async def answer(request: Request) -> Response:
        variables = orjson.loads(await request.body())["variables"]
        if "id" in variables:  # customer(id): one look-up
            await get("crm /customers", ids=variables["id"])
            return Response(orjson.dumps(answers["one"]), media_type="application/json")
        await page(variables["first"])
        return Response(orjson.dumps(answers["page"]), media_type="application/json")

    async def page(first: int) -> None:
        customers = (await get("crm /customers/search", limit=str(first), offset="0")).items
        ids = ",".join(c.id for c in customers)
        refs = {s: ",".join(getattr(c.refs, s) for c in customers if getattr(c.refs, s)) for s in ("erp", "clm", "desk")}
        reps = ",".join(sorted({c.owner_id for c in customers if c.owner_id}))
        level = await asyncio.gather(
            get("crm /reps", ids=reps),
            get("crm /contacts", customer=ids),
            get("crm /opportunities", customer=ids),
            get("erp /parties", codes=refs["erp"]),
            get("erp /orders", party=refs["erp"]),
            get("erp /invoices", party=refs["erp"]),
            get("erp /open_items", party=refs["erp"]),
            get("clm /contracts", counterparty=refs["clm"]),
            get("desk /tickets", org=refs["desk"]),
        )
        skus = ",".join(sorted({line.sku for order in level[4].items for line in order.lines}))
        await asyncio.gather(get("erp /products", skus=skus), get("erp /stock", skus=skus))

    return app


def serve(port: int) -> None:
    import uvicorn

    urls = {system: os.environ[f"FLOOR_{system.upper()}"] for system in SYSTEMS}
    answers = orjson.loads(open(os.environ["FLOOR_ANSWERS"], "rb").read())
    uvicorn.run(floor_app(urls, answers), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def measure(first: int, requests: int) -> dict[str, dict[str, Any]]:
    """Per workload (the page, customer(id)): CPU ms per request of the floor and the gateway, and fields."""
    from bench.harness import GatewayProcess
    from bench.scenarios import CALLER, ONE_CUSTOMER, PAGE, SECRET
    from demo.launcher import start_systems

    headers = {**CALLER, "Cache-Control": "no-cache"}
    results: dict[str, dict[str, Any]] = {}
    with start_systems(dict.fromkeys(SYSTEMS, 0)) as systems, httpx.Client(timeout=60) as http:
        # no cost budget and fresh reads unrationed: every request comes from one admin with `no-cache`
        with GatewayProcess(systems.urls, auth={"jwt_secret": SECRET}, limits={"budget_per_window": 0},
                            budgets={"fresh_reads": 0}, output=subprocess.DEVNULL) as gateway:
            page = {"query": PAGE, "variables": {"first": first}}
            answers = {"page": _data(http.post(f"{gateway.url}/graphql", json=page, headers=headers))}
            ids = [edge["node"]["id"] for edge in answers["page"]["customers"]["edges"]]
            ones = [{"query": ONE_CUSTOMER, "variables": {"id": id_}} for id_ in ids]
            answers["one"] = _data(http.post(f"{gateway.url}/graphql", json=ones[0], headers=headers))
            answers_file = ROOT / ".floor-answers.json"
            answers_file.write_bytes(orjson.dumps(answers))
            port = free_port()
            env = {**os.environ, "FLOOR_ANSWERS": str(answers_file),
                   **{f"FLOOR_{s.upper()}": url for s, url in systems.urls.items()}}
            floor = subprocess.Popen([sys.executable, "-m", "bench.floor", "--serve", str(port)], cwd=ROOT, env=env)
            try:
                servers = {"floor": (f"http://127.0.0.1:{port}", floor.pid), "gateway": (gateway.url, gateway.process.pid)}
                _wait(http, servers["floor"][0], page)
                for name, bodies, count, answer in (("page", [page], requests, answers["page"]),
                                                     ("customer(id)", ones, requests * 20, answers["one"])):
                    cpu = dict.fromkeys(servers, 0.0)
                    for url, _pid in servers.values():  # warm up both
                        for body in bodies[:3]:
                            http.post(f"{url}/graphql", json=body, headers=headers).raise_for_status()
                    turn = max(count // 6, 1)
                    for done in range(0, count, turn):  # in turns, so a busy neighbour weighs on both alike
                        for server, (url, pid) in servers.items():
                            pids = process_tree(pid)
                            before = cpu_seconds(pids)
                            for index in range(done, min(done + turn, count)):
                                body = bodies[index % len(bodies)]
                                http.post(f"{url}/graphql", json=body, headers=headers).raise_for_status()
                            cpu[server] += cpu_seconds(pids) - before
                    results[name] = {"requests": count, "fields": count_fields(answer),
                                     **{server: seconds * 1000 / count for server, seconds in cpu.items()}}
            finally:
                stop(floor)
                answers_file.unlink(missing_ok=True)
    return results


def _data(response: httpx.Response) -> Any:
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"the gateway answered errors: {body['errors'][:2]}")
    return body["data"]


def _wait(http: httpx.Client, url: str, body: dict[str, Any], timeout: float = 30) -> None:
    until = time.monotonic() + timeout
    while True:
        try:
            http.post(f"{url}/graphql", json=body).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > until:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--requests", type=int, default=30, help="pages per server (customer(id): 20 times as many)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    results = measure(args.first, args.requests)
    print(f"Backends at 0 ms, cache bypassed; CPU per request of each server, taking turns (first: {args.first})")
    print("| request | fields | floor: CPU ms (µs per field) | gateway: CPU ms (µs per field) | gateway ÷ floor |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        per_field = {server: r[server] * 1000 / r["fields"] for server in ("floor", "gateway")}
        print(f"| {name} | {r['fields']:,} | {r['floor']:.2f} ({per_field['floor']:.2f}) "
              f"| {r['gateway']:.2f} ({per_field['gateway']:.2f}) | {r['gateway'] / r['floor']:.2f} |")


if __name__ == "__main__":
    main()
