"""A local Tryton 8.2 for the demo and the tests: install, create, seed, start, stop.

Layout under the Tryton home (`.tryton/` at the repo root, or $ISTHMUS_TRYTON_HOME):

    venv/                      Tryton's own virtualenv (never the gateway's)
    cache/modules-<key>.sqlite a database with the modules activated and nothing else;
                               it does not depend on the date, so it is reused between runs
    run/                       the demo's working database, config and log

Each run copies the cached database, seeds it relative to today (the seed ages: overdue
invoices and planned moves depend on the date), then starts `trytond -d <db>` on a
loopback port. A seeded database is never cached or committed.

Everything here runs in the gateway's Python; the seed itself runs in Tryton's venv
(`seed_tryton.py`, with proteus, in-process, while no server uses the file).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_SCRIPT = Path(__file__).resolve().parent / "seed_tryton.py"
DATABASE = "demo"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"
VERSION = "8.2"

MODULES = (
    "party", "company", "currency", "country", "product", "stock", "sale", "sale_opportunity",
    "sale_complaint", "account", "account_invoice", "account_credit_limit", "sale_credit_limit",
    "purchase", "production", "account_product",
)
REQUIREMENTS = (
    f"trytond=={VERSION}.*",
    *(f"trytond-{module.replace('_', '-')}=={VERSION}.*" for module in MODULES),
    f"proteus=={VERSION}.*",
)
# The modules-activated database depends on exactly this; a change rebuilds it.
CACHE_KEY = hashlib.sha256(" ".join(REQUIREMENTS + MODULES).encode()).hexdigest()[:12]


class TrytonUnavailable(RuntimeError):
    """Tryton cannot be installed here (the package index is out of reach)."""


def home_dir(home: str | os.PathLike | None = None) -> Path:
    chosen = home or os.environ.get("ISTHMUS_TRYTON_HOME") or REPO_ROOT / ".tryton"
    path = Path(chosen).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(home: Path) -> Iterator[None]:
    """One installer at a time per home (concurrent test runs share the venv and the cache)."""
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def log(message: str) -> None:
    print(f"[tryton] {message}", file=sys.stderr, flush=True)


# --- install ---------------------------------------------------------------------------------


def venv_python(home: Path) -> Path:
    return home / "venv" / "bin" / "python"


def ensure_venv(home: Path) -> Path:
    """Tryton's venv with the pinned modules, from the package index on first use (~10-20 s)."""
    python = venv_python(home)
    stamp = home / "venv" / ".isthmus-installed"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    with locked(home):
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        started = time.perf_counter()
        log(f"installing Tryton {VERSION} into {home / 'venv'} ...")
        shutil.rmtree(home / "venv", ignore_errors=True)
        # No pip inside the new venv (ensurepip alone takes ~10 s): the gateway's pip installs into it.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
        command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                   "--disable-pip-version-check", *REQUIREMENTS]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 and "no such option: --python" in done.stderr:
            shutil.rmtree(home / "venv", ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
            command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS]
            done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
            if _looks_offline(done.stderr + done.stdout):
                raise TrytonUnavailable(f"pip could not reach the package index for {REQUIREMENTS[0]}: {tail}")
            raise RuntimeError(f"installing Tryton failed (exit {done.returncode}):\n{tail}")
        stamp.write_text(wanted)
        log(f"installed in {time.perf_counter() - started:.1f} s")
    return python


def _looks_offline(output: str) -> bool:
    """pip failed because no index answered: a connection error, or an index that lists no
    version at all of a package that does exist ("from versions: none"). A version that is
    missing, or a failing build, is a real failure and is reported as one."""
    markers = ("(from versions: none)", "NewConnectionError", "Failed to establish a new connection",
               "Temporary failure in name resolution", "Network is unreachable", "ConnectionError",
               "ReadTimeoutError", "ProxyError")
    return any(marker in output for marker in markers)


# --- configuration and databases -------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """One Tryton database directory with its config: what `trytond -c` and the seed need."""

    home: Path
    directory: Path
    port: int

    @property
    def config(self) -> Path:
        return self.directory / "trytond.conf"

    @property
    def db_dir(self) -> Path:
        return self.directory / "db"

    @property
    def db_file(self) -> Path:
        return self.db_dir / f"{DATABASE}.sqlite"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passfile(self) -> Path:
        return self.directory / "admin.pass"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRYTON", "PYTHON"))}
        env["TRYTONPASSFILE"] = str(self.passfile)
        return env

    def write_config(self) -> None:
        self.db_dir.mkdir(parents=True, exist_ok=True)
        self.passfile.write_text(ADMIN_PASSWORD + "\n")
        self.config.write_text(
            "[database]\nuri = sqlite://\n"
            f"path = {self.db_dir}\nlanguage = en\n\n"
            f"[web]\nlisten = 127.0.0.1:{self.port}\n\n"
            "[session]\ntimeout = 3600\n"
        )


def free_port(preferred: int = 0) -> int:
    """`preferred` when it is free on the loopback interface, else any free port."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port")  # pragma: no cover


def checkpoint(db_file: Path) -> None:
    """Fold the WAL into the main file so a plain copy has every write."""
    con = sqlite3.connect(db_file)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def ensure_modules_db(home: Path, python: Path) -> Path:
    """The cached database with the modules activated (~20 s the first time, then a copy)."""
    cached = home / "cache" / f"modules-{CACHE_KEY}.sqlite"
    if cached.exists():
        return cached
    with locked(home):
        if cached.exists():
            return cached
        started = time.perf_counter()
        log("creating the database and activating the modules (first run only) ...")
        work = Path(home / "cache" / f"build-{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        instance = Instance(home, work, free_port())
        instance.write_config()
        instance.db_file.touch()  # the SQLite backend refuses a missing file
        admin = str(python.parent / "trytond-admin")
        base = [admin, "-c", str(instance.config), "-d", DATABASE]
        # Two calls: creating, then activating, is faster than both in one.
        for extra in (["--all", "--email", "admin@example.com"], ["-u", *MODULES, "--activate-dependencies"]):
            done = subprocess.run(base + extra, env=instance.env(), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"trytond-admin {' '.join(extra[:2])} failed:\n{done.stderr[-2000:]}")
        checkpoint(instance.db_file)
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(instance.db_file, cached.with_suffix(".tmp"))
        os.replace(cached.with_suffix(".tmp"), cached)
        shutil.rmtree(work, ignore_errors=True)
        log(f"modules activated in {time.perf_counter() - started:.1f} s (cached as {cached.name})")
    return cached


def prepare(home: Path, directory: Path, port: int | None = None) -> Instance:
    """A fresh copy of the modules-activated database in `directory`, with its config."""
    python = ensure_venv(home)
    cached = ensure_modules_db(home, python)
    shutil.rmtree(directory / "db", ignore_errors=True)
    instance = Instance(home, directory, port or free_port())
    instance.write_config()
    shutil.copyfile(cached, instance.db_file)
    return instance


def seed(instance: Instance, spec: dict[str, Any]) -> dict[str, Any]:
    """Seed the (stopped) database from `spec` in-process with proteus; returns the seeded ids."""
    started = time.perf_counter()
    spec_file = instance.directory / "spec.json"
    ids_file = instance.directory / "seed_ids.json"
    spec_file.write_text(json.dumps(spec, indent=1))
    ids_file.unlink(missing_ok=True)
    done = subprocess.run(
        [str(venv_python(instance.home)), str(SEED_SCRIPT), "--config", str(instance.config),
         "--database", DATABASE, "--spec", str(spec_file), "--out", str(ids_file)],
        env=instance.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding Tryton failed:\n{done.stderr[-4000:]}")
    checkpoint(instance.db_file)
    log(f"seeded in {time.perf_counter() - started:.1f} s")
    return json.loads(ids_file.read_text())


# --- the server ------------------------------------------------------------------------------


class TrytonServer:
    """`trytond -d demo` on a loopback port; `stop()` waits until the process has exited."""

    def __init__(self, instance: Instance, *, timeout: float = 30.0) -> None:
        self.instance = instance
        self.url = instance.url
        self.database = DATABASE
        self.user = ADMIN_LOGIN
        self.password = ADMIN_PASSWORD
        self.log_file = instance.directory / "server.log"
        self.seed_ids: dict[str, Any] = {}
        trytond = str(venv_python(instance.home).parent / "trytond")
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                [trytond, "-c", str(instance.config), "-d", DATABASE],
                env=instance.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches us, not trytond directly
            )
        atexit.register(self.stop)  # no trytond outlives an interpreter that forgot to stop it
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def settings(self) -> dict[str, str]:
        """The gateway's `tryton` settings for this server."""
        return {"url": self.url, "database": self.database, "user": self.user, "password": self.password}

    def _wait_ready(self, timeout: float) -> None:
        until = time.monotonic() + timeout
        body = json.dumps({"id": 0, "method": "common.db.list", "params": []}).encode()
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"trytond exited with {self.process.returncode}; see {self.log_file}")
            request = urllib.request.Request(f"{self.url}/rpc/", body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=1) as response:
                    if DATABASE in json.loads(response.read()).get("result", []):
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"trytond did not answer within {timeout:.0f} s; see {self.log_file}")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then wait for the PID to exit (about 2 s); SIGKILL if it will not."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "TrytonServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rpc(url: str, method: str, params: list, *, database: str | None = None, session: str | None = None,
        timeout: float = 30.0) -> Any:
    """One plain JSON-RPC call (for readiness checks and scripts; the gateway has its own client)."""
    path = f"/{database}/rpc/" if database else "/rpc/"
    headers = {"Content-Type": "application/json"}
    if session:
        headers["Authorization"] = f"Session {session}"
    request = urllib.request.Request(url + path, json.dumps({"id": 1, "method": method, "params": params}).encode(),
                                     headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]
