"""A local Tryton 8.2 as the demo's real ERP, seeded to join up with the demo CRM, CLM and DESK.

    from demo.tryton import start_tryton
    with start_tryton() as tryton:          # install (first time), create, seed, start
        tryton.settings()                   # {"url", "database", "user", "password"}: the gateway's `tryton`
        tryton.seed_ids                     # what the seed created (ids by name)

The first start installs Tryton into its own venv (`.tryton/venv`) and builds a
modules-activated database that later starts copy; every start seeds afresh, because the
seed is relative to today. `python -m demo.tryton up` runs one from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from demo.tryton.runtime import (
    DATABASE,
    Instance,
    TrytonServer,
    TrytonUnavailable,
    home_dir,
    prepare,
    rpc,
    seed,
)

__all__ = ["DATABASE", "Instance", "TrytonServer", "TrytonUnavailable", "home_dir", "rpc", "start_tryton"]


def start_tryton(
    *,
    home: str | os.PathLike | None = None,
    directory: str | os.PathLike | None = None,
    port: int | None = None,
    spec: dict[str, Any] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> TrytonServer:
    """Install if needed, copy the cached database into `directory`, seed it, start trytond.

    `directory` defaults to `<home>/run` (one demo at a time); tests pass a temporary one.
    `spec` defaults to the one built from the demo data (see `spec.py`).
    Raises TrytonUnavailable when Tryton cannot be installed (no package index).
    """
    from demo.tryton.spec import build_spec

    root = home_dir(home)
    instance = prepare(root, Path(directory) if directory else root / "run", port)
    ids = seed(instance, spec if spec is not None else build_spec(data_dir))
    server = TrytonServer(instance)
    server.seed_ids = ids
    return server
