"""`python -m demo.tryton up [--port 8010]`: a seeded local Tryton until Ctrl-C (see `__init__`)."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from demo.tryton import TrytonUnavailable, start_tryton


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.tryton", description="A local, seeded Tryton 8.2.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="install (first time), seed and start Tryton until Ctrl-C")
    up.add_argument("--port", type=int, default=8010)
    args = parser.parse_args(argv)
    try:
        server = start_tryton(port=args.port)
    except TrytonUnavailable as exc:
        print(f"Tryton cannot be installed here: {exc}", file=sys.stderr)
        return 2
    with server:
        print(json.dumps({**server.settings(), "pid": server.pid, "log": str(server.log_file)}), flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
