"""How fresh the data behind one request must be, and how fresh it was.

A request may ask for fresher data than the caches' TTLs (`Cache-Control:
max-age=N` / `no-cache`, or `@fresh(maxAge:)` on a field); sources read the
requirement here and report the age of what they served, per source, so the
response can say how old its oldest data is and whether any of it was stale.

Reads straight from the system of record are rationed per caller (server/fresh_reads.py):
a request past its allowance runs `rationed()`, where an ask for data 0 seconds old
(`no-cache`, `@fresh(maxAge: 0)`) is not honoured and the caches' TTLs apply; the
answer states the ages it got. An ask for N > 0 seconds stays honoured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


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
            source: {"age": round(age, 3), "stale": source in self.stale} for source, age in sorted(self.ages.items())
        }


_max_age: ContextVar[float | None] = ContextVar("isthmus_max_age", default=None)
_subtree: ContextVar[float | None] = ContextVar("isthmus_max_age_subtree", default=None)
_per_key: ContextVar[dict[Any, float] | None] = ContextVar("isthmus_max_age_per_key", default=None)
_report: ContextVar[Report | None] = ContextVar("isthmus_freshness", default=None)
_rationed: ContextVar[bool] = ContextVar("isthmus_fresh_rationed", default=False)


def max_age() -> float | None:
    """The oldest data (seconds) the current request accepts; None: whatever the TTL allows."""
    return _max_age.get()


def subtree_max_age() -> float | None:
    """The requirement of the `@fresh` field being resolved, if any (read when a key is loaded)."""
    return _subtree.get()


@contextmanager
def subtree(seconds: float) -> Iterator[None]:
    """Everything loaded inside must be at most `seconds` old (a `@fresh(maxAge:)` field)."""
    if seconds <= 0 and _rationed.get():
        yield
        return
    current = _subtree.get()
    token = _subtree.set(seconds if current is None else min(current, seconds))
    try:
        yield
    finally:
        _subtree.reset(token)


def limit(ttl: float, key: Any) -> float:
    """How old a cached entry for `key` may be: the TTL, or less when the request asks."""
    result = ttl
    whole = _max_age.get()
    if whole is not None:
        result = min(result, whole)
    per_key = _per_key.get()
    if per_key:
        wanted = per_key.get(key)
        if wanted is not None:
            result = min(result, wanted)
    return result


@contextmanager
def requiring_keys(requirements: dict[Any, float] | None) -> Iterator[None]:
    """Fresher data for some keys of one batch (from `@fresh` on the fields that asked)."""
    token = _per_key.set(requirements or None)
    try:
        yield
    finally:
        _per_key.reset(token)


@contextmanager
def rationed() -> Iterator[None]:
    """Asks for data 0 seconds old are not honoured inside: the caller's fresh reads are spent."""
    token = _rationed.set(True)
    try:
        yield
    finally:
        _rationed.reset(token)


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
