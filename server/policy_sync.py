"""Replicas reload the policy together: a reload on one is announced to all through Redis.

Like a Casbin watcher: the notice says "the policy changed" and carries the new
policy's digest; every other replica reloads its own files at once (the
deployment gives them the same files: an image, a ConfigMap, a shared volume)
and warns when its digest differs from the announcer's. `/readyz?details` shows each
replica's digest, so drift is visible. A replica that was cut off from Redis
looks at its files again when it reconnects, in case it missed a notice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from policies import Authorizer
from policies.enforcement import Policy
from sources.redis_link import ChannelListener, RedisLink

log = logging.getLogger("isthmus.policy")


class PolicySync:
    def __init__(self, link: RedisLink, authorizer: Authorizer, timeout: float) -> None:
        self.link = link
        self.authorizer = authorizer
        self.replica = uuid.uuid4().hex[:12]
        self.channel = link.key("policy")
        self._listener = ChannelListener(link, self.channel, "policy notices", timeout)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._applying = False
        authorizer.on_reload.append(self._reloaded)

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Reloads in here follow other replicas' notices: they are not announced again."""
        self._applying = True
        try:
            yield
        finally:
            self._applying = False

    def _reloaded(self, policy: Policy) -> None:
        if self._applying:
            return
        try:
            task = asyncio.get_running_loop().create_task(self.announce(policy))
        except RuntimeError:  # no event loop (a reload from a thread): nothing to announce with
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def announce(self, policy: Policy) -> None:
        notice = orjson.dumps({"replica": self.replica, "digest": policy.digest})
        await self.link.run("policy notice", lambda client: client.publish(self.channel, notice), None)

    def apply(self, notice: dict[str, Any]) -> None:
        if notice.get("replica") == self.replica:
            return
        with self._quietly():
            self.authorizer.reload()
        if self.authorizer.policy.digest != notice.get("digest"):
            log.warning(
                "policy files differ from another replica's",
                extra={"policy_digest": self.authorizer.policy.digest, "announced": notice.get("digest")},
            )

    async def listen(self) -> None:
        """Runs for the life of the process; Redis failures only pause it."""
        await self._listener.listen(self.apply, resubscribed=self._reload_missed)

    def _reload_missed(self) -> None:
        with self._quietly():
            self.authorizer.reload_if_changed(now=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._listener.aclose()
