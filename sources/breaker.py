"""A circuit breaker per backend: stop calling a system that keeps failing.

Closed: calls pass; it opens after `threshold` consecutive failures, or when at
least half of the last `window` calls failed (with at least `window` calls seen).
Open: calls fail at once with SOURCE_UNAVAILABLE, sparing the backend and the
request's deadline. After `cooldown` seconds one probe call is let through
(half-open): success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import time
from collections import deque

from sources import events

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


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

    def allow(self) -> bool:
        """May a call go to the backend now?"""
        if self.state == CLOSED or not self.enabled:
            return True
        if self.state == OPEN and time.monotonic() - self.opened_at >= self.cooldown:
            self._move(HALF_OPEN)
        if self.state == HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def succeeded(self) -> None:
        self._probing = False
        self._consecutive = 0
        self._recent.append(True)
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

    def _open(self) -> None:
        self.opened_at = time.monotonic()
        self._move(OPEN)

    def _move(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.transitions += 1
            events.breaker_state(self.source, state)
