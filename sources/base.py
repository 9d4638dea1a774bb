"""What every REST source shares: batched GETs, validation, and the DataLoader contract.

A source method takes a list of keys and returns one result per key, in order:
a record (or `None` when the backend does not know the key) for look-ups, a list
for relations, or an exception in the slot of a key whose data could not be read.
A call with many keys is split into chunks of `max_keys` sent concurrently, so
URLs stay short while a batch still costs one round trip of latency. A key that
cannot name a record (see `sendable`) is answered as unknown and never sent: a
caller's malformed id must not reach, and perhaps break, a backend all share.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar, cast

import msgspec

from sources.cache import CachePolicy, Fetch, MethodCache
from sources.errors import SourceBadResponse, SourceError
from sources.http import BackendClient
from sources.invalidation import Invalidation
from sources.records import NotFinite, Record

R = TypeVar("R", bound=Record)
T = TypeVar("T")
# What a batch method answers, one slot per key in the order of the keys:
Lookup = Sequence[T | None | SourceError]  # the key's record, None when unknown, or why it could not be read
Related = Sequence[list[T] | SourceError]  # the key's records (maybe none), or why they could not be read
BatchMethod = TypeVar("BatchMethod", bound=Callable[..., Awaitable[Sequence[Any]]])

# Longer than any key of the systems of record, short enough to keep a batch's URL sane.
MAX_KEY_LENGTH = 128


class Items(msgspec.Struct, Generic[R], frozen=True, gc=False):
    """The envelope of every list answer: `{"items": [...]}`."""

    items: list[R]


class Source:
    """Base of every REST source: one backend, one pooled client."""

    name = "?"
    max_keys = 500

    def __init__(self, http: BackendClient, cache: CachePolicy | None = None) -> None:
        self.http = http
        self.cache_policy = cache
        self.caches: dict[str, MethodCache] = {}
        # Set by the wiring: drops what a write made stale here and in every replica.
        self.invalidation = Invalidation(cache)

    async def forget(self, stale: Mapping[str, Sequence[Hashable]]) -> None:
        """After a write: these methods' entries for these keys are stale, everywhere."""
        await self.invalidation.forget(self.name, stale)

    async def send_write(
        self, method: str, verb: Literal["POST", "PATCH"], path: str, payload: Any, model: type[T], key: str
    ) -> T:
        """One write with its idempotency key; the record the backend answers (see `BackendClient.write`)."""
        body = await self.http.write(method, verb, path, payload, idempotency_key=key)
        return self.validate(method, body, model)

    async def cached(
        self,
        method: str,
        kind: str,
        keys: Sequence[Hashable],
        fetch: Fetch,
    ) -> Sequence[Any]:
        """Answers for `keys` from the cross-request cache, fetching only what it lacks."""
        policy = self.cache_policy
        ttl = policy.ttl_of(kind) if policy else 0.0
        if policy is None or ttl <= 0:
            return await fetch(list(keys))
        cache = self.caches.get(method)
        if cache is None:
            cache = self.caches[method] = MethodCache(
                self.name,
                method,
                ttl=ttl,
                grace=policy.grace,
                maxsize=policy.max_entries,
                shared=policy.shared,
                budget=policy.budget,
            )
        return await cache.get_many(keys, fetch)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def fetch(self, method: str, path: str, params: dict[str, str], model: type[R], keys: int = 1) -> list[R]:
        """One GET whose answer is `{"items": [...]}` of `model`, validated."""
        body = await self.http.get(method, path, params, keys=keys)
        # a generic Struct is parametrised with a class at run time; mypy takes only types in brackets
        return self.validate(method, body, Items[model]).items  # type: ignore[valid-type]

    def validate(self, method: str, body: bytes, model: type[T]) -> T:
        """Parse and type-check a JSON body in one pass into records; a malformed answer
        (not JSON, a missing or mistyped field, a non-finite decimal) is SOURCE_BAD_RESPONSE."""
        try:
            return _decoder(model).decode(body)
        except msgspec.DecodeError as exc:  # ValidationError included; its text names the path, never the value
            raise SourceBadResponse(self.name, method, str(exc)) from None

    async def fetch_by_keys(
        self, method: str, path: str, param: str, keys: Sequence[str], model: type[R], **extra: str
    ) -> list[R]:
        """Items for many keys at once: `?param=k1,k2,...`, chunked, chunks in parallel."""
        unique = [key for key in dict.fromkeys(keys) if sendable(key)]
        if not unique:
            return []
        chunks = [unique[i : i + self.max_keys] for i in range(0, len(unique), self.max_keys)]
        answers = await asyncio.gather(
            *(self.fetch(method, path, {param: ",".join(chunk), **extra}, model, len(chunk)) for chunk in chunks)
        )
        return [item for answer in answers for item in answer]

    async def one_per_key(
        self, method: str, path: str, param: str, keys: Sequence[str], model: type[R], key_field: str, **extra: str
    ) -> list[R | None]:
        items = await self.fetch_by_keys(method, path, param, keys, model, **extra)
        return index_by(items, key_field, keys)

    async def many_per_key(
        self, method: str, path: str, param: str, keys: Sequence[str], model: type[R], key_field: str, **extra: str
    ) -> list[list[R]]:
        items = await self.fetch_by_keys(method, path, param, keys, model, **extra)
        return group_by(items, key_field, keys)


def sendable(key: str) -> bool:
    """Whether a key can name a record: the comma-separated list carries it unchanged (no comma,
    no blanks at its ends) and it looks like a key (printable, at most MAX_KEY_LENGTH)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and "," not in key and key == key.strip() and key.isprintable()


def cached(kind: str) -> Callable[[BatchMethod], BatchMethod]:
    """Make a batch method `(self, *scope, keys)` answer from the cache for the TTL of `kind`.

    Leading arguments (e.g. the ref system of a by-ref look-up) name a separate cache.
    A record the method builds from its backend's answer that fails its checks
    (`records.checked`, a non-finite decimal) is SOURCE_BAD_RESPONSE, as a malformed JSON answer is.
    """

    def decorate(fn: BatchMethod) -> BatchMethod:
        @functools.wraps(fn)
        async def method(self: Source, *args: Any) -> Sequence[Any]:
            *scope, keys = args
            name = fn.__name__ if not scope else f"{fn.__name__}({','.join(map(str, scope))})"

            async def fetch(missing: list[Hashable]) -> Sequence[Any]:
                try:
                    return await fn(self, *scope, missing)
                except (msgspec.ValidationError, NotFinite) as exc:
                    raise SourceBadResponse(self.name, name, str(exc)) from None

            return await self.cached(name, kind, list(keys), fetch)

        return cast(BatchMethod, method)  # the same signature: `wraps` does not tell the checker

    return decorate


def index_by(items: Iterable[T], field: str, keys: Sequence[str]) -> list[T | None]:
    """One record or None per key, in the order of `keys`."""
    found = {getattr(item, field): item for item in items}
    return [found.get(key) for key in keys]


def group_by(items: Iterable[T], field: str, keys: Sequence[str]) -> list[list[T]]:
    """The list of records per key (empty when none), in the order of `keys`."""
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[getattr(item, field)].append(item)
    return [groups.get(key, []) for key in keys]


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(model: type[T]) -> msgspec.json.Decoder[T]:
    decoder = _decoders.get(model)
    if decoder is None:
        decoder = _decoders[model] = msgspec.json.Decoder(model)
    return decoder
