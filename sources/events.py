"""What sources report about themselves, for whoever listens (metrics, logs).

Sources must not depend on a metrics library; they tell a listener, and the
application decides what to do with it. With no listener, reporting is free.
"""

from __future__ import annotations

from typing import Protocol


class Listener(Protocol):
    def backend_call(self, source: str, method: str, keys: int, seconds: float, outcome: str) -> None: ...

    def cache_event(self, source: str, method: str, event: str, count: int) -> None: ...

    def cache_size(self, source: str, method: str, entries: int, size: int) -> None: ...

    def breaker_state(self, source: str, state: str) -> None: ...

    def redis_state(self, up: bool) -> None: ...

    def budget_wait(self, source: str, klass: str, seconds: float) -> None: ...

    def budget_shed(self, source: str, klass: str) -> None: ...

    def budget_limit(self, source: str, limit: int) -> None: ...


_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    _listeners.append(listener)


def backend_call(source: str, method: str, keys: int, seconds: float, outcome: str) -> None:
    for listener in _listeners:
        listener.backend_call(source, method, keys, seconds, outcome)


def cache_event(source: str, method: str, event: str, count: int = 1) -> None:
    for listener in _listeners:
        listener.cache_event(source, method, event, count)


def cache_size(source: str, method: str, entries: int, size: int) -> None:
    """A method cache's entries and their estimated resident bytes."""
    for listener in _listeners:
        listener.cache_size(source, method, entries, size)


def breaker_state(source: str, state: str) -> None:
    for listener in _listeners:
        listener.breaker_state(source, state)


def redis_state(up: bool) -> None:
    for listener in _listeners:
        listener.redis_state(up)


def budget_wait(source: str, klass: str, seconds: float) -> None:
    """A call of priority class `klass` was let through to `source` after `seconds` in its queue (often 0)."""
    for listener in _listeners:
        listener.budget_wait(source, klass, seconds)


def budget_shed(source: str, klass: str) -> None:
    """A call waited as long as its class may and was not sent."""
    for listener in _listeners:
        listener.budget_shed(source, klass)


def budget_limit(source: str, limit: int) -> None:
    """The adaptive concurrency limit of `source` changed."""
    for listener in _listeners:
        listener.budget_limit(source, limit)
