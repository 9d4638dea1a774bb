"""Structured JSON logs, one object per line, each carrying the request id.

Every request writes one access line (`access`), so that line is written without the
logging framework's per-record work (a LogRecord, the caller's frame, a formatter walking
the record's attributes): 30 µs a line before, about 4 µs now (`python scripts/audit_bench.py`).
It goes straight to the stream of the handler `configure` installed, under that handler's
lock, as the same JSON the formatter writes, but only while that handler is the only thing
that would see the record; any other handler, filter or level (a test's log capture, an
operator's own logging setup) gets it through `logging` as before.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from contextvars import ContextVar
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("isthmus_request_id", default=None)
access_log = logging.getLogger("isthmus.access")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_installed: logging.StreamHandler[Any] | None = None  # the handler `configure` installed


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_second: tuple[int, str] = (0, "")


def timestamp(seconds: float) -> str:
    """ISO 8601 in UTC to the millisecond, as `datetime.isoformat(timespec="milliseconds")` writes
    it for `fromtimestamp(seconds, UTC)`; the part up to the second is made once per second."""
    global _second
    fraction, integral = math.modf(seconds)  # rounded to the microsecond as fromtimestamp rounds it
    whole, micros = int(integral), round(fraction * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    if _second[0] != whole:
        _second = (whole, dt.datetime.fromtimestamp(whole, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{micros // 1000:03d}+00:00"


def access(event: str, fields: dict[str, Any]) -> None:
    """One access line (logger `isthmus.access`, message `event`, `fields` as its attributes)."""
    handler = _direct()
    if handler is None:
        access_log.info(event, extra=fields)
        return
    entry: dict[str, Any] = {"ts": timestamp(time.time()), "level": "info", "logger": access_log.name, "msg": event}
    rid = request_id.get()
    if rid:
        entry["request_id"] = rid
    entry.update(fields)
    try:
        line = orjson.dumps(entry, default=str).decode() + handler.terminator
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.stream.flush()
        finally:
            handler.release()
    except Exception:  # what a handler would do with a failed write: logging reports it
        access_log.info(event, extra=fields)


def _direct() -> logging.StreamHandler[Any] | None:
    """The installed handler, when it alone would write an access line at INFO, unfiltered
    (the walk `Logger.callHandlers` makes: up the parents until one does not propagate)."""
    handler = _installed
    if handler is None or handler.filters or handler.level > logging.INFO:
        return None
    if access_log.filters or not access_log.isEnabledFor(logging.INFO):
        return None
    found = None
    logger: logging.Logger | None = access_log
    while logger is not None:
        if logger.handlers:
            if found is not None or logger.handlers != [handler]:
                return None
            found = handler
        if not logger.propagate:
            break
        logger = logger.parent
    return found


def configure(level: int = logging.INFO) -> None:
    global _installed
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _installed = handler
    for noisy in ("httpx", "httpcore", "uvicorn.access", "casbin", "casbin.role", "casbin.policy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
