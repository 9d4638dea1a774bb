"""The access line: the same JSON as the log formatter writes, without a LogRecord per request.

In process: `logs.configure()` as `isthmus serve` calls it, its stream swapped for a buffer.
What a line costs is `scripts/audit_bench.py`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import random
from contextlib import contextmanager

from starlette.requests import Request

from resolvers.context import Principal
from server import logs
from server.access import audit

REP = Principal(id="R007", name="Rep Seven", roles=("sales_rep",), team="North")


def graphql_request(path: str = "/graphql") -> Request:
    return Request({
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"x=1",
        "headers": [(b"host", b"isthmus:8000")], "scheme": "http", "server": ("127.0.0.1", 8000), "root_path": "",
    })


@contextmanager
def gateway_logging():
    """The gateway's logging (as `isthmus serve` sets it up), writing into a buffer; in a test's
    body, so that pytest's own capture is put back before pytest takes it away."""
    root = logging.getLogger()
    handlers, level, installed = root.handlers[:], root.level, logs._installed
    logs.configure()
    (handler,) = root.handlers
    buffer = io.StringIO()
    handler.setStream(buffer)
    token = logs.request_id.set("req-42")
    try:
        yield handler, buffer
    finally:
        logs.request_id.reset(token)
        root.handlers[:], root.level, logs._installed = handlers, level, installed


def write_a_line():
    audit(graphql_request(), principal=REP, status=200, outcome="ok", operation="Customer360Page",
          denied=["Customer.taxId"], document=None, duration_ms=12.34)


def test_the_line_is_the_formatters_json_made_without_a_log_record(monkeypatch):
    made = []
    make_record = logging.Logger.makeRecord
    monkeypatch.setattr(logging.Logger, "makeRecord", lambda *args, **kw: made.append(1) or make_record(*args, **kw))
    with gateway_logging() as (handler, written):
        write_a_line()
        assert made == []  # no LogRecord, no caller's frame, no formatter
        handler.addFilter(lambda record: True)  # now logging must see it: the formatter writes it
        write_a_line()
        assert made == [1]
    direct, formatted = (json.loads(line) for line in written.getvalue().splitlines())
    assert list(direct) == list(formatted)  # the same keys in the same order
    assert direct.pop("ts")[:16] == formatted.pop("ts")[:16]
    assert direct == formatted == {
        "level": "info", "logger": "isthmus.access", "msg": "graphql", "request_id": "req-42",
        "principal": "R007", "roles": ["sales_rep"], "method": "POST", "path": "/graphql", "status": 200,
        "outcome": "ok", "operation": "Customer360Page", "denied": ["Customer.taxId"], "document": None,
        "duration_ms": 12.34,
    }


def test_anything_else_listening_gets_the_record_as_before(caplog):
    with gateway_logging() as (_, written), caplog.at_level(logging.INFO, logger="isthmus.access"):
        logging.getLogger().addHandler(caplog.handler)  # a second handler: the direct line would bypass it
        write_a_line()
    (record,) = [r for r in caplog.records if r.name == "isthmus.access"]
    assert (record.msg, record.principal, record.status, record.path) == ("graphql", "R007", 200, "/graphql")
    assert json.loads(written.getvalue())["principal"] == "R007"  # and the configured handler its line


def test_no_line_below_the_level():
    with gateway_logging() as (_, written):
        logging.getLogger("isthmus.access").setLevel(logging.WARNING)
        try:
            write_a_line()
        finally:
            logging.getLogger("isthmus.access").setLevel(logging.NOTSET)
    assert written.getvalue() == ""


def test_the_path_is_the_urls_and_names_the_event():
    with gateway_logging() as (_, written):
        audit(graphql_request("/bi/Report?.csv"), principal=None, status=401, outcome="unauthenticated")
    line = json.loads(written.getvalue())
    assert (line["msg"], line["path"]) == ("bi", graphql_request("/bi/Report?.csv").url.path) == ("bi", "/bi/Report%3F.csv")


def test_the_timestamp_is_isoformats_to_the_millisecond():
    rand = random.Random(15)
    moments = [rand.uniform(0, 4e9) for _ in range(20_000)] + [1.9999995, 1.9999994, 1764504000.0, 0.0005]
    for seconds in moments:
        expected = dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")
        assert logs.timestamp(seconds) == expected, seconds
