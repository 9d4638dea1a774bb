"""A per-request record of backend calls, kept only when the request asks for it.

Like the deadline, it rides in a context variable: sources add to it without
knowing which request they serve, and it costs nothing when nobody listens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Call:
    source: str
    method: str
    keys: int
    start_ms: float
    duration_ms: float
    outcome: str
    cache: str = "miss"


class Trace:
    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.calls: list[Call] = []

    def record(self, source: str, method: str, keys: int, started: float, outcome: str, cache: str = "miss") -> None:
        now = time.perf_counter()
        self.calls.append(
            Call(
                source,
                method,
                keys,
                round((started - self.origin) * 1000, 3),
                round((now - started) * 1000, 3),
                outcome,
                cache,
            )
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "durationMs": round((time.perf_counter() - self.origin) * 1000, 3),
            "calls": [asdict(call) for call in sorted(self.calls, key=lambda call: call.start_ms)],
        }


_current: ContextVar[Trace | None] = ContextVar("isthmus_trace", default=None)


def current() -> Trace | None:
    return _current.get()


@contextmanager
def recording() -> Iterator[Trace]:
    trace = Trace()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)
