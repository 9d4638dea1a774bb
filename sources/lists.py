"""Worklists at the source: one filtered, sorted, counted page of a backend's list, asked for in one call.

A `ListQuery` says what to ask in the list vocabulary the systems share (filter names such
as `party`, `status`, `min_open`; a sort key, '-' first for descending; the keyset `after`:
the sort value and id of the last row seen). Filters on what a backend owns travel to it as
query parameters, the row-level ones (`owner`, `team`, or the keys of the caller's
customers) among them, so a page is full and `total` exact. A `ListPage` is the backend's
answer: the page, the exact total, each row's keyset, whether more follow, and (when asked
for) the summary over every matching row.

`pages` asks for a page per parent key at once (`per=party`): the nested lists of a layer of
customers in one call. `keys` asks for the distinct keys of what matches (a party's code, a customer's ref in
another system): how a filter that spans systems is joined, one batch per system.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from sources.base import Source
from sources.records import Record

R = TypeVar("R", bound=Record)


class Bucket(Record):
    key: str | None = None
    count: int
    amount: Decimal


class Summary(Record):
    count: int
    sums: dict[str, Decimal] = {}
    groups: dict[str, list[Bucket]] = {}
    metrics: dict[str, float | None] = {}


class ListPage(msgspec.Struct, Generic[R], frozen=True, gc=False):
    items: list[R]
    total: int
    cursors: list[tuple[str | int | float, str]]
    more: bool
    summary: Summary | None = None


class Groups(msgspec.Struct, Generic[R], frozen=True, gc=False):
    """A page per key of the `per` filter (keys without a row are absent)."""

    groups: dict[str, ListPage[R]]


class Keys(msgspec.Struct, frozen=True, gc=False):
    keys: list[str]


@dataclass(frozen=True)
class ListQuery:
    """One page to ask for. `filters` are (name, value) pairs, values already in the backend's spelling."""

    filters: tuple[tuple[str, str], ...] = ()
    sort: str = ""
    after: tuple[str | int | float, str] | None = None
    limit: int = 20
    summary: bool = False
    today: dt.date | None = None
    now: dt.datetime | None = None

    def params(self) -> dict[str, str]:
        params = dict(self.filters)
        params["limit"] = str(self.limit)
        if self.sort:
            params["sort"] = self.sort
        if self.after is not None:
            params["after"] = msgspec.json.encode(list(self.after)).decode()
        if self.summary:
            params["summary"] = "true"
        if self.today is not None:
            params["today"] = self.today.isoformat()
        if self.now is not None:
            params["now"] = self.now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return params


async def page(source: Source, method: str, path: str, query: ListQuery, model: type[R]) -> ListPage[R]:
    """One page of a list, cached for the "lists" TTL under every parameter, row-level ones included."""
    params = query.params()
    keys = sum(len(value.split(",")) for name, value in query.filters if name in KEY_LISTS)

    async def fetch(_: list[Any]) -> list[ListPage[R]]:
        body = await source.http.get(method, path, params, keys=max(1, keys))
        return [source.validate(method, body, ListPage[model])]  # type: ignore[valid-type]

    (found,) = await source.cached(method, "lists", [tuple(sorted(params.items()))], fetch)
    if isinstance(found, Exception):
        raise found
    return found


async def pages(
    source: Source, method: str, path: str, query: ListQuery, per: str, model: type[R]
) -> dict[str, ListPage[R]]:
    """A page per key of the `per` filter (a layer's parents' nested lists) in one call, cached as `page` is."""
    params = {**query.params(), "per": per}
    keys = sum(len(value.split(",")) for name, value in query.filters if name in KEY_LISTS)

    async def fetch(_: list[Any]) -> list[dict[str, ListPage[R]]]:
        body = await source.http.get(method, path, params, keys=max(1, keys))
        return [source.validate(method, body, Groups[model]).groups]  # type: ignore[valid-type]

    (found,) = await source.cached(method, "lists", [tuple(sorted(params.items()))], fetch)
    if isinstance(found, Exception):
        raise found
    return found


async def keys(source: Source, method: str, path: str, params: dict[str, str]) -> list[str]:
    """The distinct keys of what matches `params`, cached for the "lists" TTL."""

    async def fetch(_: list[Any]) -> list[list[str]]:
        body = await source.http.get(method, path, params)
        return [source.validate(method, body, Keys).keys]

    (found,) = await source.cached(method, "lists", [tuple(sorted(params.items()))], fetch)
    if isinstance(found, Exception):
        raise found
    return found


# Filters whose value is a list of keys: how many keys a call carries (metrics, traces).
KEY_LISTS = frozenset({"party", "order", "contract", "counterparty", "org", "customer", "ids", "erp", "clm", "desk"})


def joined(values: Sequence[str]) -> str:
    return ",".join(values)
