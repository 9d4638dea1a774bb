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
