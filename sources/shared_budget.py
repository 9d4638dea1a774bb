"""A backend's budget as one for every replica, in Redis.

Each replica queues and orders its own calls (sources/admission.py); Redis grants the slots
and tokens all replicas share, in one script that takes both or neither:

- slots: a sorted set of leases per backend, scored by when each expires, and one per
  priority class for the class's share; a replica that dies holding leases loses them after
  `lease` seconds (longer than any attempt: the backend's timeout and a margin);
- tokens: a bucket refilled at `rate` a second on Redis's clock (one second's worth at most).

A call that finds no slot asks again after a few milliseconds, one that finds no token when
the next is due, until its wait is over (`TimeoutError`: shed). Redis away or failing is
`None`: the replica goes on within its own share of the budget (sources/admission.py), never
refusing for want of Redis and never letting everything through.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid

from sources.redis_link import RedisLink

# Seconds between asks for a slot while the shared budget is spent (jittered).
POLL = (0.002, 0.008)

# KEYS: leases, the class's leases, the token bucket.
# ARGV: limit, the class's cap, lease id, lease seconds, rate (0: none).
# Returns 0 (granted), -1 (no slot) or the milliseconds until the next token.
ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) or redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return -1
end
local lease = tonumber(ARGV[4])
local rate = tonumber(ARGV[5])
if rate > 0 then
  local burst = math.max(1, rate)
  local bucket = redis.call('HMGET', KEYS[3], 'level', 'at')
  local level = tonumber(bucket[1]) or burst
  local at = tonumber(bucket[2]) or now
  level = math.min(burst, level + math.max(0, now - at) * rate)
  local wait = 0
  if level < 1 then
    wait = math.max(1, math.ceil((1 - level) / rate * 1000))
  else
    level = level - 1
  end
  redis.call('HSET', KEYS[3], 'level', tostring(level), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[3], math.ceil(burst / rate) + 1)
  if wait > 0 then
    return wait
  end
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('ZADD', KEYS[2], now + lease, ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 1)
redis.call('EXPIRE', KEYS[2], math.ceil(lease) + 1)
return 0
"""


class SharedBudget:
    """The slots and tokens of one backend's budget, in Redis, for `replicas` replicas."""

    def __init__(self, link: RedisLink, source: str, *, rate: float, lease: float, replicas: int) -> None:
        self.link = link
        self.source = source
        self.rate = rate
        self.lease = lease
        self.replicas = replicas
        self._script = link.client.register_script(ACQUIRE)

    @property
    def up(self) -> bool:
        return self.link.up

    def _keys(self, klass: str) -> list[str]:
        return [
            self.link.key("backend", self.source, "leases"),
            self.link.key("backend", self.source, "leases", klass),
            self.link.key("backend", self.source, "tokens"),
        ]

    async def acquire(self, klass: str, limit: int, cap: int, wait: float) -> str | None:
        """A lease on one of `limit` slots (at most `cap` for the class) and a token; None when Redis
        cannot be asked; TimeoutError when none came within `wait` seconds."""
        lease = f"{klass}:{uuid.uuid4().hex}"
        keys = self._keys(klass)
        args: list[str | int | float] = [limit, cap, lease, self.lease, self.rate]
        until = time.monotonic() + wait
        while True:
            answer = await self.link.run("backend budget", lambda _: self._script(keys=keys, args=args), None)
            if answer is None:
                return None
            answer = int(answer)
            if answer == 0:
                return lease
            pause = random.uniform(*POLL) if answer < 0 else answer / 1000
            left = until - time.monotonic()
            if left <= 0 or (answer > 0 and pause > left):
                raise TimeoutError
            await asyncio.sleep(min(pause, left))

    async def release(self, lease: str) -> None:
        """Give a slot back (if Redis is away the lease runs out by itself)."""
        klass = lease.partition(":")[0]
        leases, of_class, _ = self._keys(klass)

        async def remove(client: object) -> None:
            async with self.link.client.pipeline(transaction=False) as pipe:
                pipe.zrem(leases, lease)
                pipe.zrem(of_class, lease)
                await pipe.execute()

        await self.link.run("backend budget", remove, None)


def lease_seconds(timeout: float) -> float:
    """How long a lease holds if its replica dies: longer than any attempt can take."""
    return math.ceil(timeout) + 1.0
