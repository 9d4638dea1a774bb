"""The cross-request cache of one source method: TTL, bound, single-flight, stale-if-error.

Data fetched with the gateway's own credentials is the same for every caller,
so one cache per source method serves all requests; authorisation is applied
above the sources and never depends on what is cached.

- An entry is fresh for `ttl` seconds, or less when the request asks for
  fresher data (`freshness.max_age()`).
- Concurrent misses for one key share one backend call, across requests. The
  fill runs as a task of its own, detached from every request: bounded by the
  backend's own timeouts, never by the deadline of the request that happened to
  miss first. Each request waits for it within its own deadline; one that gives
  up or is cancelled leaves the fill running for the others, and a fill nobody
  waits for any more still completes, to populate the cache.
- When the backend fails, an entry up to `grace` seconds past its TTL is served
  instead, and the response is marked stale.
- At most `maxsize` entries; the least recently used go first.
- Bounded by bytes too: each entry is weighed by the backend answers that filled it
  (their JSON's length, shared among the fill's keys by their number of records, times
  the resident bytes a record takes per byte of its JSON), and all the method caches of
  a process share one `ByteBudget`: over it, the cache holding the most gives up its
  least recently used entries first.
- With Redis configured, misses look in the shared second level first, and what
  is fetched is shared with the other replicas (sources/shared_cache.py).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sources import deadline, events, freshness, received, trace
from sources.errors import SourceError, SourceTimeout, SourceUnavailable
from sources.shared_cache import Shared, SharedCache

# Resident bytes of records per byte of the JSON they were decoded from: 3.7 for the demo
# systems' answers as msgspec Structs (`scripts/decode_bench.py`: 3.9 MB held for 1.05 MB).
RESIDENT_PER_BYTE = 4
# An entry's own cost whatever it holds: its key, the Entry, the cache's link and dict slots.
ENTRY_BYTES = 200


class Entry(NamedTuple):
    value: Any
    fetched_at: float
    size: int = ENTRY_BYTES  # estimated resident bytes


class _Entries:
    """Entries younger than `ttl` seconds (the TTL plus the grace), least recently used first,
    at most `max_entries` and `max_bytes` (estimated resident bytes).

    An OrderedDict in use order (a read moves its key to the end), not cachetools' TTLCache: that one
    takes its clock and walks its expiry list on every read and write, about 8 µs a key,
    and a 360 page reads and writes some 1,100 keys. Here a read of an expired entry drops
    it, and each write drops the expired entries at the least recently used end.
    """

    def __init__(self, max_entries: int, max_bytes: float, ttl: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.currsize = 0
        self._data: OrderedDict[Hashable, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable, now: float | None = None) -> Entry | None:
        """The entry, now the most recently used; None when absent or past the TTL (then dropped)."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if (time.monotonic() if now is None else now) - entry.fetched_at >= self.ttl:
            del self._data[key]
            self.currsize -= entry.size
            return None
        self._data.move_to_end(key)
        return entry

    def __getitem__(self, key: Hashable) -> Entry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def __setitem__(self, key: Hashable, entry: Entry) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self.currsize -= old.size
        if entry.size > self.max_bytes:  # more than the whole budget: not kept, nor an older value
            return
        self._data[key] = entry
        self.currsize += entry.size
        self._trim(time.monotonic())

    def _trim(self, now: float) -> None:
        data = self._data
        while data:
            entry = data[next(iter(data))]
            if len(data) <= self.max_entries and self.currsize <= self.max_bytes and now - entry.fetched_at < self.ttl:
                return
            data.popitem(last=False)
            self.currsize -= entry.size

    def popitem(self) -> tuple[Hashable, Entry]:
        """Drop the least recently used entry; KeyError when empty."""
        key, entry = self._data.popitem(last=False)
        self.currsize -= entry.size
        return key, entry


class ByteBudget:
    """The bytes all the method caches of a process may hold together (estimated resident bytes).

    Over it, the cache holding the most gives up its least recently used entries first, so a
    few large lists (orders, stock) give way before the many small look-ups (parties, reps).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._caches: list[MethodCache] = []

    def join(self, cache: MethodCache) -> None:
        self._caches.append(cache)

    @property
    def used(self) -> int:
        return sum(cache.bytes for cache in self._caches)

    def enforce(self) -> None:
        over = self.used - self.max_bytes
        trimmed: set[MethodCache] = set()
        while over > 0:
            largest = max(self._caches, key=lambda cache: cache.bytes)
            freed = largest.drop_oldest()
            if not freed:
                break
            trimmed.add(largest)
            over -= freed
        for cache in trimmed:
            events.cache_size(cache.source, cache.method, len(cache), cache.bytes)


Fetch = Callable[[list[Hashable]], Awaitable[Sequence[Any]]]


class Answer(NamedTuple):
    """What a fill found for one key: the value and when it was fetched, or the SourceError."""

    value: Any
    fetched_at: float = 0.0
    stale: bool = False  # served past its TTL because the backend failed


class MethodCache:
    def __init__(
        self,
        source: str,
        method: str,
        *,
        ttl: float,
        grace: float,
        maxsize: int,
        shared: SharedCache | None = None,
        budget: ByteBudget | None = None,
    ) -> None:
        self.source = source
        self.shared = shared
        self.method = method
        self.ttl = ttl
        self.grace = grace
        self.budget = budget
        self._entries = _Entries(maxsize, budget.max_bytes if budget else math.inf, ttl + grace)
        # per key being fetched, its fill's one future: the answers of all the fill's keys
        self._inflight: dict[Hashable, asyncio.Future[dict[Hashable, Answer]]] = {}
        self._fills: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak references
        if budget is not None:
            budget.join(self)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def maxsize(self) -> int:
        return self._entries.max_entries

    @property
    def bytes(self) -> int:
        """The estimated resident bytes of the entries held."""
        return int(self._entries.currsize)

    def drop_oldest(self) -> int:
        """Let the least recently used entry go; the bytes it freed (0 when empty)."""
        try:
            _, entry = self._entries.popitem()
        except KeyError:
            return 0
        return entry.size

    async def get_many(self, keys: Sequence[Hashable], fetch: Fetch) -> list[Any]:
        """One result per key, in order; only the keys nobody has or is fetching reach `fetch`."""
        now = time.monotonic()
        report = freshness.report()
        results: list[Any] = [None] * len(keys)
        waiting: list[tuple[int, Hashable, asyncio.Future[dict[Hashable, Answer]]]] = []
        missing: dict[Hashable, list[int]] = {}
        hits = 0
        for index, key in enumerate(keys):
            entry = self._entries.get(key, now)
            if entry is not None and now - entry.fetched_at <= freshness.limit(self.ttl, key):
                hits += 1
                results[index] = entry.value
                if report is not None:
                    report.note(self.source, now - entry.fetched_at)
            elif key in self._inflight:
                waiting.append((index, key, self._inflight[key]))
            else:
                missing.setdefault(key, []).append(index)
        if hits:
            events.cache_event(self.source, self.method, "hit", hits)
            recorder = trace.current()
            if recorder is not None and not missing:
                recorder.record(self.source, self.method, hits, time.perf_counter(), "ok", cache="hit")
        if waiting:
            events.cache_event(self.source, self.method, "shared", len(waiting))
        if missing:
            events.cache_event(self.source, self.method, "miss", sum(len(v) for v in missing.values()))
            fill = self._start_fill(list(missing), fetch)
            waiting.extend((index, key, fill) for key, indexes in missing.items() for index in indexes)
        if waiting:
            await self._wait(waiting, results, report)
        return results

    def _start_fill(self, keys: list[Hashable], fetch: Fetch) -> asyncio.Future[dict[Hashable, Answer]]:
        """Start fetching `keys` for every request that will want them; the fill's future, one
        for all its keys (a page's 300 SKUs are one future to wait for, not 300).

        The task runs in a copy of this request's context: its freshness needs and its
        trace, but not its deadline (`_fill` lifts it).
        """
        loop = asyncio.get_running_loop()
        fill: asyncio.Future[dict[Hashable, Answer]] = loop.create_future()
        self._inflight.update(dict.fromkeys(keys, fill))
        task = loop.create_task(self._fill(keys, fill, fetch))
        self._fills.add(task)
        task.add_done_callback(self._fills.discard)
        return fill

    async def _wait(
        self,
        waiting: list[tuple[int, Hashable, asyncio.Future[dict[Hashable, Answer]]]],
        results: list[Any],
        report: freshness.Report | None,
    ) -> None:
        """Wait for the fills within this request's deadline; giving up leaves them running for the others."""
        budget = deadline.remaining(math.inf)
        timeout = None if budget == math.inf else max(budget, 0.0)
        # asyncio.wait cancels nothing it waits for: not on timeout, not when this request is cancelled
        done, _ = await asyncio.wait({fill for _, _, fill in waiting}, timeout=timeout)
        now = time.monotonic()
        late: SourceTimeout | None = None
        for index, key, fill in waiting:
            if fill in done:
                answer = fill.result()[key]
            else:  # out of time for this request: what it may have within the grace, else the timeout
                late = late or SourceTimeout(self.source, self.method, "no answer within the request's deadline")
                answer = self._stale_or(key, late, now)
            results[index] = answer.value
            if report is not None and not isinstance(answer.value, SourceError):
                report.note(self.source, max(now - answer.fetched_at, 0.0), stale=answer.stale)

    async def _fill(self, keys: list[Hashable], fill: asyncio.Future[dict[Hashable, Answer]], fetch: Fetch) -> None:
        """Fetch `keys` and settle the fill, whoever still waits; store what came back."""
        try:
            with deadline.detached():
                answers, fetched = await self._answers(keys, fetch)
            fill.set_result(answers)
            self._done(keys, fill)
            events.cache_size(self.source, self.method, len(self._entries), self.bytes)
            if fetched and self.shared:
                await self.shared.put_many(self.source, self.method, fetched, self.ttl + self.grace)
        except asyncio.CancelledError:  # only at shutdown: nobody cancels a fill for a request's sake
            if not fill.done():
                cancelled = Answer(SourceUnavailable(self.source, self.method, "the fetch was cancelled"))
                fill.set_result(dict.fromkeys(keys, cancelled))
            raise
        except Exception as exc:  # a bug: raised in every request still waiting, logged by asyncio if none is
            if not fill.done():
                fill.set_exception(exc)
        finally:
            self._done(keys, fill)

    def _done(self, keys: list[Hashable], fill: asyncio.Future[dict[Hashable, Answer]]) -> None:
        """Later misses start a fill of their own."""
        inflight = self._inflight
        for key in keys:
            if inflight.get(key) is fill:
                del inflight[key]

    async def _answers(self, keys: list[Hashable], fetch: Fetch) -> tuple[dict[Hashable, Answer], dict[Hashable, Any]]:
        """Per key its answer (shared level, backend, or stale within the grace); and what the backend gave."""
        # `no-cache` and `@fresh(maxAge: 0)` want nothing Redis could have: not asked
        wanted = any(freshness.limit(self.ttl, key) > 0 for key in keys)
        shared = await self.shared.get_many(self.source, self.method, keys) if self.shared and wanted else {}
        answers: dict[Hashable, Answer] = {}
        for key, entry in shared.items():
            if entry.age <= freshness.limit(self.ttl, key):
                size = ENTRY_BYTES + RESIDENT_PER_BYTE * len(entry.blob)
                stored = self._entries[key] = Entry(entry.value(), time.monotonic() - entry.age, size)
                answers[key] = Answer(stored.value, stored.fetched_at)
        if answers:
            events.cache_event(self.source, self.method, "redis_hit", len(answers))
        to_fetch = [key for key in keys if key not in answers]
        fetched: dict[Hashable, Any] = {}
        if to_fetch:
            with received.counting() as answered:
                try:
                    values = await fetch(to_fetch)
                except SourceError as exc:
                    values = [exc] * len(to_fetch)
            fetched_at = time.monotonic()
            sizes = _weigh(values, answered[0])
            for key, value, size in zip(to_fetch, values, sizes, strict=True):
                if isinstance(value, SourceError):
                    answers[key] = self._stale_or(key, value, fetched_at, shared.get(key))
                else:
                    fetched[key] = value
                    self._entries[key] = Entry(value, fetched_at, size)
                    answers[key] = Answer(value, fetched_at)
        if self.budget is not None:
            self.budget.enforce()
        return answers, fetched

    def _stale_or(self, key: Hashable, error: SourceError, now: float, shared: Shared | None = None) -> Answer:
        """The backend failed: serve what we had within the grace period (ours, else the shared one)."""
        entry = self._entries.get(key, now)
        if entry is None and shared is not None and shared.age <= self.ttl + self.grace:
            entry = Entry(shared.value(), now - shared.age)
        if entry is None:
            return Answer(error)
        events.cache_event(self.source, self.method, "stale", 1)
        return Answer(entry.value, entry.fetched_at, stale=True)


def _weigh(values: Sequence[Any], answered: int) -> list[int]:
    """Each value's estimated resident bytes: the `answered` bytes of JSON shared by number of records."""
    records = [len(value) if isinstance(value, list) else int(value is not None) for value in values]
    per_record = RESIDENT_PER_BYTE * answered / (sum(records) or 1)
    return [ENTRY_BYTES + round(count * per_record) for count in records]


@dataclass(frozen=True)
class CachePolicy:
    """How long each kind of data may be served from the cache, and how much of it to keep."""

    ttl: dict[str, float]
    grace: float = 300.0
    max_entries: int = 10_000
    shared: SharedCache | None = None  # the second level in Redis, when configured
    max_bytes: int = 48_000_000  # all the caches of the process together, estimated resident bytes
    budget: ByteBudget = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget", ByteBudget(self.max_bytes))

    def ttl_of(self, kind: str) -> float:
        return self.ttl.get(kind, 0.0)
