"""How fresh the data behind one request must be, and how fresh it was.

A request may ask for fresher data than the caches' TTLs (`Cache-Control:
max-age=N` / `no-cache`, or `@fresh(maxAge:)` on a field); sources read the
requirement here and report the age of what they served, per source, so the
response can say how old its oldest data is and whether any of it was stale.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator


@dataclass
class Report:
    """Per source: the age in seconds of the oldest data served, and whether any was stale."""

    ages: dict[str, float] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)

    def note(self, source: str, age: float, stale: bool = False) -> None:
        if age > self.ages.get(source, -1.0):
            self.ages[source] = age
        if stale:
            self.stale.add(source)

    def as_json(self) -> dict[str, Any]:
        return {
            source: {"age": round(age, 3), "stale": source in self.stale}
            for source, age in sorted(self.ages.items())
        }


_max_age: ContextVar[float | None] = ContextVar("isthmus_max_age", default=None)
_report: ContextVar[Report | None] = ContextVar("isthmus_freshness", default=None)


def max_age() -> float | None:
    """The oldest data (seconds) the current request accepts; None: whatever the TTL allows."""
    return _max_age.get()


def report() -> Report | None:
    return _report.get()


@contextmanager
def requiring(seconds: float | None) -> Iterator[None]:
    token = _max_age.set(seconds)
    try:
        yield
    finally:
        _max_age.reset(token)


@contextmanager
def reporting() -> Iterator[Report]:
    collected = Report()
    token = _report.set(collected)
    try:
        yield collected
    finally:
        _report.reset(token)
