"""A circuit breaker per backend: stop calling a system that keeps failing.

Closed: calls pass; it opens after `threshold` consecutive failures, or when at
least half of the last `window` calls failed (with at least `window` calls seen).
Open: calls fail at once with SOURCE_UNAVAILABLE, sparing the backend and the
request's deadline. After `cooldown` seconds one probe call is let through
(half-open): success closes the breaker, failure opens it again.

One breaker serves every caller, so only failures that say something about the
backend may count; one caller's input must never close a system for all of them.
The client (sources/http.py) reports each call as one of:

- `succeeded(request)`: the backend answered 2xx/3xx; `request` (a hashable
  signature of what was asked) is remembered as one the backend can answer.
- `failed()`: the backend is unwell whatever was asked: refused or dropped
  connections, 502/503/504, 408/429 (it is overloaded or rate-limits the gateway's
  own credentials: volume, which the cost budgets bound, not content), a timeout
  that ran the backend's own full timeout.
- `suspect(request)`: an error the request itself may have provoked (HTTP 500 and
  other 5xx): a crafted cursor or search can make a backend fail while it serves
  everyone else. It counts as a failure only when that same request succeeded
  before (a request never seen to succeed proves nothing about the backend, and an
  attacker cannot make a request that works fail); otherwise it is neutral. A
  backend that fails everything still opens the circuit through the requests it
  used to answer, and through its refusals and timeouts.
- `released()`: the call says nothing about the backend: a 4xx (the caller's
  fault; it never counts), the caller's own deadline cut the wait short, the call
  was cancelled. Neutral: only a half-open probe slot is given back.

Every call that `allow()` let through must end in exactly one of these; the client
reports on any exit (cancellation included), so a cancelled probe never leaves
the breaker half-open and refusing for good.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable

from cachetools import LRUCache

from sources import events

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

# Requests seen to succeed, by hash: enough to vouch for the usual working set of a backend.
VOUCHED_REQUESTS = 10_000


class CircuitBreaker:
    def __init__(
        self, source: str, *, threshold: int = 5, window: int = 20, cooldown: float = 5.0, enabled: bool = True
    ) -> None:
        self.source = source
        self.enabled = enabled
        self.threshold = threshold
        self.cooldown = cooldown
        self.state = CLOSED
        self.opened_at = 0.0
        self.transitions = 0
        self._consecutive = 0
        self._recent: deque[bool] = deque(maxlen=window)
        self._probing = False
        self._vouched: LRUCache[int, None] = LRUCache(maxsize=VOUCHED_REQUESTS)

    def allow(self) -> bool:
        """May a call go to the backend now? A True must be answered by one of the reports."""
        if self.state == CLOSED or not self.enabled:
            return True
        if self.state == OPEN and time.monotonic() - self.opened_at >= self.cooldown:
            self._move(HALF_OPEN)
        if self.state == HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    @property
    def refusing(self) -> bool:
        """Whether calls are turned away now: open, or half-open with its one probe out."""
        return self.enabled and (self.state == OPEN or (self.state == HALF_OPEN and self._probing))

    def succeeded(self, request: Hashable | None = None) -> None:
        self._probing = False
        self._consecutive = 0
        self._recent.append(True)
        if request is not None:
            self._vouched[hash(request)] = None
        if self.state != CLOSED:
            self._recent.clear()
            self._move(CLOSED)

    def failed(self) -> None:
        self._probing = False
        self._consecutive += 1
        self._recent.append(False)
        if self.state == HALF_OPEN:
            self._open()
        elif self.state == CLOSED and (
            self._consecutive >= self.threshold
            or (len(self._recent) == self._recent.maxlen and self._recent.count(False) * 2 >= len(self._recent))
        ):
            self._open()

    def suspect(self, request: Hashable | None) -> None:
        """A failure `request` may have provoked: it counts only if that request succeeded before."""
        if request is not None and hash(request) in self._vouched:
            self.failed()
        else:
            self.released()

    def released(self) -> None:
        """The call ended without a word on the backend's health: free the probe slot, count nothing."""
        self._probing = False

    def _open(self) -> None:
        self.opened_at = time.monotonic()
        self._move(OPEN)

    def _move(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.transitions += 1
            events.breaker_state(self.source, state)
