"""Change events of a demo system: signed webhooks to the gateway, sent at least once.

A write, or the `/_events` switch, queues an event (`{"type", "timestamp", "data"}`); one
background task sends the queue in order to `<target>/events/<system>`, signed as Standard
Webhooks sign: `webhook-id` (the event's, the same on every attempt), `webhook-timestamp`
(the attempt's, in Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`. A secret written `whsec_<base64>` is that key; any other is its UTF-8.

While the gateway cannot take it (a refused connection, a timeout, 5xx, 429) an event is
tried again with exponential back-off, 0.1 s doubling to 10 s, jittered; it is signed anew
each time, so a delivery after an outage is not refused as old. A 2xx delivers it, and so
does 409 (the gateway already had it: a retry whose first answer was lost). Any other 4xx is
a refusal retrying cannot mend (a wrong secret): counted and dropped. The queue is bounded
(`MAX_QUEUED`): when a long outage fills it the oldest event is dropped and counted, so
the system's memory stays flat. Without a target nothing is queued.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import random
import time
import uuid
from collections import deque
from typing import Any

import httpx
import orjson

log = logging.getLogger("demo.webhooks")

MAX_QUEUED = 10_000
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 10.0


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: `whsec_<base64>` as Standard Webhooks writes it, else its UTF-8."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    at = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign(secret, event_id, at, body),
    }


class Outbox:
    """The events of one system waiting for the gateway, and the task that delivers them."""

    def __init__(self, system: str, url: str | None = None, secret: str | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        """`client`: what to send with (tests pass one over a mock transport)."""
        self.system = system
        self.url = url
        self.secret = secret
        self.queue: deque[tuple[str, bytes]] = deque()
        self.counts = {"sent": 0, "retried": 0, "refused": 0, "dropped": 0}
        self.last_error: str | None = None
        self._waiters: dict[str, asyncio.Future[bool]] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = client

    def retarget(self, url: str | None, secret: str | None) -> None:
        """Send to another gateway (tests start theirs after the systems); None stops sending and empties the queue."""
        self.url, self.secret = (url.rstrip("/"), secret) if url and secret else (None, None)
        if self.url is None:
            for event_id, _ in self.queue:
                self._settle(event_id, False)
            self.queue.clear()

    def status(self) -> dict[str, Any]:
        return {"target": self.url, "queued": len(self.queue), **self.counts, "last_error": self.last_error}

    def emit(self, kind: str, data: dict[str, Any]) -> str | None:
        """Queue one change; its event id (None when there is no target)."""
        if self.url is None:
            return None
        event_id = f"evt_{self.system}_{uuid.uuid4().hex}"
        body = orjson.dumps({"type": kind, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": data})
        if len(self.queue) >= MAX_QUEUED:
            dropped, _ = self.queue.popleft()
            self.counts["dropped"] += 1
            self._settle(dropped, False)
        self.queue.append((event_id, body))
        self._waiters[event_id] = asyncio.get_running_loop().create_future()  # settled with the event
        self._start()
        return event_id

    async def delivered(self, event_id: str | None, timeout: float = 5.0) -> bool:
        """Wait until this event is delivered (True) or given up (False), at most `timeout` seconds."""
        waiter = self._waiters.get(event_id) if event_id else None
        if waiter is None:
            return False
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False

    def _settle(self, event_id: str, delivered: bool) -> None:
        waiter = self._waiters.pop(event_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(delivered)

    def _start(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self._wake is not None
        self._client = self._client or httpx.AsyncClient(timeout=5.0)
        backoff = FIRST_BACKOFF
        while True:
            if not self.queue or self.url is None or self.secret is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            event_id, body = self.queue[0]
            outcome = await self._send(event_id, body)
            if outcome == "retry":
                self.counts["retried"] += 1
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = FIRST_BACKOFF
            if self.queue and self.queue[0][0] == event_id:
                self.queue.popleft()
            self.counts["sent" if outcome == "sent" else "refused"] += 1
            self._settle(event_id, outcome == "sent")

    async def _send(self, event_id: str, body: bytes) -> str:
        """One attempt: "sent", "retry" or "refused"."""
        assert self._client is not None and self.url is not None and self.secret is not None
        try:
            response = await self._client.post(
                f"{self.url}/events/{self.system}", content=body, headers=signed_headers(self.secret, event_id, body)
            )
        except httpx.HTTPError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return "retry"
        if response.is_success or response.status_code == 409:
            return "sent"
        self.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code >= 500 or response.status_code == 429:
            return "retry"
        log.warning("the gateway refused event %s: %s", event_id, self.last_error)
        return "refused"
