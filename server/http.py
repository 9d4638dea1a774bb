"""The HTTP face of the gateway: GraphQL over POST and GET, GraphiQL; BI, persisted and ops routes wired in.

`create_app(settings, demo=...)`: only `isthmus demo` passes a `DemoSite` (server/demo.py), which adds
its tokens per role (GraphiQL's role picker) and the example front-ends; settings cannot.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.context import Principal
from server import access, fresh_reads
from server.access import audit, caller, caller_unless, take_request_id
from server.bi import Exports, add_bi_routes
from server.demo import TOKENS_PATH, DemoSite, add_demo_routes
from server.events import add_event_routes
from server.gateway import (
    TIMEOUT_HEADER,
    TRACE_HEADER,
    BadRequest,
    Gateway,
    error_body,
    requested_max_age,
    requested_timeout,
)
from server.graphiql import add_graphiql_assets
from server.graphiql import page as graphiql_page
from server.metrics import Metrics
from server.ops import add_ops_routes
from server.persisted import PersistedDocuments, add_manifest_route, conditional_get
from server.settings import Settings
from server.subscriptions import add_subscription_routes, sse_response, wants_events
from server.wiring import Services


def create_app(settings: Settings | None = None, demo: DemoSite | None = None) -> FastAPI:
    settings = settings or Settings.load(os.environ.get("ISTHMUS_CONFIG"))
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The wiring (server/wiring.py) and the request pipeline on it (server/gateway.py).
        app.state.services = services = Services(settings)
        app.state.gateway = Gateway(services)
        metrics.watch(services.live)
        await services.start()
        # Trusted documents, the APQ store and the BI exports (server/persisted.py, server/bi.py).
        app.state.documents = PersistedDocuments(services, app.state.gateway)
        app.state.exports = Exports(app.state.documents, services.executor.schema, settings.persisted.bi_page_size)
        tune_garbage_collector()
        try:
            yield
        finally:
            await app.state.documents.aclose()
            await services.aclose()

    app = FastAPI(title="Isthmus", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.metrics = metrics
    access.install(app)

    async def run(request: Request, request_id: str, payload: Any, principal: Principal) -> Response:
        gateway: Gateway = request.app.state.gateway
        started = time.perf_counter()
        status, outcome, extra_headers = 200, "ok", {}
        denied: set[str] = set()
        result: dict[str, Any] | None = None
        trusted = None
        # Where this request's time goes, in seconds: for operators (`/metrics`), never in the response.
        phases = {"authenticate": getattr(request.state, "authenticated_in", 0.0)}
        # Operation names label metrics series; only authenticated callers reach here to name one.
        operation = metrics.operation_label(gateway.operation_name(payload))
        try:
            # A documentId or APQ hash becomes its text; safelisting may refuse the document.
            resolved, trusted = await request.app.state.documents.resolve(payload, principal, request.method)
            if resolved is not payload:
                payload = resolved
                operation = metrics.operation_label(gateway.operation_name(payload))
            phases["parse_validate"] = time.perf_counter() - started
            result, denied = await gateway.handle(
                payload,
                request_id=request_id,
                principal=principal,
                method=request.method,
                want_trace=request.headers.get(TRACE_HEADER, "").lower() in ("1", "true"),
                max_age=requested_max_age(request.headers.get("cache-control")),
                insist_fresh=fresh_reads.insists(request.headers.get("cache-control")),
                timeout=requested_timeout(request.headers.get(TIMEOUT_HEADER)),
                phases=phases,
                document_id=trusted.document_id if trusted else None,
            )
            serialising = time.perf_counter()
            body = orjson.dumps(result)
            phases["serialise"] = time.perf_counter() - serialising
            if result.get("errors"):
                outcome = "partial" if result.get("data") else "error"
                extra_headers = retry_after(result)
        except BadRequest as exc:
            status, outcome, body = exc.status, "refused", error_body(str(exc), exc.code)
            extra_headers = exc.headers
        seconds = time.perf_counter() - started
        metrics.request(operation, outcome, seconds)
        metrics.phases(phases)
        audit(
            request,
            principal=principal,
            status=status,
            outcome=outcome,
            operation=operation,
            denied=sorted(denied),
            document=trusted.document_id if trusted else None,
            duration_ms=round(seconds * 1000, 2),
        )
        response = respond(body, request_id, status)
        response.headers.update(extra_headers)
        if request.method == "GET" and status == 200 and result is not None:
            response = conditional_get(request, response, result, gateway)  # ETag, Cache-Control, 304
        return response

    @app.post("/graphql", summary="Run a GraphQL operation")
    async def graphql_post(request: Request, principal: Principal = Depends(caller)) -> Response:
        request_id = take_request_id(request)
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            return respond(
                error_body(f"The body is larger than {settings.max_body_bytes} bytes.", "BAD_REQUEST"), request_id, 413
            )
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return respond(error_body(f"The body is not valid JSON: {exc}.", "BAD_REQUEST"), request_id, 400)
        if wants_events(request.headers.get("accept")):  # graphql-sse: a subscription as server-sent events
            _, expires = request.app.state.services.authenticator.session(request.headers)
            audit(request, principal=principal, status=200, outcome="subscribed", operation="subscription")
            return sse_response(
                request.app.state.gateway, payload, principal, expires, settings.subscriptions.queue_size
            )
        return await run(request, request_id, payload, principal)

    @app.get("/graphql", summary="GraphiQL, or a query sent with GET")
    async def graphql_get(request: Request, principal: Principal | None = Depends(caller_unless(graphiql))) -> Response:
        request_id = take_request_id(request)
        params = request.query_params
        if principal is None:
            return graphiql_page(request, TOKENS_PATH if demo is not None else None)
        payload: dict[str, Any] = {"query": params.get("query"), "operationName": params.get("operationName")}
        if "documentId" in params:
            payload["documentId"] = params["documentId"]
        for name in ("variables", "extensions"):  # JSON-encoded, as in GraphQL over HTTP and Apollo's APQ
            if params.get(name):
                try:
                    payload[name] = orjson.loads(params[name])
                except orjson.JSONDecodeError:
                    return respond(error_body(f"`{name}` is not valid JSON.", "BAD_REQUEST"), request_id, 400)
        return await run(request, request_id, payload, principal)

    add_graphiql_assets(app)
    if demo is not None:
        add_demo_routes(app, demo)
    add_manifest_route(app)
    add_bi_routes(app, metrics, take_request_id)
    add_event_routes(app, metrics, settings.events)
    add_subscription_routes(app)

    add_ops_routes(app, metrics)
    app.add_middleware(VaryOnCredentials)

    return app


class VaryOnCredentials:
    """`Vary: Authorization, X-API-Key` on every answer: shared caches must key answers by the caller.

    GraphQL, BI exports, the manifest, ops details, 401s and 403s all depend on who asks;
    an HTTP cache that ignored it served one caller's rows to the next. One place, for
    every route, streamed answers included (the header goes out with the response start).
    """

    VARY = {b"authorization": b"Authorization", b"x-api-key": b"X-API-Key"}  # lower case: as written

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.varied(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, sending)

    @classmethod
    def varied(cls, headers: Any) -> list[tuple[bytes, bytes]]:
        """Raw ASGI headers with the credentials named in one `Vary` (merged with any already there)."""
        kept: list[tuple[bytes, bytes]] = []
        named: list[bytes] = []
        for key, value in headers:
            if key.lower() == b"vary":
                named += [name.strip() for name in value.split(b",") if name.strip()]
            else:
                kept.append((key, value))
        if b"*" in named:
            return list(headers)
        present = {name.lower() for name in named}
        named += [shown for lower, shown in cls.VARY.items() if lower not in present]
        kept.append((b"vary", b", ".join(named)))
        return kept


def graphiql(request: Request) -> bool:
    """GET /graphql without a query, a documentId or extensions: the GraphiQL page, for anyone."""
    return not {"query", "documentId", "extensions"} & set(request.query_params.keys())


def retry_after(result: dict[str, Any]) -> dict[str, str]:
    """`Retry-After` for an answer with BACKEND_BUSY errors: the longest wait they advise."""
    waits = [
        int(extensions.get("retryAfter") or 1)
        for error in result.get("errors") or ()
        if (extensions := error.get("extensions") or {}).get("code") == "BACKEND_BUSY"
    ]
    return {"Retry-After": str(max(waits))} if waits else {}


def respond(body: bytes, request_id: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers={"X-Request-Id": request_id})


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections: a 360 page allocates tens of thousands of short-lived objects.

    With the default threshold (700) the collector ran many times per request and
    cost about a third of a 50-customer page (measured: 318 -> 175-270 ms). Freezing
    what start-up allocated keeps it out of every later full collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
