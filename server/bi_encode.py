"""BI exports, the encoders: flat rows as CSV or as a JSON array, written a page at a time."""

from __future__ import annotations

import csv
import io
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


class CsvEncoder:
    media_type = "text/csv; charset=utf-8"

    def __init__(self, plan: ExportPlan, bom: bool) -> None:
        self.names = [c.name for c in plan.columns]
        self.bom = bom
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def _take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")

    def start(self) -> bytes:
        self.writer.writerow(self.names)
        return ("\ufeff".encode("utf-8") if self.bom else b"") + self._take()

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        self.writer.writerows([csv_cell(row[name]) for name in self.names] for row in rows)
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
