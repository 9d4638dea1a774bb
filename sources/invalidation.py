"""Read-your-writes across replicas: a write's stale cache entries are dropped everywhere at once.

The replica that wrote drops the entries from its own caches, deletes them from the shared
level in Redis, then publishes a notice naming them (source, method, keys); every other
replica drops them from its in-process caches when the notice arrives (milliseconds). A
fill already under way anywhere when an entry is dropped does not store it (see
`MethodCache.forget`). A replica cut off from Redis may have missed notices: when it
subscribes again it drops every entry it holds. Without Redis there is one process and
nothing to announce.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import orjson

from sources.cache import CachePolicy
from sources.redis_link import ChannelListener, RedisLink

log = logging.getLogger("isthmus.cache")


class Invalidation:
    """Drops stale entries here and announces them to the other replicas (when Redis is configured)."""

    def __init__(self, policy: CachePolicy | None, link: RedisLink | None = None, timeout: float = 0.1) -> None:
        self.policy = policy
        self.link = link if policy is not None else None
        self.replica = uuid.uuid4().hex[:12]
        self.channel = link.key("forget") if link is not None else ""
        self._listener = (
            ChannelListener(link, self.channel, "cache notices", timeout) if self.link is not None and link else None
        )

    def drop(self, source: str, stale: Mapping[str, Sequence[Hashable]]) -> None:
        """Drop the entries from this process's caches."""
        if self.policy is None:
            return
        for method, keys in stale.items():
            cache = self.policy.method_cache(source, method)
            if cache is not None:
                cache.forget(list(keys))

    async def forget(self, source: str, stale: Mapping[str, Sequence[Hashable]]) -> None:
        """A write made these entries stale: drop them here, in Redis, and in every other replica."""
        self.drop(source, stale)
        if self.link is None or self.policy is None:
            return
        listed = {method: list(keys) for method, keys in stale.items()}
        if self.policy.shared is not None:
            await self.policy.shared.delete(source, listed)
        notice = orjson.dumps({"replica": self.replica, "source": source, "stale": listed})
        await self.link.run("forget notice", lambda client: client.publish(self.channel, notice), None)

    def apply(self, notice: dict[str, Any]) -> None:
        if notice.get("replica") == self.replica:
            return
        stale = notice.get("stale")
        if isinstance(notice.get("source"), str) and isinstance(stale, dict):
            self.drop(
                notice["source"],
                {
                    m: [k if isinstance(k, str) else tuple(k) for k in keys]
                    for m, keys in stale.items()
                    if isinstance(keys, list)
                },
            )

    def _drop_everything(self) -> None:
        if self.policy is not None:
            for cache in self.policy.budget.caches:
                cache.forget_all()

    async def listen(self) -> None:
        """Runs for the life of the process; Redis failures only pause it."""
        if self._listener is not None:
            await self._listener.listen(self.apply, resubscribed=self._drop_everything)

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()
