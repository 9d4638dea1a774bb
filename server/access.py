"""Who is asking, and the record of it: the one authentication dependency and the one audit writer.

Every route that needs a caller declares `Depends(caller)` (FastAPI's security pattern:
the current principal, declared once). A request without valid credentials never
reaches its route, so nothing of it (body, GraphQL document) is read, parsed or cached;
`answer_unauthenticated` answers it the same way on every route: 401, a coded body
(`extensions.code = UNAUTHENTICATED`), `WWW-Authenticate: Bearer realm="isthmus"`,
`X-Request-Id`, one audit line, and the `unauthenticated` metrics series. A caller
who is known but may not do what they ask is refused alike with 403 (`Forbidden`).

`audit` writes the access line (logger `isthmus.access`) of every route: who asked,
what, with which outcome.

BI tools that cannot send headers (shillelagh's CSV adapter, a spreadsheet's "from
web") authenticate `/bi/` with the query string instead: RFC 6750's `access_token`
(a JWT) or `api_key`. Only `bi_caller` reads them, and only `/bi/` routes declare it;
everywhere else a credential in the URL is no credential. A URL is written down by
proxies, browsers' histories and servers' logs, so the gateway's own access line never
holds it: the parameters it records have the credential's value replaced (`redacted`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response

from resolvers.context import Principal
from server import logs
from server.auth import Unauthenticated
from server.gateway import bi_error_body, error_body
from server.metrics import UNAUTHENTICATED
from sources.errors import IsthmusError

CHALLENGE = 'Bearer realm="isthmus"'
# Credentials a `/bi/` URL may carry (`bi_caller`), as the header each stands for.
URL_CREDENTIALS = {"access_token": "authorization", "api_key": "x-api-key"}
REDACTED = "[redacted]"
# The audit event of a route: the first segment of its path.
EVENTS = {"graphql": "graphql", "bi": "bi", "persisted": "manifest"}


class Forbidden(IsthmusError):
    """An authenticated caller who may not use this route: 403, coded FORBIDDEN, audited."""

    code = "FORBIDDEN"
    http = "403"

    def __init__(self, message: str, principal: Principal | None) -> None:
        super().__init__(message)
        self.principal = principal


def take_request_id(request: Request) -> str:
    """The caller's X-Request-Id (if sane) or a new one, the same for the whole request; logs and the response carry it."""
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        given = request.headers.get("x-request-id", "")
        rid = request.state.request_id = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
    logs.request_id.set(rid)
    return rid


async def caller(request: Request) -> Principal:
    """The authentication dependency: the request's principal; `Unauthenticated` is answered 401 for the route.

    `async`, though it never waits: FastAPI runs a plain `def` dependency in its thread pool,
    a thread hand-off per request for a few microseconds of work.
    """
    take_request_id(request)
    request.state.started = started = time.perf_counter()
    principal: Principal = request.app.state.services.authenticator.authenticate(request.headers)
    request.state.authenticated_in = time.perf_counter() - started  # a phase of the request (server/http.py)
    return principal


async def bi_caller(request: Request) -> Principal:
    """`caller` for `/bi/`: the credential may instead be the query parameter `access_token` or `api_key`."""
    given = [name for name in URL_CREDENTIALS if name in request.query_params]
    if not given:
        return await caller(request)
    take_request_id(request)
    request.state.started = started = time.perf_counter()
    if len(given) > 1 or any(request.headers.get(header) for header in URL_CREDENTIALS.values()):
        raise Unauthenticated("Send one credential: a header, `access_token` or `api_key`, not several.")
    value = request.query_params[given[0]]
    headers = {"authorization": f"Bearer {value}"} if given[0] == "access_token" else {"x-api-key": value}
    principal: Principal = request.app.state.services.authenticator.authenticate(headers)
    request.state.authenticated_in = time.perf_counter() - started
    return principal


def redacted_query(request: Request) -> str | None:
    """The request's query string for the access line, a credential's value replaced (None: no query)."""
    if not request.scope.get("query_string"):
        return None
    pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    return "&".join(f"{k}={REDACTED if k in URL_CREDENTIALS else v}" for k, v in pairs)


def caller_unless(public: Callable[[Request], bool]) -> Callable[[Request], Awaitable[Principal | None]]:
    """`caller` for a route that answers some requests without credentials (those `public` picks: None)."""

    async def dependency(request: Request) -> Principal | None:
        return None if public(request) else await caller(request)

    return dependency


def path_of(request: Request) -> str:
    """`request.url.path` without building the URL (host, port, query) it is part of."""
    return request.scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def audit(request: Request, *, principal: Principal | None, status: int, outcome: str, **fields: Any) -> None:
    """The one access line: who asked (principal, roles), what (method, path, the route's fields), and the outcome."""
    path = path_of(request)
    if path.startswith("/bi/"):  # the export's parameters; a credential there is redacted
        fields["query"] = redacted_query(request)
    logs.access(
        EVENTS.get(path.strip("/").partition("/")[0], "ops"),
        {
            "principal": principal.id if principal else None,
            "roles": list(principal.roles) if principal else None,
            "method": request.method,
            "path": path,
            "status": status,
            "outcome": outcome,
            **fields,
        },
    )


def refusal(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        bi_error_body(message, code) if path_of(request).startswith("/bi/") else error_body(message, code),
        status,
        media_type="application/json",
        headers={"X-Request-Id": take_request_id(request), **(headers or {})},
    )


async def answer_unauthenticated(request: Request, exc: Exception) -> Response:
    """The 401 of every route: the same body shape, challenge, audit line and metrics series."""
    started = getattr(request.state, "started", None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    request.app.state.metrics.request(UNAUTHENTICATED, "unauthenticated", seconds)
    audit(request, principal=None, status=401, outcome="unauthenticated", duration_ms=round(seconds * 1000, 2))
    return refusal(request, 401, Unauthenticated.code, str(exc), {"WWW-Authenticate": CHALLENGE})


async def answer_forbidden(request: Request, exc: Exception) -> Response:
    principal = exc.principal if isinstance(exc, Forbidden) else None
    audit(request, principal=principal, status=403, outcome="refused")
    return refusal(request, 403, Forbidden.code, str(exc))


def install(app: Any) -> None:
    """Answer `Unauthenticated` and `Forbidden` raised by a route's dependencies, the same way for every route."""
    app.add_exception_handler(Unauthenticated, answer_unauthenticated)
    app.add_exception_handler(Forbidden, answer_forbidden)
