"""Refresh the GraphiQL assets the gateway serves itself (server/static/graphiql/vendor/).

GraphiQL's page must work with no request leaving the machine, so its scripts and
stylesheets ship in the package instead of coming from a CDN. This script downloads
the pinned npm packages' tarballs from the npm registry, checks each against the
registry's `dist.integrity` (SHA-512), copies the built files the page loads and the
packages' licences, and writes MANIFEST.json: per package its version, licence,
tarball and integrity, and the SHA-256 of every file taken.

    python scripts/vendor_graphiql.py           # download and write (edit PACKAGES to move a version)
    python scripts/vendor_graphiql.py --check   # offline: the files on disk match MANIFEST.json

Only the standard library, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "server" / "static" / "graphiql" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"

# name, version, {path in the tarball: file name here}. React's UMD builds are the globals the
# UMD builds of GraphiQL and its explorer plugin expect (window.React, window.ReactDOM).
PACKAGES: list[tuple[str, str, dict[str, str]]] = [
    ("react", "18.3.1", {"umd/react.production.min.js": "react.production.min.js"}),
    ("react-dom", "18.3.1", {"umd/react-dom.production.min.js": "react-dom.production.min.js"}),
    ("graphiql", "3.9.0", {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css"}),
    (
        "@graphiql/plugin-explorer",
        "1.0.2",
        {"dist/index.umd.js": "plugin-explorer.umd.js", "dist/style.css": "plugin-explorer.css"},
    ),
]
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def check_integrity(data: bytes, integrity: str, name: str) -> None:
    """The tarball is the one the registry publishes: its SRI string (`sha512-<base64>`) matches."""
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{name}: the tarball does not match the registry's {algorithm} integrity")


def vendor() -> dict:
    VENDOR.mkdir(parents=True, exist_ok=True)
    (VENDOR / "licences").mkdir(exist_ok=True)
    entries = []
    for name, version, files in PACKAGES:
        meta = json.loads(fetch(f"{REGISTRY}/{urllib.parse.quote(name, safe='@')}/{version}"))
        tarball = fetch(meta["dist"]["tarball"])
        check_integrity(tarball, meta["dist"]["integrity"], f"{name}@{version}")
        taken: dict[str, str] = {}
        licence_file = None
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            members = {member.name.partition("/")[2]: member for member in archive.getmembers() if member.isfile()}
            for source, target in files.items():
                data = archive.extractfile(members[source]).read()  # type: ignore[union-attr]
                (VENDOR / target).write_bytes(data)
                taken[target] = sha256(data)
            found = next((members[f] for f in LICENCE_FILES if f in members), None)
            if found is not None:
                licence_file = f"licences/{name.replace('/', '__')}.txt"
                data = archive.extractfile(found).read()  # type: ignore[union-attr]
                (VENDOR / licence_file).write_bytes(data)
                taken[licence_file] = sha256(data)
        entries.append(
            {
                "name": name,
                "version": version,
                "licence": meta.get("license"),
                "licence_file": licence_file,  # null: the tarball has none; `licence` is from its package.json
                "tarball": meta["dist"]["tarball"],
                "integrity": meta["dist"]["integrity"],
                "files": taken,
            }
        )
    manifest = {"packages": entries}
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def check() -> list[str]:
    """What differs between MANIFEST.json and the files beside it (empty: all as vendored)."""
    manifest = json.loads(MANIFEST.read_text())
    problems = []
    for package in manifest["packages"]:
        for file, digest in package["files"].items():
            path = VENDOR / file
            if not path.is_file():
                problems.append(f"{file} ({package['name']}) is missing")
            elif sha256(path.read_bytes()) != digest:
                problems.append(f"{file} ({package['name']}) differs from what was vendored")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the vendored files offline")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for package in vendor()["packages"]:
        print(f"{package['name']}@{package['version']} ({package['licence']}): {', '.join(package['files'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
