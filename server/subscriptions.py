"""Subscriptions on the wire: graphql-transport-ws over a WebSocket, graphql-sse over HTTP.

- **WebSocket** at `/graphql`, subprotocol `graphql-transport-ws`. The connection is
  authenticated once, when it opens: from the upgrade request's `Authorization` or
  `X-API-Key` header, or from `connection_init`'s payload (`{"Authorization": "Bearer ..."}`,
  what browsers can send). No valid credentials: closed 4403. No `connection_init` within
  `subscriptions.init_timeout`: 4408. A `subscribe` before it: 4401; an id in use: 4409; a
  second `connection_init`: 4429; a message that is not the protocol's: 4400.
- **Server-sent events** (graphql-sse, distinct connections mode): `POST /graphql` with
  `Accept: text/event-stream` and a subscription, authenticated as any request. Events are
  `next` (a response) and `complete`; a comment every 15 s keeps proxies from closing it.

Either way a token's expiry ends every subscription it opened (WebSocket: closed 4401;
SSE: a last `next` with UNAUTHENTICATED, then `complete`); an API key does not expire.
What a subscription cannot start with (validation, FORBIDDEN, TOO_MANY_SUBSCRIPTIONS) is
its `error` message (WebSocket) or its one `next` (SSE). Responses wait for the socket in a
bounded buffer (`subscriptions.queue_size` per connection): a client that does not read them
as they come is dropped with a clear reason (WebSocket closed 4503 "SUBSCRIBER_TOO_SLOW: ...";
SSE: a last `next` with SUBSCRIBER_TOO_SLOW) rather than let the buffer grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import FastAPI, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from resolvers.context import Principal
from resolvers.live import SubscriberTooSlow
from server.auth import Unauthenticated
from server.errors import BadRequest
from server.gateway import Gateway

log = logging.getLogger("isthmus.subscriptions")

PROTOCOL = "graphql-transport-ws"
KEEP_ALIVE = 15.0
TOO_SLOW = 4503
EXPIRED = "The token has expired; connect again with a new one."


def error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


class Outgoing:
    """What waits for one client's socket: bounded; overflowing ends the connection with a reason."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(size)
        self.slow = asyncio.Event()  # set when the client fell behind: nothing more is queued

    def put(self, kind: str, message: Any) -> bool:
        """Queue a message; False once the client has fallen behind (the sender should stop)."""
        if self.slow.is_set():
            return False
        try:
            self.queue.put_nowait((kind, message))
        except asyncio.QueueFull:
            self.end("slow", None)
            return False
        return True

    def end(self, kind: str, message: Any = None) -> None:
        """The last thing the client gets, ahead of anything waiting."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait((kind, message))
        if kind == "slow":
            self.slow.set()


def too_slow(size: int) -> str:
    return f"{SubscriberTooSlow.code}: more than {size} messages were waiting for this client; it was disconnected."


async def forward(
    gateway: Gateway, payload: Any, principal: Principal, request_id: str, emit: Callable[[str, Any], bool]
) -> None:
    """Run one subscription, handing its messages to `emit`: ("next", response), ("error", errors),
    ("complete", None), ("slow", reason); it stops when `emit` answers False (the client fell behind)."""
    try:
        opened = await gateway.subscribe(payload, request_id=request_id, principal=principal)
    except BadRequest as exc:
        emit("error", [error(str(exc), exc.code)])
        return
    if isinstance(opened, dict):
        emit("error", opened.get("errors") or [error("The subscription could not start.", "BAD_REQUEST")])
        return
    try:
        async for response in opened:
            if not emit("next", response):
                return
    except SubscriberTooSlow as exc:
        emit("slow", str(exc))
        return
    finally:
        await opened.aclose()
    emit("complete", None)


async def until_expiry(expires: float | None) -> None:
    """Sleep until a token's `exp` (forever for credentials that do not expire)."""
    if expires is None:
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(max(0.0, expires - time.time()))


class TransportWs:
    """One WebSocket connection speaking graphql-transport-ws."""

    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.app = websocket.app
        self.settings = self.app.state.services.settings.subscriptions
        self.gateway: Gateway = self.app.state.gateway
        self.out = Outgoing(self.settings.queue_size)
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.request_id = uuid.uuid4().hex

    async def run(self) -> None:
        if PROTOCOL not in self.ws.scope.get("subprotocols", []):
            await self.ws.close(4406, "Subprotocol not acceptable: speak graphql-transport-ws")
            return
        await self.ws.accept(subprotocol=PROTOCOL)
        try:
            init = await asyncio.wait_for(self.receive(), self.settings.init_timeout)
        except TimeoutError:
            await self.ws.close(4408, "Connection initialisation timeout")
            return
        except (WebSocketDisconnect, ValueError):
            return
        if init.get("type") != "connection_init":
            await self.ws.close(4401, "Unauthorized: send connection_init first")
            return
        try:
            principal, expires = self.authenticate(init.get("payload"))
        except Unauthenticated as exc:
            await self.ws.close(4403, f"Forbidden: {exc}"[:120])
            return
        await self.send({"type": "connection_ack"})
        writer = asyncio.create_task(self.write())
        reader = asyncio.create_task(self.read(principal))
        expiry = asyncio.create_task(until_expiry(expires))
        slow = asyncio.create_task(self.out.slow.wait())  # the writer may be stuck on a client that reads nothing
        tasks = (writer, reader, expiry, slow)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if expiry in done:
                await self.close(4401, f"Unauthorized: {EXPIRED}")
            elif slow in done:
                _, reason = self.out.queue.get_nowait() if not self.out.queue.empty() else ("slow", None)
                await self.close(TOO_SLOW, (reason or too_slow(self.settings.queue_size))[:120])
            elif reader in done and not reader.cancelled() and reader.exception() is None:
                violation = reader.result()
                if violation is not None:
                    await self.close(*violation)
        finally:
            for task in (*tasks, *self.operations.values()):
                task.cancel()
            await asyncio.gather(*tasks, *self.operations.values(), return_exceptions=True)

    def authenticate(self, payload: Any) -> tuple[Principal, float | None]:
        headers = {key.lower(): value for key, value in self.ws.headers.items()}
        if isinstance(payload, dict):
            headers.update({str(key).lower(): value for key, value in payload.items() if isinstance(value, str)})
        authenticator = self.app.state.services.authenticator
        session: tuple[Principal, float | None] = authenticator.session(headers)
        return session

    async def receive(self) -> dict[str, Any]:
        message = orjson.loads(await self.ws.receive_text())
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ValueError("not a protocol message")
        return message

    async def read(self, principal: Principal) -> tuple[int, str] | None:
        """Messages from the client until it goes; a protocol violation: the close code and reason."""
        while True:
            try:
                message = await self.receive()
            except WebSocketDisconnect:
                return None
            except ValueError:
                return 4400, "Invalid message"
            kind, op_id = message["type"], message.get("id")
            if kind == "ping":
                self.out.put("raw", {"type": "pong"})
            elif kind == "pong":
                continue
            elif kind == "connection_init":
                return 4429, "Too many initialisation requests"
            elif kind == "subscribe" and isinstance(op_id, str) and isinstance(message.get("payload"), dict):
                if op_id in self.operations:
                    return 4409, f"Subscriber for {op_id[:80]} already exists"
                self.operations[op_id] = asyncio.create_task(self.operate(op_id, message["payload"], principal))
            elif kind == "complete" and isinstance(op_id, str):
                task = self.operations.pop(op_id, None)
                if task is not None:
                    task.cancel()
            else:
                return 4400, f"Invalid message of type {kind[:40]!r}"

    async def operate(self, op_id: str, payload: dict[str, Any], principal: Principal) -> None:
        def emit(kind: str, message: Any) -> bool:
            if kind == "next":
                return self.out.put("raw", {"id": op_id, "type": "next", "payload": message})
            if kind == "error":
                return self.out.put("raw", {"id": op_id, "type": "error", "payload": message})
            if kind == "complete":
                return self.out.put("raw", {"id": op_id, "type": "complete"})
            self.out.end("slow", message)
            return False

        try:
            await forward(self.gateway, payload, principal, f"{self.request_id}:{op_id[:40]}", emit)
        finally:
            if self.operations.get(op_id) is asyncio.current_task():
                del self.operations[op_id]

    async def write(self) -> None:
        """Send what waits, in order (falling behind is seen by `run`)."""
        while True:
            kind, message = await self.out.queue.get()
            if kind == "slow":
                return
            await self.send(message)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(orjson.dumps(message).decode())

    async def close(self, code: int, reason: str) -> None:
        """Close, not waiting long for a client that does not read."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason), 1.0)


def sse_response(
    gateway: Gateway, payload: Any, principal: Principal, expires: float | None, size: int
) -> StreamingResponse:
    """graphql-sse, distinct connections mode: the subscription's responses as `next` events, then `complete`."""
    out = Outgoing(size)
    request_id = uuid.uuid4().hex

    def emit(kind: str, message: Any) -> bool:
        if kind == "next":
            return out.put("next", message)
        if kind == "error":
            return out.put("next", {"errors": message}) and out.put("complete", None)
        if kind == "complete":
            return out.put("complete", None)
        out.end("slow", message)
        return False

    async def events() -> AsyncIterator[bytes]:
        running = asyncio.create_task(forward(gateway, payload, principal, request_id, emit))
        expiry = asyncio.create_task(until_expiry(expires))
        try:
            while True:
                waiting = asyncio.create_task(out.queue.get())
                done, _ = await asyncio.wait({waiting, expiry}, timeout=KEEP_ALIVE, return_when=asyncio.FIRST_COMPLETED)
                if expiry in done:
                    waiting.cancel()
                    yield event("next", {"errors": [error(EXPIRED, Unauthenticated.code)]}) + event("complete", None)
                    return
                if waiting not in done:
                    waiting.cancel()
                    yield b":\n\n"
                    continue
                kind, message = waiting.result()
                if kind == "slow":
                    reason = message or too_slow(size)
                    yield event("next", {"errors": [error(reason, SubscriberTooSlow.code)]}) + event("complete", None)
                    return
                yield event(kind, message)
                if kind == "complete":
                    return
        finally:
            for task in (running, expiry):
                task.cancel()
            await asyncio.gather(running, expiry, return_exceptions=True)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Request-Id": request_id},
    )


def event(kind: str, data: Any) -> bytes:
    body = b"" if data is None else orjson.dumps(data)
    return b"event: " + kind.encode() + b"\ndata: " + body + b"\n\n"


def wants_events(accept: str | None) -> bool:
    return bool(accept) and "text/event-stream" in (accept or "")


def add_subscription_routes(app: FastAPI) -> None:
    """The WebSocket endpoint; SSE is answered by `POST /graphql` itself (server/http.py)."""

    @app.websocket("/graphql")
    async def graphql_ws(websocket: WebSocket) -> None:
        await TransportWs(websocket).run()
