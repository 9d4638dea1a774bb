"""The cross-request cache of one source method: TTL, bound, single-flight, stale-if-error.

Data fetched with the gateway's own credentials is the same for every caller,
so one cache per source method serves all requests; authorisation is applied
above the sources and never depends on what is cached.

- An entry is fresh for `ttl` seconds, or less when the request asks for
  fresher data (`freshness.max_age()`).
- Concurrent misses for one key share one backend call, across requests.
- When the backend fails, an entry up to `grace` seconds past its TTL is served
  instead, and the response is marked stale.
- At most `maxsize` entries; the least recently used go first.
- With Redis configured, misses look in the shared second level first, and what
  is fetched is shared with the other replicas (sources/shared_cache.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Hashable, Sequence

from cachetools import TTLCache

from sources import events, freshness, trace
from sources.errors import SourceError
from sources.shared_cache import Shared, SharedCache


@dataclass(frozen=True)
class Entry:
    value: Any
    fetched_at: float


@dataclass
class Counters:
    hits: int = 0
    misses: int = 0
    stale: int = 0
    shared: int = 0


Fetch = Callable[[list[Hashable]], Awaitable[list[Any]]]


class MethodCache:
    def __init__(self, source: str, method: str, *, ttl: float, grace: float, maxsize: int,
                 shared: SharedCache | None = None) -> None:
        self.source = source
        self.shared = shared
        self.method = method
        self.ttl = ttl
        self.grace = grace
        self._entries: TTLCache[Hashable, Entry] = TTLCache(maxsize=maxsize, ttl=ttl + grace, timer=time.monotonic)
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self.counters = Counters()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def maxsize(self) -> int:
        return int(self._entries.maxsize)

    async def get_many(self, keys: Sequence[Hashable], fetch: Fetch) -> list[Any]:
        """One result per key, in order; only the keys nobody has or is fetching reach `fetch`."""
        now = time.monotonic()
        report = freshness.report()
        results: list[Any] = [None] * len(keys)
        waiting: list[tuple[int, asyncio.Future[Any]]] = []
        missing: dict[Hashable, list[int]] = {}
        for index, key in enumerate(keys):
            entry = self._entries.get(key)
            if entry is not None and now - entry.fetched_at <= freshness.limit(self.ttl, key):
                self.counters.hits += 1
                results[index] = entry.value
                if report is not None:
                    report.note(self.source, now - entry.fetched_at)
            elif key in self._inflight:
                self.counters.shared += 1
                waiting.append((index, self._inflight[key]))
            else:
                missing.setdefault(key, []).append(index)
        hits = len(keys) - len(missing) - len(waiting)
        if hits:
            events.cache_event(self.source, self.method, "hit", hits)
            recorder = trace.current()
            if recorder is not None and not missing:
                recorder.record(self.source, self.method, hits, time.perf_counter(), "ok", cache="hit")
        if waiting:
            events.cache_event(self.source, self.method, "shared", len(waiting))
        if missing:
            events.cache_event(self.source, self.method, "miss", sum(len(v) for v in missing.values()))
            await self._fill(missing, fetch, results)
            events.cache_size(self.source, self.method, len(self._entries))
        for index, future in waiting:
            value = await asyncio.shield(future)
            results[index] = value
        return results

    async def _fill(self, missing: dict[Hashable, list[int]], fetch: Fetch, results: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        futures = {key: loop.create_future() for key in missing}
        self._inflight.update(futures)
        self.counters.misses += len(missing)
        keys = list(missing)
        try:
            # `no-cache` and `@fresh(maxAge: 0)` want nothing Redis could have: not asked
            wanted = self.shared is not None and any(freshness.limit(self.ttl, key) > 0 for key in keys)
            shared = await self.shared.get_many(self.source, self.method, keys) if wanted else {}
            report = freshness.report()
            answers: dict[Hashable, Any] = {}
            for key, entry in shared.items():
                if entry.age <= freshness.limit(self.ttl, key):
                    answers[key] = value = entry.value()
                    self._entries[key] = Entry(value, time.monotonic() - entry.age)
                    if report is not None:
                        report.note(self.source, entry.age)
            if answers:
                events.cache_event(self.source, self.method, "redis_hit", len(answers))
            to_fetch = [key for key in keys if key not in answers]
            fetched: dict[Hashable, Any] = {}
            if to_fetch:
                try:
                    values = await fetch(to_fetch)
                except SourceError as exc:
                    values = [exc] * len(to_fetch)
                fetched_at = time.monotonic()
                for key, value in zip(to_fetch, values):
                    if isinstance(value, SourceError):
                        value = self._stale_or(key, value, fetched_at, shared.get(key))
                    else:
                        fetched[key] = value
                        self._entries[key] = Entry(value, fetched_at)
                        if report is not None:
                            report.note(self.source, 0.0)
                    answers[key] = value
            for key in keys:
                for index in missing[key]:
                    results[index] = answers[key]
                futures[key].set_result(answers[key])
            if fetched and self.shared:
                await self.shared.put_many(self.source, self.method, fetched, self.ttl + self.grace)
        finally:
            for key, future in futures.items():
                if self._inflight.get(key) is future:
                    del self._inflight[key]
                if not future.done():
                    future.set_exception(asyncio.CancelledError())
                    future.exception()  # retrieved: the fetching request was cancelled

    def _stale_or(self, key: Hashable, error: SourceError, now: float, shared: Shared | None = None) -> Any:
        """The backend failed: serve what we had within the grace period (ours, else the shared one)."""
        entry = self._entries.get(key)
        if entry is None and shared is not None and shared.age <= self.ttl + self.grace:
            entry = Entry(shared.value(), now - shared.age)
        if entry is None:
            return error
        self.counters.stale += 1
        events.cache_event(self.source, self.method, "stale", 1)
        report = freshness.report()
        if report is not None:
            report.note(self.source, now - entry.fetched_at, stale=True)
        return entry.value

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class CachePolicy:
    """How long each kind of data may be served from the cache, and how much of it to keep."""

    ttl: dict[str, float]
    grace: float = 300.0
    max_entries: int = 10_000
    shared: SharedCache | None = None  # the second level in Redis, when configured

    def ttl_of(self, kind: str) -> float:
        return self.ttl.get(kind, 0.0)
