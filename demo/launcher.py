"""Start the demo systems as child processes, for `serve-all` and for the
gateway's tests and benchmarks:

    with start_systems({"crm": 0, "erp": 0, "clm": 0, "desk": 0}) as systems:
        systems.urls["erp"]  # "http://127.0.0.1:41234"

Port 0 picks a free port. `faults` is either one fault setting for every
system ({"latency_ms": 20}) or one per system ({"erp": {"down": true}}).
`events=(gateway_url, secret)` has every system send its change events there, signed with the
secret (handed over in the environment, not on the command line where `ps` shows it).
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from demo.generate import REPO_ROOT, SYSTEMS, ensure_data

DEFAULT_PORTS = {"crm": 8101, "erp": 8102, "clm": 8103, "desk": 8104, "srm": 8105, "mes": 8106}
EVENTS_URL, EVENTS_SECRET = "DEMO_EVENTS_URL", "DEMO_EVENTS_SECRET"


class DemoSystems:
    """Running systems: `.urls` (system -> base URL), `.stop()`; also a context manager."""

    def __init__(self, processes: dict[str, subprocess.Popen], urls: dict[str, str], data_dir):
        self.processes = processes
        self.urls = urls
        self.data_dir = data_dir

    def wait_ready(self, timeout: float) -> None:
        """Poll `/_stats` of every system until all answer; fail early if one exits."""
        deadline = time.monotonic() + timeout
        waiting = dict(self.urls)
        while waiting:
            for system, url in list(waiting.items()):
                code = self.processes[system].poll()
                if code is not None:
                    raise RuntimeError(f"demo {system} exited with code {code} before answering")
                try:
                    with urllib.request.urlopen(f"{url}/_stats", timeout=1):
                        del waiting[system]
                except OSError:
                    pass
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"demo systems not ready after {timeout:.0f} s: {', '.join(waiting)}")
            if waiting:
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> DemoSystems:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_systems(ports: dict[str, int] | None = None, data_dir=None, faults: dict | None = None,
                  host: str = "127.0.0.1", timeout: float = 60.0,
                  events: tuple[str, str] | None = None) -> DemoSystems:
    """Generate the data if needed, spawn one process per system and wait until all answer."""
    directory = ensure_data(data_dir)  # once here, so the children only read
    wanted = ports if ports is not None else DEFAULT_PORTS
    per_system = bool(faults) and set(faults) <= set(SYSTEMS)
    processes, urls = {}, {}
    environment = {**os.environ, EVENTS_URL: events[0], EVENTS_SECRET: events[1]} if events else None
    for system in SYSTEMS:
        if system not in wanted:
            continue
        port = wanted[system] or free_port(host)
        command = [sys.executable, "-m", "demo", "serve", system, "--host", host, "--port", str(port),
                   "--data-dir", str(directory)]
        system_faults = faults.get(system) if per_system else faults
        if system_faults:
            command += ["--faults", json.dumps(system_faults)]
        processes[system] = subprocess.Popen(command, cwd=REPO_ROOT, env=environment)
        urls[system] = f"http://{host}:{port}"
    systems = DemoSystems(processes, urls, directory)
    atexit.register(systems.stop)  # no server outlives an interpreter that forgot to stop them
    try:
        systems.wait_ready(timeout)
    except BaseException:
        systems.stop()
        raise
    return systems
