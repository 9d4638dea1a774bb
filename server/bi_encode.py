"""BI exports, the encoders: flat rows as CSV or as a JSON array, written a page at a time."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import orjson

from server.bi_plan import NUMBER, ExportPlan

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Text of one CSV cell: empty for null, true/false, and no formula a spreadsheet would run."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.match(text):
        return "'" + text  # CSV injection: `=HYPERLINK(...)` in a ticket subject stays text
    return text


def _quoted_cell(value: Any, numeric: bool) -> Any:
    """A cell for `QUOTE_NONNUMERIC`: a number of a numeric column as a Decimal (written bare), else text."""
    if numeric and value is not None and not isinstance(value, bool):
        return Decimal(str(value))
    return csv_cell(value)


class CsvEncoder:
    """`quote_all` (`?quoting=all`): every text cell quoted, the header too, numbers bare (Python's
    `QUOTE_NONNUMERIC`, what shillelagh's CSV adapter reads); an empty cell is `""`. A column is a
    number by its GraphQL type (Int, Float, Decimal), never by what its text looks like."""

    media_type = "text/csv; charset=utf-8"

    def __init__(self, plan: ExportPlan, bom: bool, quote_all: bool = False) -> None:
        self.names = [c.name for c in plan.columns]
        self.numeric = [c.numeric for c in plan.columns] if quote_all else None
        self.bom = bom
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, quoting=csv.QUOTE_NONNUMERIC if quote_all else csv.QUOTE_MINIMAL)

    def _take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")

    def start(self) -> bytes:
        self.writer.writerow(self.names)
        return ("\ufeff".encode("utf-8") if self.bom else b"") + self._take()

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        if self.numeric is None:
            self.writer.writerows([csv_cell(row[name]) for name in self.names] for row in rows)
        else:
            numeric = list(zip(self.names, self.numeric, strict=True))
            self.writer.writerows([_quoted_cell(row[name], number) for name, number in numeric] for row in rows)
        return self._take()

    def end(self) -> bytes:
        return b""


class JsonEncoder:
    """A JSON array of flat objects, one per row, keys in column order."""

    media_type = "application/json"

    def __init__(self, plan: ExportPlan) -> None:
        self.started = False

    def start(self) -> bytes:
        return b"["

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        parts = [orjson.dumps(row) for row in rows]
        chunk = (b",\n" if self.started else b"\n") + b",\n".join(parts)
        self.started = True
        return chunk

    def end(self) -> bytes:
        return b"\n]\n"
