"""Command line: `python -m demo generate | serve SYSTEM | serve-all`."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time

from demo.generate import SYSTEMS, ensure_data, resolve_data_dir
from demo.launcher import DEFAULT_PORTS, EVENTS_SECRET, EVENTS_URL, start_systems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description="The Isthmus demo systems of record.")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="(re)generate the SQLite files of every system")
    generate.add_argument("--data-dir")
    serve = commands.add_parser("serve", help="serve one system")
    serve.add_argument("system", choices=SYSTEMS)
    serve.add_argument("--port", type=int)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--data-dir")
    serve.add_argument("--faults", type=json.loads, help='e.g. \'{"latency_ms": 20}\'')
    serve_all = commands.add_parser("serve-all", help="generate, then serve all six on 8101-8106")
    serve_all.add_argument("--data-dir")
    args = parser.parse_args(argv)

    if args.command == "generate":
        started = time.perf_counter()
        directory = ensure_data(args.data_dir, force=True)
        print(f"generated {directory} in {time.perf_counter() - started:.1f} s")
    elif args.command == "serve":
        import uvicorn

        # Where change events go (the gateway) and their signing secret: from the launcher's environment.
        url, secret = os.environ.get(EVENTS_URL), os.environ.get(EVENTS_SECRET)
        events = (url, secret) if url and secret else None
        app = importlib.import_module(f"demo.{args.system}").create_app(args.data_dir, args.faults, events)
        port = args.port or DEFAULT_PORTS[args.system]
        uvicorn.run(app, host=args.host, port=port, log_level="warning", access_log=False)
    else:
        return serve_everything(args.data_dir)
    return 0


def serve_everything(data_dir) -> int:
    """Run until Ctrl-C or SIGTERM, or until one system dies; always stop the others."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"data: {resolve_data_dir(data_dir)}", flush=True)
    systems = start_systems(data_dir=data_dir)
    try:
        for system, url in systems.urls.items():
            print(f"{system:5} {url}  ({url}/docs)", flush=True)
        while all(p.poll() is None for p in systems.processes.values()):
            time.sleep(0.5)
        print("a demo system exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        systems.stop()


if __name__ == "__main__":
    sys.exit(main())
