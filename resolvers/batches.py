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
    waiting = [(index, load) for index, load in enumerate(loads) if isinstance(load, Awaitable)]
    values = list(loads)
    if waiting:
        results = await asyncio.gather(*(load for _, load in waiting), return_exceptions=True)
        for (index, _), result in zip(waiting, results, strict=True):
            values[index] = result
    return values


def at_once(values: list[Any]) -> list[Any] | Awaitable[list[Any]]:
    """The values themselves when none is still a load (no coroutine, no task), else `each` of them."""
    if any(isinstance(value, Awaitable) for value in values):
        return each(values)
    return values


async def one(batch: Batch, source: Any, info: Any, **arguments: Any) -> Any:
    """A batch resolver answering for one object, as a per-object resolver does."""
    answer = batch([source], info, **arguments)
    (value,) = answer if isinstance(answer, list) else await answer
    if isinstance(value, Exception):
        raise value
    return value
