"""Resolving a field for many objects in one call: the plan executor's batch resolvers.

A batch resolver takes the objects of one layer (`sources`), the field's info and its
arguments, and answers one value per object, in order: the value, or the exception
that cost that object its field (a list, or an awaitable of one when it must wait). The plan executor calls it once per layer, instead of
a resolver (and an asyncio task) per object; graphql-core's executor calls the same
function through `one`, so both executors share one implementation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Batch = Callable[..., list[Any] | Awaitable[list[Any]]]


async def each(loads: Sequence[Any]) -> list[Any]:
    """Per item: its value, awaited if it is a load, or the exception the load failed with."""
    values = list(loads)
    waiting: dict[int, Any] = {}  # one wait per distinct load, however many items share it
    for load in values:
        if isinstance(load, Awaitable):
            waiting.setdefault(id(load), load)
    if waiting:
        results = dict(zip(waiting, await asyncio.gather(*waiting.values(), return_exceptions=True), strict=True))
        values = [results[id(value)] if isinstance(value, Awaitable) else value for value in values]
    return values


def at_once(values: list[Any]) -> list[Any] | Awaitable[list[Any]]:
    """The values themselves when none is still a load (no coroutine, no task), else `each` of them."""
    if any(isinstance(value, Awaitable) for value in values):
        return each(values)
    return values


async def one(batch: Batch, source: Any, info: Any, **arguments: Any) -> Any:
    """A batch resolver answering for one object, as a per-object resolver does."""
    answer = batch([source], info, **arguments)
    return only(answer if isinstance(answer, list) else await answer)


def only(answers: Sequence[Any]) -> Any:
    """The one answer of a batch of one: its value, or its exception raised."""
    (value,) = answers
    if isinstance(value, Exception):
        raise value
    return value
