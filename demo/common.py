"""What the four demo apps share: database access, key lists, JSON answers,
call counting, fault injection, idempotent writes, and change events (signed
webhooks to the gateway, demo/webhooks.py; `/_events` shows and retargets them).

Records are rendered to JSON by SQLite itself (`json_object`,
`json_group_array`) once per process, so a 500-key batch costs one indexed
query for rowids and one string join in Python: the gateway's benchmarks
hammer these endpoints and must measure the gateway, not the simulators.

A system that takes writes (ERP orders, CRM activities, DESK tickets) works on
an in-memory copy of its generated file: a write lives as long as the process,
the files every other process reads never change, and a restart starts from the
generated world again. Each write re-renders the records it changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import time
from collections import OrderedDict, deque
from decimal import Decimal, InvalidOperation
from pathlib import Path

import orjson
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from demo.generate import ensure_data, read_meta
from demo.webhooks import Outbox

# Membership test for a list of keys bound as one JSON array parameter: no
# limit on the number of keys, so no chunking, and one ORDER BY over all of them.
IN_KEYS = "IN (SELECT value FROM json_each(?))"


def money(column: str) -> str:
    """SQL rendering integer cents (or hundredths) as a two-decimal string."""
    return f"printf('%.2f', {column} / 100.0)"


def rate(column: str) -> str:
    """SQL rendering a rate in basis points as a four-decimal fraction (1900 -> "0.1900")."""
    return f"printf('%.4f', {column} / 10000.0)"


def keys(raw: str | None) -> list[str]:
    """Comma-separated keys, trimmed, de-duplicated, in the caller's order."""
    if not raw:
        return []
    return list(dict.fromkeys(k for k in (part.strip() for part in raw.split(",")) if k))


def key_param(values: list[str]) -> str:
    return orjson.dumps(values).decode()


def one_selector(**selectors: str | None) -> tuple[str, list[str]]:
    """The one key list a list endpoint was called with, e.g. ('party', [...])."""
    given = [(name, raw) for name, raw in selectors.items() if raw is not None]
    if len(given) != 1:
        raise HTTPException(400, f"give exactly one of: {', '.join(selectors)}")
    name, raw = given[0]
    return name, keys(raw)


def json_response(payload) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


class Database:
    """One SQLite connection per process, plus every record pre-rendered as JSON.

    SQLite renders each record once at start-up (`documents`: name -> query of
    rowid and JSON document); a request then only selects rowids through an
    index and joins the cached documents. A read-only system's data never
    changes while it runs; a writable one (an in-memory copy of the file)
    re-renders what a write changed (`render`), so the cache cannot go stale.
    """

    def __init__(self, path: Path, documents: dict[str, str], *, writable: bool = False):
        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        if writable:
            memory = sqlite3.connect(":memory:", check_same_thread=False)
            self.con.backup(memory)
            self.con.close()
            self.con = memory
        else:
            self.con.execute("PRAGMA mmap_size = 268435456")
        # Unicode-aware lower-casing for searches SQLite's ASCII-only lower() would miss.
        self.con.create_function("casefold", 1, lambda text: text.casefold() if text else text, deterministic=True)
        self.meta = read_meta(path)
        self.sql = documents
        self.documents = {name: dict(self.con.execute(sql)) for name, sql in documents.items()}

    def render(self, kind: str, rowids: list[int]) -> None:
        """Render these records of `kind` again, after a write (the outer query's rowids)."""
        sql = f"{self.sql[kind]} WHERE rowid {IN_KEYS}"
        self.documents[kind].update(self.con.execute(sql, (orjson.dumps(rowids).decode(),)))

    def document(self, kind: str, rowid: int) -> bytes:
        return self.documents[kind][rowid].encode()

    def items(self, kind: str, sql: str, *params, total: int | None = None) -> Response:
        """`{"items": [...]}`: the `kind` documents whose rowids `sql` selects, in its order."""
        docs = self.documents[kind]
        body = ",".join(docs[rowid] for (rowid,) in self.con.execute(sql, params))
        extra = "" if total is None else f',"total":{total}'
        return Response(f'{{"items":[{body}]{extra}}}', media_type="application/json")

    def scalar(self, sql: str, *params):
        return self.con.execute(sql, params).fetchone()[0]


# --- control plane: /_stats, /_faults, /_meta -----------------------------------------

class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0.0, ge=0)
    jitter_ms: float = Field(0.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    status: int = Field(503, ge=400, le=599)
    down: bool = False
    malformed_rate: float = Field(0.0, ge=0, le=1)
    # A write's answer held back after the write is made: a client that gives up first cannot
    # tell whether its write was made. Reads are not held.
    latency_after_ms: float = Field(0.0, ge=0)


class Control:
    """Call counters and fault settings of one system, shared by middleware and endpoints.

    `calls` keeps the last few thousand API calls with their server-side timing
    (injected latency included), so a benchmark can tell backend time from
    gateway time without trusting the gateway's own clock. `max_concurrent` is the
    most API calls served at once since the last reset: a test asserts the gateway's
    budget for this system from the system's side.
    """

    RECENT_CALLS = 5000

    def __init__(self, faults: dict | None = None):
        self.faults = Faults.model_validate(faults or {})
        self.by_route: dict[str, int] = {}
        self.calls: deque[dict] = deque(maxlen=self.RECENT_CALLS)
        self.random = random.Random()
        self.in_flight = 0
        self.max_concurrent = 0

    def stats(self) -> dict:
        return {"calls": sum(self.by_route.values()), "by_route": dict(self.by_route),
                "in_flight": self.in_flight, "max_concurrent": self.max_concurrent}

    def reset(self) -> None:
        self.by_route.clear()
        self.calls.clear()
        self.max_concurrent = self.in_flight  # calls still being served count from here


class ControlMiddleware:
    """Pure ASGI: counts API calls by route and injects the configured faults.

    Only the app's own API routes are counted and faulted; `/_...`,
    `/openapi.json` and `/docs` pass through untouched. Writes count under their
    method and route template ("POST /orders"), reads under their path.
    """

    MALFORMED = b'{"items": [{"id": "'

    def __init__(self, app, control: Control, fastapi_app: FastAPI):
        self.app = app
        self.control = control
        self.fastapi_app = fastapi_app
        self.api_paths: set[str] | None = None

    async def __call__(self, scope, receive, send):
        if self.api_paths is None:  # routes are all registered by the first request
            self.api_routes = [r for r in self.fastapi_app.routes
                               if isinstance(r, APIRoute) and not r.path.startswith("/_")]
            self.api_paths = {r.path for r in self.api_routes}
        path = scope.get("path", "")
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = self.route_of(path, scope.get("method", "GET"))
        if route is None:
            return await self.app(scope, receive, send)
        control = self.control
        control.by_route[route] = control.by_route.get(route, 0) + 1
        control.in_flight += 1
        control.max_concurrent = max(control.max_concurrent, control.in_flight)
        start_ms, started = time.time() * 1000, time.perf_counter()
        try:
            await self.faulted(scope, receive, send)
        finally:
            control.in_flight -= 1
            duration_ms = (time.perf_counter() - started) * 1000
            control.calls.append({"route": route, "start_ms": round(start_ms, 3), "duration_ms": round(duration_ms, 3)})

    def route_of(self, path: str, method: str) -> str | None:
        """The API route a call is counted under: its path for a read, "POST /orders" or
        "PATCH /tickets/{ticket_id}" for a write; None for what is not the API."""
        if method == "GET":
            return path if path in self.api_paths else None
        for route in self.api_routes:
            if method in route.methods and route.path_regex.match(path):
                return f"{method} {route.path}"
        return None

    async def faulted(self, scope, receive, send):
        """The call with the configured faults applied."""
        faults, rand = self.control.faults, self.control.random
        if faults.down:
            return await answer(send, 503, b'{"detail":"system down (injected fault)"}')
        delay = faults.latency_ms + (rand.uniform(-faults.jitter_ms, faults.jitter_ms) if faults.jitter_ms else 0)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if faults.error_rate and rand.random() < faults.error_rate:
            return await answer(send, faults.status, b'{"detail":"injected fault"}')
        if faults.malformed_rate and rand.random() < faults.malformed_rate:
            return await answer(send, 200, self.MALFORMED)
        if not faults.latency_after_ms or scope.get("method") == "GET":
            return await self.app(scope, receive, send)
        held: list = []

        async def hold(message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(faults.latency_after_ms / 1000)
        for message in held:
            await send(message)


async def answer(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EventTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    secret: str | None = None


async def announce(outbox: Outbox, kind: str, data: dict, *, wait: bool = False) -> dict:
    """Queue a change event; with `wait`, answer once the gateway has it (or it was given up, or 5 s passed)."""
    event_id = outbox.emit(kind, data)
    delivered = await outbox.delivered(event_id) if wait else None
    return {"event": event_id, "type": kind, "data": data, "delivered": delivered}


# --- writes: validation errors and the Idempotency-Key --------------------------------------

def invalid(field: str, message: str) -> HTTPException:
    """422 naming the body field at fault, in FastAPI's own shape: `{"detail": [{"loc", "msg"}]}`."""
    return HTTPException(422, [{"loc": ["body", *field.split(".")], "msg": message, "type": "value_error"}])


def cents(value, field: str, places: int = 2) -> int:
    """A positive decimal string with at most `places` decimals as an integer of hundredths."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(field, "not a number") from None
    scaled = number.scaleb(places)
    if not number.is_finite() or number <= 0 or scaled != scaled.to_integral_value():
        raise invalid(field, f"must be positive with at most {places} decimals")
    return int(scaled)


class Idempotency:
    """Answers to writes by their `Idempotency-Key`, as payment APIs keep them.

    The same key with the same request gets the first answer again and writes nothing;
    the same key with another request is refused (422). The newest 10,000 keys are kept.
    A write handler runs without awaiting, so no two requests interleave inside one.
    """

    KEEP = 10_000

    def __init__(self) -> None:
        self.answers: OrderedDict[str, tuple[str, int, bytes]] = OrderedDict()

    @staticmethod
    def fingerprint(request: Request, payload) -> str:
        return hashlib.sha256(request.url.path.encode() + b"\0" + orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def replay(self, request: Request, payload) -> Response | None:
        key = request.headers.get("idempotency-key")
        if key is None or key not in self.answers:
            return None
        fingerprint, status, body = self.answers[key]
        if fingerprint != self.fingerprint(request, payload):
            raise HTTPException(422, "Idempotency-Key reused with a different request")
        return Response(body, status_code=status, media_type="application/json", headers={"Idempotent-Replayed": "true"})

    def remember(self, request: Request, payload, status: int, body: bytes) -> Response:
        key = request.headers.get("idempotency-key")
        if key is not None:
            self.answers[key] = (self.fingerprint(request, payload), status, body)
            while len(self.answers) > self.KEEP:
                self.answers.popitem(last=False)
        return Response(body, status_code=status, media_type="application/json")


def now_instant() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def next_id(db: Database, table: str, prefix: str, width: int) -> str:
    """The id after the highest of `table` (ids are a prefix and a zero-padded number)."""
    highest = db.scalar(f"SELECT max(CAST(substr(id, {len(prefix) + 1}) AS INTEGER)) FROM {table}") or 0
    return f"{prefix}{highest + 1:0{width}d}"


def system_app(system: str, description: str, documents: dict[str, str], data_dir=None,
               faults: dict | None = None, *, writable: bool = False,
               events: tuple[str, str] | None = None) -> tuple[FastAPI, Database]:
    """A FastAPI app for one system with its database and the control endpoints wired in.

    `events`: the gateway's URL and the webhook secret its changes are sent with (demo/webhooks.py);
    `PUT /_events/target` changes them while it runs."""
    directory = ensure_data(data_dir)
    db = Database(directory / f"{system}.sqlite", documents, writable=writable)
    app = FastAPI(title=f"Isthmus demo {system.upper()}", description=description, version=db.meta["version"])
    control = Control(faults)
    app.state.control = control
    app.state.outbox = outbox = Outbox(system, *(events or (None, None)))
    app.add_middleware(ControlMiddleware, control=control, fastapi_app=app)

    @app.get("/_events", tags=["control"])
    async def events_status():
        """Where change events go, and how many were sent, retried, refused, dropped or are queued."""
        return json_response(outbox.status())

    @app.put("/_events/target", tags=["control"])
    async def events_target(target: EventTarget):
        """Send change events to this gateway with this secret; `{"url": null}` stops sending."""
        outbox.retarget(target.url, target.secret)
        return json_response(outbox.status())

    @app.get("/_stats", tags=["control"])
    async def stats():
        """API calls since the last reset, by route; the most served at once (`max_concurrent`) and now."""
        return json_response(control.stats())

    @app.get("/_stats/calls", tags=["control"])
    async def recent_calls():
        """The last API calls (at most 5,000), oldest first: route, start (epoch ms), duration (ms)."""
        return json_response({"items": list(control.calls)})

    @app.post("/_stats/reset", tags=["control"])
    async def reset_stats():
        control.reset()
        return json_response(control.stats())

    @app.get("/_faults", tags=["control"])
    async def get_faults():
        return json_response(control.faults.model_dump())

    @app.put("/_faults", tags=["control"])
    async def put_faults(changes: dict = Body(...)):
        """Partial update: only the given keys change."""
        try:
            control.faults = Faults.model_validate({**control.faults.model_dump(), **changes})
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        return json_response(control.faults.model_dump())

    @app.get("/_meta", tags=["control"])
    async def meta():
        """How this system's data was generated: anchor day, seed, schema version."""
        return json_response(db.meta)

    return app, db
