"""Isthmus: wiring and the command line.

isthmus demo                 start the demo systems and the gateway on them
isthmus demo --erp tryton    the same with a local Tryton 8.2 as the ERP
isthmus serve --config FILE  the gateway alone, backends from settings
isthmus schema [--subgraph]  print the GraphQL SDL (--subgraph: the Federation v2 subgraph's)
isthmus manifest             print the trusted documents (persisted/) as JSON
isthmus token --user ID --role ROLE [--team T] [--ttl 8h]   mint a token
isthmus bench                run the benchmarks
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING

from fastapi import FastAPI

import schema
from server import logs
from server.demo import DemoSite, Persona
from server.http import create_app
from server.settings import BackendSettings, Settings

if TYPE_CHECKING:  # the demo is imported only when it runs
    from demo.tryton import TrytonServer

__all__ = ["Settings", "create_app", "main"]


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory app:app_from_environment` (settings from ISTHMUS_CONFIG)."""
    return create_app()


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

EXAMPLE_QUERIES = """\
Try in GraphiQL:
  { customers(first: 3) { totalCount edges { node { id name tier risk owner { name } } } } }
  { customer(id: "C00001") { name receivables { openBalance overdueBalance creditAvailable } alerts { kind message } } }
  { atp(sku: "SKU-0001", quantity: "10") { available canPromise promiseDate } }
"""


def serve(settings: Settings, workers: int = 1, demo: DemoSite | None = None) -> None:
    import uvicorn

    if workers > 1:
        uvicorn.run(
            "app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    else:
        uvicorn.run(
            create_app(settings, demo), host=settings.host, port=settings.port, log_level="warning", access_log=False
        )


def cmd_demo(args: argparse.Namespace) -> int:
    import secrets
    from contextlib import nullcontext

    import httpx

    from demo.launcher import DEFAULT_PORTS, start_systems
    from server.settings import AuthSettings, EventSettings

    tryton = getattr(args, "erp", "demo") == "tryton"
    names = ("crm", "clm", "desk", "srm", "mes") if tryton else ("crm", "erp", "clm", "desk", "srm", "mes")
    print(
        f"Starting the demo systems ({', '.join(n.upper() for n in names)}); the first start generates their data...",
        flush=True,
    )
    # The demo systems announce their changes to the gateway, signed with a secret made for this run.
    webhook_secret = secrets.token_urlsafe(32)
    events = (f"http://127.0.0.1:{args.port}", webhook_secret)
    with (
        start_systems({name: DEFAULT_PORTS[name] for name in names}, events=events) as systems,
        start_demo_tryton() if tryton else nullcontext() as erp,
    ):
        secret = os.environ.get("ISTHMUS_AUTH__JWT_SECRET") or secrets.token_urlsafe(32)
        extra = {"erp_kind": "tryton", "tryton": erp.settings()} if erp is not None else {}
        settings = Settings.load(
            None,
            port=args.port,
            auth=AuthSettings(jwt_secret=secret),
            events=EventSettings(secret=webhook_secret),
            **{name.lower(): BackendSettings(url=url) for name, url in systems.urls.items()},
            **extra,
        )
        for name, url in systems.urls.items():
            print(f"  {name.upper():5} {url}/docs")
        if erp is not None:
            print(f"  ERP   Tryton {erp.url}/{erp.database}/rpc/ (user {erp.user}; log {erp.log_file})")
        site = demo_site(secret, httpx.get(f"{systems.urls['crm']}/reps").json()["items"])
        base = f"http://{settings.host}:{settings.port}"
        print(f"\nIsthmus GraphiQL: {base}/graphql  (pick a role at the top: its token goes into the Headers tab)")
        print(f"Customer 360:     {base}/app/360/")
        print(f"Quote screen:     {base}/app/quote/")
        print("\nFor curl and other clients, a token per role (valid 8 hours; fresh ones at /demo/tokens):\n")
        for person in site.tokens():
            print(f'  {person["role"]:14} -H "Authorization: Bearer {person["token"]}"')
        print(f"\n{EXAMPLE_QUERIES}\nCtrl-C stops everything.", flush=True)
        # SIGTERM (a process manager, `timeout`) stops everything too: uvicorn shuts down and
        # re-raises the signal, which here unwinds the `with` and stops the demo systems.
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            serve(settings, demo=site)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start_demo_tryton() -> TrytonServer:
    """Tryton as the demo's ERP: installed on first use (its own venv in .tryton/), seeded, started."""
    from demo.tryton import TrytonUnavailable, start_tryton
    from demo.tryton.runtime import free_port

    print("Starting Tryton (first time: install ~30 s and database ~30 s; then seed ~20 s)...", flush=True)
    try:
        return start_tryton(port=free_port(8010))
    except TrytonUnavailable as exc:
        raise SystemExit(f"Tryton cannot be installed here: {exc}") from None


def demo_site(secret: str, reps: list[dict]) -> DemoSite:
    """What `isthmus demo` adds to the gateway: one person per role, and the example front-ends.

    Sales staff are real reps of the demo CRM (a rep and a manager of the same team), so row-level
    rules show; the other roles see every customer anyway.
    """
    from demo import WEB
    from policies import ROLES

    rep = reps[0]
    manager = next((r for r in reps[1:] if r.get("team") == rep.get("team")), rep)
    people = []
    for role in ROLES:
        person = rep if role == "sales_rep" else manager if role == "sales_manager" else None
        if person is None:
            people.append(Persona(role, f"demo-{role}", role))
        else:
            people.append(Persona(role, person["id"], person.get("name"), person.get("team")))
    return DemoSite(secret, people, apps=WEB)


def cmd_token(args: argparse.Namespace) -> int:
    from server.auth import mint_token

    settings = Settings.load(args.config)
    if settings.auth.jwt_secret is None:
        print("No JWT secret is configured (auth.jwt_secret, or ISTHMUS_AUTH__JWT_SECRET).", file=sys.stderr)
        return 2
    token = mint_token(
        settings.auth.jwt_secret.get_secret_value(),
        user=args.user,
        roles=args.role,
        team=args.team,
        name=args.name,
        ttl_seconds=parse_duration(args.ttl),
    )
    print(token)
    return 0


def parse_duration(text: str) -> int:
    """'8h', '30m', '45s', '2d' or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.config:
        os.environ["ISTHMUS_CONFIG"] = args.config
    overrides = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
    settings = Settings.load(args.config, **overrides)
    serve(settings, workers=args.workers)
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    """The trusted documents of persisted/ as JSON (Apollo's manifest format), for client build tools."""
    import json

    from server.persisted import Manifest, ManifestError

    settings = Settings.load(args.config)
    try:
        manifest = Manifest.load(settings.persisted.dir, schema.public)
    except ManifestError as exc:
        print(f"persisted documents: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(manifest.as_json(), indent=2) + "\n")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write((schema.subgraph_sdl() if args.subgraph else schema.public_sdl()) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        # The benchmark has its own options (`isthmus bench --quick`); argparse's REMAINDER
        # would refuse them before they reach it.
        from bench.run import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(prog="isthmus", description="A live customer-360 GraphQL gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="start the demo systems and the gateway on them")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument(
        "--erp",
        choices=("demo", "tryton"),
        default="demo",
        help="the ERP: the demo REST system, or a local Tryton 8.2 (installed on first use)",
    )
    demo.set_defaults(run=cmd_demo)
    srv = commands.add_parser("serve", help="start the gateway alone")
    srv.add_argument("--config", help="a TOML settings file")
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    srv.add_argument("--workers", type=int, default=1)
    srv.set_defaults(run=cmd_serve)
    printing = commands.add_parser("schema", help="print the GraphQL SDL")
    printing.add_argument("--subgraph", action="store_true", help="the Federation v2 subgraph SDL (with @key, @link)")
    printing.set_defaults(run=cmd_schema)
    manifest = commands.add_parser("manifest", help="print the trusted documents (persisted/) as a JSON manifest")
    manifest.add_argument("--config", help="a TOML settings file (persisted.dir)")
    manifest.set_defaults(run=cmd_manifest)
    token = commands.add_parser("token", help="mint a token signed with the configured secret (demos, tests)")
    token.add_argument("--user", required=True, help="the `sub`: for sales staff their SalesRep id")
    token.add_argument("--role", action="append", required=True, help="a role; repeat for several")
    token.add_argument("--team")
    token.add_argument("--name")
    token.add_argument("--ttl", default="8h", help="lifetime, e.g. 8h, 30m (default 8h)")
    token.add_argument("--config", help="a TOML settings file (else the environment)")
    token.set_defaults(run=cmd_token)
    commands.add_parser("bench", help="run the benchmarks (`isthmus bench --help`; see bench/README.md)")
    args = parser.parse_args(argv)
    logs.configure()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
