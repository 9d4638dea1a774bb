"""Start the gateway as a real server process on a free port, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_env(settings: dict[str, Any], prefix: str = "ISTHMUS_") -> dict[str, str]:
    """Flatten nested settings into ISTHMUS_A__B=value environment variables."""
    env: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(value, dict):
            env.update(settings_env(value, f"{name}__"))
        elif isinstance(value, list):
            env[name] = json.dumps(value)  # pydantic-settings reads complex values as JSON
        else:
            env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class GatewayProcess:
    """`isthmus serve` in a child process; `with GatewayProcess(...) as gw: gw.url`."""

    def __init__(self, backends: dict[str, str], workers: int = 1, *, output: IO[bytes] | None = None,
                 **settings: Any) -> None:
        """`output`: a file for the gateway's stdout and stderr (default: inherited)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        merged = {name: {"url": url} for name, url in backends.items()}
        for key, value in settings.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        env = {**os.environ, **settings_env(merged)}
        env.pop("ISTHMUS_CONFIG", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
        )
        try:
            self._wait_ready()
        except BaseException:  # also Ctrl-C while waiting: no `with` block exists yet to stop it
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 30.0) -> None:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the gateway did not become ready")

    def stop(self) -> None:
        stop(self.process)

    def __enter__(self) -> "GatewayProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
