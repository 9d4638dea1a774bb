"""Rate limiting by cost, not by request count: a budget per principal over a time window.

Each principal has a bucket of `per_window` cost units that refills continuously
over `window` seconds. A request whose estimated cost does not fit waits: HTTP
429 with `Retry-After`, the seconds until the bucket holds enough again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from cachetools import TTLCache


@dataclass
class Bucket:
    level: float
    at: float


class CostBudget:
    def __init__(self, per_window: int, window: float, max_principals: int = 100_000) -> None:
        self.per_window = per_window
        self.window = window
        self._buckets: TTLCache[str, Bucket] = TTLCache(maxsize=max_principals, ttl=window)

    def charge(self, principal: str, cost: int) -> float | None:
        """Take `cost` from the principal's bucket; None when it fits, else seconds to wait."""
        if self.per_window <= 0:
            return None
        now = time.monotonic()
        rate = self.per_window / self.window
        bucket = self._buckets.get(principal) or Bucket(float(self.per_window), now)
        bucket.level = min(float(self.per_window), bucket.level + (now - bucket.at) * rate)
        bucket.at = now
        self._buckets[principal] = bucket
        if cost > bucket.level:
            return math.ceil((min(cost, self.per_window) - bucket.level) / rate)
        bucket.level -= cost
        return None
