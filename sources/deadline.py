"""The current request's deadline, carried in a context variable.

Sources know nothing of requests, but every wait they make must end by the
request's deadline; a context variable lets the gateway set it once per request
without threading it through every call.

Work that outlives the request that started it (a cache fill other requests
share) runs `detached()`: bounded by each backend's own timeout, never by one
caller's deadline; each request applies its own deadline while it waits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("isthmus_deadline", default=None)


@contextmanager
def bound(seconds: float) -> Iterator[float]:
    """Every backend wait inside this block ends within `seconds` from now."""
    at = time.monotonic() + seconds
    token = _deadline.set(at)
    try:
        yield at
    finally:
        _deadline.reset(token)


@contextmanager
def detached() -> Iterator[None]:
    """No request's deadline inside this block: every wait is bounded by its own cap alone."""
    token = _deadline.set(None)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining(cap: float) -> float:
    """Seconds left for one wait: the smaller of `cap` and what the deadline allows."""
    at = _deadline.get()
    if at is None:
        return cap
    return min(cap, at - time.monotonic())
