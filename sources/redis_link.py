"""Redis: the state replicas share. Optional, and never in the way of an answer.

Every use of Redis goes through `RedisLink.run`, which turns any Redis failure
into the caller's fallback (a miss, the in-process budget, no notification).
After a failure the link stays away for `retry_after` seconds, so a dead Redis
costs one short timeout per interval, not one per request; `/readyz` reports it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from sources import events
from sources.redact import redact

log = logging.getLogger("isthmus.redis")

T = TypeVar("T")


class RedisLink:
    def __init__(
        self, url: str, *, prefix: str = "isthmus:", timeout: float = 0.1, retry_after: float = 2.0, client: Any = None
    ) -> None:
        self.url = url  # for connecting only: may hold the password
        self.shown_url = redact(url)  # for logs and status
        self.prefix = prefix
        self.retry_after = retry_after
        self.client = client or redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._away_until = 0.0
        self.last_error: str | None = None
        self.failures = 0
        self._reported_up = False  # a success is reported once, then again only after a failure

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def up(self) -> bool:
        """False while the link stays away after a failure."""
        return time.monotonic() >= self._away_until

    async def run(self, what: str, operation: Callable[[Any], Awaitable[T]], fallback: T) -> T:
        """`operation(client)`, or `fallback` when Redis is away or fails."""
        if not self.up:
            return fallback
        try:
            result = await operation(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            self.failed(what, exc)
            return fallback
        if self.last_error is not None:
            log.info("Redis reachable again", extra={"redis": self.shown_url})
            self.last_error = None
        if not self._reported_up:
            self._reported_up = True
            events.redis_state(True)
        return result

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self._reported_up = False
        events.redis_state(False)
        self._away_until = time.monotonic() + self.retry_after
        if self.last_error is None:
            log.warning(
                "Redis unreachable; serving from in-process state",
                extra={"redis": self.shown_url, "during": what, "error": redact(str(exc))},
            )
        self.last_error = redact(f"{type(exc).__name__}: {exc}")

    def status(self) -> dict[str, Any]:
        if self.last_error is None:
            return {"state": "up"}
        return {"state": "down", "error": self.last_error}

    async def aclose(self) -> None:
        await self.client.aclose()


class ChannelListener:
    """Notices from the other replicas on one Redis channel, for the life of the process.

    A connection of its own (a subscription holds its socket, without the link's short
    timeout); a Redis failure only pauses it for the link's `retry_after`. A notice that is
    not JSON or that `apply` rejects (`malformed`) is logged and ignored. After a reconnect,
    `resubscribed` runs first: notices may have been missed while cut off.
    """

    def __init__(self, link: RedisLink, channel: str, what: str, timeout: float = 0.1) -> None:
        self.link = link
        self.channel = channel
        self.what = what
        self._client = redis.from_url(link.url, socket_connect_timeout=timeout, health_check_interval=15)

    async def listen(
        self,
        apply: Callable[[Any], None],
        malformed: tuple[type[Exception], ...] = (),
        resubscribed: Callable[[], None] | None = None,
    ) -> None:
        rejected: tuple[type[Exception], ...] = (ValueError, TypeError, AttributeError, *malformed)
        connected_before = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    if connected_before and resubscribed is not None:
                        resubscribed()
                    connected_before = True
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            try:
                                apply(orjson.loads(message["data"]))
                            except rejected:
                                log.warning("ignored a malformed notice", extra={"channel": self.what})
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.link.failed(self.what, exc)
                await asyncio.sleep(self.link.retry_after)

    async def aclose(self) -> None:
        await self._client.aclose()
