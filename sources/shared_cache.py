"""The second-level source cache in Redis: one replica's backend fetch serves the others.

Same TTLs and freshness rules as the in-process cache: an entry carries the wall
time it was fetched, a request takes it only when it is as fresh as that request
needs (`@fresh(maxAge: 0)` never does), and an entry past its TTL is kept for the
grace period only to stand in when the backend fails. An entry is the fetch time
then JSON of records tagged with their record class, decoded only when used and
validated again: nothing from Redis is trusted to be code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import msgspec
import orjson

from sources.records import Record
from sources.redis_link import RedisLink


def _record_classes(base: type[Record]) -> dict[str, type[Record]]:
    found: dict[str, type[Record]] = {}
    for cls in base.__subclasses__():
        found[cls.__name__] = cls
        found.update(_record_classes(cls))
    return found


class NotStorable(Exception):
    """A value that is not records (left to the in-process cache alone)."""


def encode(value: Any) -> bytes:
    """JSON of a record, None, or a list of them; records tagged with their class."""
    if value is None:
        return b"null"
    if isinstance(value, Record):
        return b'{"$":"%s","v":%s}' % (type(value).__name__.encode(), msgspec.json.encode(value))
    if isinstance(value, (list, tuple)):
        return b"[" + b",".join(encode(item) for item in value) + b"]"
    raise NotStorable(type(value).__name__)


def decode(data: Any, classes: dict[str, type[Record]]) -> Any:
    if data is None:
        return None
    if isinstance(data, list):
        return [decode(item, classes) for item in data]
    return msgspec.convert(data["v"], classes[data["$"]])


class Shared(NamedTuple):
    """An entry read from Redis: its age, and its value decoded only when it is used."""

    age: float
    blob: bytes
    classes: dict[str, type[Record]]

    def value(self) -> Any:
        return decode(orjson.loads(self.blob), self.classes)


class SharedCache:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._classes: dict[str, type[Record]] | None = None

    @property
    def classes(self) -> dict[str, type[Record]]:
        if self._classes is None:  # after every source module has defined its records
            self._classes = _record_classes(Record)
        return self._classes

    def _key(self, source: str, method: str, key: Hashable) -> str:
        text = key if isinstance(key, str) else orjson.dumps(key).decode()
        return self.link.key("cache", source, method, text)

    async def get_many(self, source: str, method: str, keys: Sequence[Hashable]) -> dict[Hashable, Shared]:
        """The entries Redis holds for `keys`, with their ages (values not decoded yet)."""
        names = [self._key(source, method, key) for key in keys]
        raw = await self.link.run("cache read", lambda client: client.mget(names), None)
        if not isinstance(raw, list):
            return {}
        now = time.time()
        found: dict[Hashable, Shared] = {}
        for key, blob in zip(keys, raw, strict=True):
            if not isinstance(blob, bytes):
                continue
            stamp, _, body = blob.partition(b" ")
            try:
                found[key] = Shared(max(0.0, now - float(stamp)), body, self.classes)
            except ValueError:  # a foreign entry is a miss
                continue
        return found

    async def put_many(self, source: str, method: str, values: dict[Hashable, Any], keep: float) -> None:
        """Store fetched values for `keep` seconds (TTL + grace)."""
        stamp = b"%.3f " % time.time()
        blobs = {}
        for key, value in values.items():
            try:
                blobs[self._key(source, method, key)] = stamp + encode(value)
            except NotStorable:
                continue
        if not blobs:
            return

        async def write(client: Any) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for name, blob in blobs.items():
                    pipe.set(name, blob, ex=max(1, math.ceil(keep)))
                await pipe.execute()

        await self.link.run("cache write", write, None)

    async def delete(self, source: str, stale: dict[str, list[Hashable]]) -> None:
        """Delete entries a write made stale, so no replica reads them from here again."""
        names = [self._key(source, method, key) for method, keys in stale.items() for key in keys]
        if names:
            await self.link.run("cache delete", lambda client: client.delete(*names), None)
