"""Accepted change events: what they made stale dropped everywhere, the subscriptions told everywhere.

`SeenEvents` remembers the ids of events taken (bounded, in this process; claimed in Redis
with `SET NX` when it is configured, so an event is taken once across replicas).
`ChangeEvents.accept` drops exactly the entries a change made stale (`sources.changes`), here,
in Redis and in every replica (`Invalidation.forget`, as a write does), and tells the
subscriptions: this process's (`resolvers.live.Live`) and, through a Redis channel, every
other replica's, which drop the same entries again before they look (the forget notice and
this one travel on two channels, not ordered with each other).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import orjson
from cachetools import TTLCache

from resolvers.live import Live
from sources.changes import Change
from sources.invalidation import Invalidation
from sources.redis_link import ChannelListener, RedisLink

log = logging.getLogger("isthmus.events")


class SeenEvents:
    """Event ids taken: in this process (bounded) and, with Redis, across replicas."""

    def __init__(self, link: RedisLink | None, keep: float, max_ids: int) -> None:
        self.link = link
        self.keep = keep
        self._local: TTLCache[str, bool] = TTLCache(max_ids, keep)

    async def claim(self, system: str, event_id: str) -> bool:
        """True the first time an id is seen (here or, with Redis, in any replica)."""
        key = f"{system}:{event_id}"
        if key in self._local:
            return False
        self._local[key] = True
        if self.link is None:
            return True
        name = self.link.key("event", key)
        claimed = await self.link.run(
            "event id", lambda client: client.set(name, b"1", nx=True, ex=max(1, int(self.keep))), True
        )
        return bool(claimed)


class ChangeEvents:
    """What an accepted change sets off: the stale entries dropped everywhere, the subscriptions told everywhere."""

    def __init__(self, invalidation: Invalidation, live: Live, link: RedisLink | None, timeout: float = 0.1) -> None:
        self.invalidation = invalidation
        self.live = live
        self.link = link
        self.channel = link.key("changes") if link is not None else ""
        self.replica = invalidation.replica
        self._listener = ChannelListener(link, self.channel, "change notices", timeout) if link else None

    async def accept(self, change: Change) -> None:
        for source, stale in change.stale().items():
            await self.invalidation.forget(source, stale)
        self.live.notify(change)
        if self.link is not None:
            notice = orjson.dumps({"replica": self.replica, "change": msgspec.to_builtins(change)})
            await self.link.run("change notice", lambda client: client.publish(self.channel, notice), None)

    def apply(self, notice: dict[str, Any]) -> None:
        """Another replica's change: drop its stale entries here (its forget notice may come later), then tell ours."""
        if notice.get("replica") == self.replica:
            return
        change = msgspec.convert(notice["change"], Change)
        for source, stale in change.stale().items():
            self.invalidation.drop(source, stale)
        self.live.notify(change)

    async def listen(self) -> None:
        """Runs for the life of the process; Redis failures only pause it."""
        if self._listener is not None:
            await self._listener.listen(self.apply, malformed=(KeyError, msgspec.ValidationError))

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()
