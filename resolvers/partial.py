"""Derived lists built from several systems, which survive the failure of one.

Each part reads one system. A part whose system fails is left out and its error
returned beside the rest, so the client gets what the healthy systems know plus
an error naming the one that failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from sources import SourceError

T = TypeVar("T")


async def gather_parts(*parts: Awaitable[list[T]]) -> tuple[list[T], list[SourceError]]:
    results = await asyncio.gather(*parts, return_exceptions=True)
    items: list[T] = []
    failures: list[SourceError] = []
    for result in results:
        if isinstance(result, SourceError):
            if all(result is not seen for seen in failures):
                failures.append(result)
        elif isinstance(result, BaseException):
            raise result
        else:
            items.extend(result)
    return items, failures
