"""How many bytes of backend answers a cache fill received: what the cache weighs its entries by.

The HTTP client adds the length of each answer to the count of the fill it runs in. The
count is a context variable, so concurrent fills count apart (a fill is a task of its own),
and the tasks a fill starts (chunks of one batch) add to the same count; outside a fill
nothing is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_count: ContextVar[list[int] | None] = ContextVar("isthmus_received", default=None)


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the answers' bytes received within the block: `[total]` once it ends."""
    total = [0]
    token = _count.set(total)
    try:
        yield total
    finally:
        _count.reset(token)


def add(size: int) -> None:
    total = _count.get()
    if total is not None:
        total[0] += size
