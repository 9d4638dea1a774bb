"""Idempotency keys: a write runs once per key, its outcome is kept and answered again.

A caller's key, in its scope (the principal: one caller cannot see or block another's
keys), is bound to the fingerprint of the request it came with (a hash of the operation
and its input) and, once settled, to the outcome (bytes the caller decodes). `run`:

- the key's outcome is known: the same fingerprint gets it again and nothing runs; another
  fingerprint is `KeyReused`;
- the key is being worked on: the same fingerprint waits for that work and gets its outcome
  (or its error); another is `KeyReused`;
- else the caller claims the key and runs the work, handing it what an earlier attempt
  recorded (`Progress.previous`) and a way to record more before each write
  (`Progress.save`). A final outcome is kept; a failure, or an outcome the work calls
  unfinished, keeps the progress and lets the key go, so that a retry with it resumes
  where the last attempt stopped: the same writes with the same bodies, idempotent on
  keys derived from this one at the systems of record (resolvers/writes.py).

Claims are made in this process (no await between looking and claiming, so twenty
concurrent requests make one claim) and, with Redis configured, in Redis with `SET NX` and
a lease beside the key's record, so a key claimed through one replica is honoured by every
other; record and outcome are kept there for `keep` seconds. A replica that finds the key
claimed elsewhere polls until it is settled or let go, within the request's deadline.
Redis being down leaves the claim to this process alone: the derived keys at the systems
of record still make every step write once. The local store is bounded (`max_local` keys,
least recently used out).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cachetools import TTLCache

from sources import deadline
from sources.errors import IsthmusError
from sources.redis_link import RedisLink

POLL_SECONDS = 0.05
# Deletes the claim only if it is still this holder's (the lease may have passed to another).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class KeyReused(IsthmusError):
    code = "IDEMPOTENCY_KEY_REUSED"
    when = (
        "an `idempotencyKey` sent before with another mutation or other input; nothing was written. Use a new key "
        "for a new request"
    )

    def __init__(self) -> None:
        super().__init__(
            "This idempotencyKey was used with a different request; nothing was written. "
            "Send a new key for a new request, or the same request to get its outcome."
        )


class KeyInUse(IsthmusError):
    code = "IDEMPOTENCY_KEY_IN_USE"
    when = "the same mutation with the same key is still running elsewhere; retry with the same key"

    def __init__(self) -> None:
        super().__init__("A request with this idempotencyKey is still being worked on; retry with the same key.")


@dataclass
class _Local:
    fingerprint: str
    outcome: bytes | None = None  # settled
    partial: bytes | None = None  # what the last unfinished attempt recorded
    waiting: asyncio.Future[bytes] | None = None  # being worked on in this process
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)


class Progress:
    """What the work on a key has done: `previous` from an earlier attempt; `save` records more."""

    def __init__(self, store: IdempotencyStore, name: str, local: _Local) -> None:
        self.store, self.name, self.local = store, name, local
        self.previous = local.partial

    async def save(self, data: bytes) -> None:
        self.local.partial = data
        await self.store._put(self.name, self.local.fingerprint, "partial", data)


Work = Callable[[Progress], Awaitable[tuple[bytes, bool]]]  # (outcome, final)


class IdempotencyStore:
    def __init__(
        self,
        link: RedisLink | None = None,
        *,
        keep: float = 86_400.0,
        lease: float = 60.0,
        max_local: int = 10_000,
    ) -> None:
        self.link = link
        self.keep = keep
        self.lease = lease
        self._local: TTLCache[str, _Local] = TTLCache(max_local, keep)

    @staticmethod
    def fingerprint(operation: str, arguments: Any) -> str:
        return hashlib.sha256(
            operation.encode() + b"\0" + orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()

    @staticmethod
    def name(scope: str, key: str) -> str:
        """The stored name of a caller's key: a hash, so neither shows in Redis."""
        return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()

    async def run(self, scope: str, key: str, fingerprint: str, work: Work) -> bytes:
        """The key's outcome: kept, awaited, or made now by `work` (see the module notes)."""
        name = self.name(scope, key)
        while True:
            local = self._local.get(name)
            if local is not None and local.fingerprint != fingerprint:
                raise KeyReused()
            if local is not None and local.outcome is not None:
                return local.outcome
            if local is not None and local.waiting is not None:
                waiting = local.waiting
                await _within_deadline(asyncio.shield(waiting))
                return waiting.result()
            if local is None:
                local = self._local[name] = _Local(fingerprint)
            waiting = local.waiting = asyncio.get_running_loop().create_future()
            waiting.add_done_callback(_quiet)
            try:
                outcome = await self._settle(name, local, work)
            except BaseException as exc:
                local.waiting = None
                waiting.set_exception(exc)
                raise
            local.waiting = None
            waiting.set_result(outcome)
            return outcome

    async def _settle(self, name: str, local: _Local, work: Work) -> bytes:
        """Claim the key in Redis too (when configured), then run the work or take another replica's outcome."""
        while True:
            holder = await self._claim(name, local)
            if holder is None:
                break  # ours
            if holder.get("f") != local.fingerprint:
                raise KeyReused()
            settled = await self._poll(name)
            if settled is not None:
                return self._take(local, settled)
            # let go by its holder (it failed, or stopped short): claim it ourselves
        try:
            record = await self._record(name)
            if record is not None:
                if record.get("f") != local.fingerprint:
                    raise KeyReused()
                if record.get("s") == "done":
                    return self._take(local, record)
                local.partial = str(record["r"]).encode()
            outcome, final = await work(Progress(self, name, local))
            if final:
                local.outcome = outcome
                await self._put(name, local.fingerprint, "done", outcome)
            else:
                local.partial = outcome
                await self._put(name, local.fingerprint, "partial", outcome)
            return outcome
        finally:
            await self._release(name, local)

    @staticmethod
    def _take(local: _Local, record: dict[str, Any]) -> bytes:
        if record.get("f") != local.fingerprint:
            raise KeyReused()
        local.outcome = str(record["r"]).encode()
        return local.outcome

    # --- Redis -----------------------------------------------------------------------------

    def _key(self, name: str, *suffix: str) -> str:
        assert self.link is not None
        return self.link.key("idempotency", name, *suffix)

    def _claim_value(self, local: _Local) -> bytes:
        return orjson.dumps({"f": local.fingerprint, "o": local.owner})

    async def _claim(self, name: str, local: _Local) -> dict[str, Any] | None:
        """None when the key is ours (claimed now, or no Redis to ask); else the claim another holds."""
        if self.link is None:
            return None
        key, value, lease_ms = self._key(name, "claim"), self._claim_value(local), int(self.lease * 1000)

        async def claim(client: Any) -> dict[str, Any] | None:
            if await client.set(key, value, nx=True, px=lease_ms):
                return None
            raw = await client.get(key)
            return {} if raw is None else dict(orjson.loads(raw))

        while True:
            holder = await self.link.run("idempotency claim", claim, None)
            if holder != {}:
                return holder
            # let go between our SET and GET: try again

    async def _record(self, name: str) -> dict[str, Any] | None:
        if self.link is None:
            return None
        key = self._key(name)
        raw = await self.link.run("idempotency read", lambda client: client.get(key), None)
        return dict(orjson.loads(raw)) if raw else None

    async def _poll(self, name: str) -> dict[str, Any] | None:
        """Wait for another holder: the key's record once done, None once the claim is let go."""
        assert self.link is not None
        claim, record = self._key(name, "claim"), self._key(name)
        until = time.monotonic() + deadline.remaining(self.lease)

        async def look(client: Any) -> list[Any]:
            return list(await client.mget([claim, record]))

        while time.monotonic() < until:
            await asyncio.sleep(POLL_SECONDS)
            found = await self.link.run("idempotency poll", look, None)
            if found is None:
                continue  # Redis away: keep waiting within the deadline
            held, raw = found
            settled = dict(orjson.loads(raw)) if raw else None
            if settled is not None and settled.get("s") == "done":
                return settled
            if held is None:
                return None
        raise KeyInUse()

    async def _put(self, name: str, fingerprint: str, state: str, data: bytes) -> None:
        if self.link is None:
            return
        value = orjson.dumps({"f": fingerprint, "s": state, "r": data.decode()})
        key, keep = self._key(name), max(1, int(self.keep))
        await self.link.run("idempotency write", lambda client: client.set(key, value, ex=keep), None)

    async def _release(self, name: str, local: _Local) -> None:
        if self.link is None:
            return
        key, value = self._key(name, "claim"), self._claim_value(local)
        await self.link.run("idempotency release", lambda client: client.eval(RELEASE, 1, key, value), None)


async def _within_deadline(waiting: Awaitable[Any]) -> None:
    """Wait for another request's work on the key, at most until this request's deadline."""
    budget = deadline.remaining(math.inf)
    try:
        async with asyncio.timeout(None if budget == math.inf else max(budget, 0.0)):
            await waiting
    except TimeoutError:
        raise KeyInUse() from None
    except Exception:  # the waiter reads the same error from the future
        return


def _quiet(future: asyncio.Future[bytes]) -> None:
    """An error nobody waited for is not logged as 'never retrieved': the owner raised it already."""
    if not future.cancelled():
        future.exception()
