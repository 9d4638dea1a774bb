"""Keyset cursors: the sort value and id of a list's last row, bound to the list and order that issued them.

A page asked `after` a keyset holds the rows that sort after that row now, so it does not
shift when rows are added, removed or re-sorted before it (an offset would repeat or skip
them). A cursor is refused unless it is exactly what `encode_cursor` spells for the same
list and order, so a cursor of another list or `orderBy` is BAD_USER_INPUT naming `after`,
and no value a backend could choke on gets through. Keys sent to a backend in a
comma-separated list are checked here too (`check_key`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from resolvers.errors import BadUserInput

MAX_KEY_LENGTH = 64
MAX_SORT_TEXT = 200  # a text sort value (a name) in a cursor
MAX_CURSOR_LENGTH = 2000  # a text value of MAX_SORT_TEXT characters, each \uXXXX, in base64


@dataclass(frozen=True)
class Order:
    """The sort: the backend's key and the direction."""

    key: str
    descending: bool

    @property
    def spelled(self) -> str:
        return f"-{self.key}" if self.descending else self.key


def check_key(value: str, name: str) -> None:
    """An id sent to a backend in a comma-separated list: no comma, no blanks, no control characters."""
    if (
        not 0 < len(value) <= MAX_KEY_LENGTH
        or "," in value
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise BadUserInput(
            f"`{name}` must be 1 to {MAX_KEY_LENGTH} printable characters without spaces or commas, got {shown(value)}."
        )


def shown(value: str, limit: int = 40) -> str:
    """A caller's value quoted in an error, cut short: a message is no place for a megabyte of it."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def encode_cursor(name: str, order: Order, value: str | int | float, row_id: str) -> str:
    text = json.dumps([name, order.spelled, value, row_id], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(name: str, order: Order, cursor: str) -> tuple[str | int | float, str]:
    """The keyset of a cursor this list issued for this order: exactly `encode_cursor`'s spelling."""
    refused = BadUserInput(
        f"`after` is not a cursor of `{name}` in this order: pass a `pageInfo.endCursor` received with the same "
        "`orderBy`."
    )
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refused
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii"))
    except (ValueError, binascii.Error):
        raise refused from None
    if not (isinstance(decoded, list) and len(decoded) == 4 and decoded[:2] == [name, order.spelled]):
        raise refused
    value, row_id = decoded[2], decoded[3]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not isinstance(row_id, str):
        raise refused
    if isinstance(value, str) and (len(value) > MAX_SORT_TEXT or not value.isprintable()):
        raise refused
    check_key(row_id, "after")
    if encode_cursor(name, order, value, row_id) != cursor:
        raise refused
    return value, row_id
