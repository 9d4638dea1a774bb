"""What authenticating a request costs when its client sends the same bearer token again.

    python scripts/auth_bench.py [--count 20000]

`Authenticator.authenticate` with an HS256 token it has seen before, as every request after a
client's first makes it: best of seven runs of `--count`, CPU time. It uses nothing but
`Authenticator`, `AuthSettings` and `mint_token`, so the same script measures any earlier commit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.auth import Authenticator, mint_token  # noqa: E402
from server.settings import AuthSettings  # noqa: E402

SECRET = "bench-secret-0123456789-0123456789-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    auth = Authenticator(AuthSettings(jwt_secret=SECRET))
    token = mint_token(SECRET, user="R007", roles=["sales_rep"], team="North", ttl_seconds=3600)
    headers = {"authorization": f"Bearer {token}"}
    auth.authenticate(headers)
    best = float("inf")
    for _ in range(7):
        start = time.process_time()
        for _ in range(args.count):
            auth.authenticate(headers)
        best = min(best, time.process_time() - start)
    print(f"authenticate, the same HS256 token again: {best / args.count * 1e6:.2f} µs per request")


if __name__ == "__main__":
    main()
