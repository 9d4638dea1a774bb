"""Rate limiting by cost, not by request count: a budget per principal over a time window.

Each principal has a bucket of `per_window` cost units that refills continuously
over `window` seconds. A request whose estimated cost does not fit waits: HTTP
429 with `Retry-After`, the seconds until the bucket holds enough again.

With Redis, the bucket lives there (one atomic script, Redis's clock), so a
principal's budget is one across every replica; while Redis is away, each
replica falls back to its own in-process bucket rather than refusing or
letting everything through.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from cachetools import TTLCache

from sources.redis_link import RedisLink

# KEYS[1] = the principal's bucket; ARGV = per_window, window, cost. Returns seconds to wait (0: charged).
CHARGE = """
local per, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'level', 'at')
local rate = per / window
local level = tonumber(bucket[1]) or per
local at = tonumber(bucket[2]) or now
level = math.min(per, level + math.max(0, now - at) * rate)
local wait = 0
if cost > level then
  wait = math.ceil((math.min(cost, per) - level) / rate)
else
  level = level - cost
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return wait
"""


@dataclass
class Bucket:
    level: float
    at: float


class CostBudget:
    def __init__(
        self,
        per_window: int,
        window: float,
        max_principals: int = 100_000,
        shared: RedisLink | None = None,
        name: str = "budget",
    ) -> None:
        self.name = name  # the buckets' key in Redis: one namespace per kind of budget
        self.per_window = per_window
        self.window = window
        self._buckets: TTLCache[str, Bucket] = TTLCache(maxsize=max_principals, ttl=window)
        self._shared = shared
        self._script = shared.client.register_script(CHARGE) if shared is not None else None

    async def charge(self, principal: str, cost: int) -> float | None:
        """Take `cost` from the principal's bucket; None when it fits, else seconds to wait."""
        if self.per_window <= 0:
            return None
        shared, script = self._shared, self._script
        if shared is not None and script is not None:
            key = shared.key(self.name, principal)
            wait = await shared.run(
                "cost budget", lambda _: script(keys=[key], args=[self.per_window, self.window, cost]), None
            )
            if wait is not None:
                return int(wait) or None
        return self.charge_locally(principal, cost)

    async def refund(self, principal: str, cost: int) -> None:
        """Give back part of a charge (an estimate that proved larger than what was read); the
        bucket never holds more than `per_window` once it is next charged."""
        if cost > 0:
            await self.charge(principal, -cost)

    def charge_locally(self, principal: str, cost: int) -> float | None:
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
