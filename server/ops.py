"""Operating the gateway: liveness, readiness, metrics, a policy reload, and who may see them.

- `/healthz` and `/readyz` (`{"status": "ready|degraded|unavailable"}` and its HTTP
  code) are public: load balancers ask without credentials.
- The details, `/readyz?details` (each source's circuit, the policy's version and
  digest, Redis's state and last error) and `/metrics` (operation names, backends,
  failure counts), map the deployment for an attacker: they take an operator, a
  principal with the `admin` role, or a scraper sending the metrics token
  (`Authorization: Bearer <token>`, its SHA-256 in `ops.metrics_token_sha256`; the
  token opens these two and nothing else).
- `POST /admin/policy/reload`: admins only.

A refusal is 401 or 403 with a coded error and an audit line, like every other.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from resolvers.context import Principal
from server.auth import Unauthenticated
from server.settings import Settings

access_log = logging.getLogger("isthmus.access")

OPERATOR_ROLE = "admin"


def add_ops_routes(app: FastAPI, metrics: Any, settings: Settings) -> None:
    token_sha256 = (settings.ops.metrics_token_sha256 or "").lower()

    def refuse(request: Request, status: int, code: str, message: str, principal: Principal | None) -> JSONResponse:
        access_log.info("ops", extra={
            "principal": principal.id if principal else None,
            "roles": list(principal.roles) if principal else None,
            "method": request.method, "path": request.url.path, "status": status, "outcome": "refused",
        })
        headers = {"WWW-Authenticate": 'Bearer realm="isthmus"'} if status == 401 else None
        return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers=headers)

    def scraper(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token_sha256 or scheme.lower() != "bearer" or not token.strip():
            return False
        return hmac.compare_digest(hashlib.sha256(token.strip().encode()).hexdigest(), token_sha256)

    def admin(request: Request, what: str) -> tuple[Principal | None, JSONResponse | None]:
        """The caller if an admin, else the 401/403 to answer."""
        try:
            principal = request.app.state.gateway.authenticator.authenticate(request.headers)
        except Unauthenticated as exc:
            return None, refuse(request, 401, "UNAUTHENTICATED", str(exc), None)
        if OPERATOR_ROLE not in principal.roles:
            return principal, refuse(request, 403, "FORBIDDEN", f"Only admins may {what}.", principal)
        return principal, None

    def operator(request: Request, what: str) -> JSONResponse | None:
        """None when the caller may see operational details (the metrics token, or an admin)."""
        return None if scraper(request) else admin(request, what)[1]

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Whether the backends (and Redis) can be reached; details for operators")
    async def readyz(
        request: Request,
        details: str | None = Query(None, description="Present (e.g. `?details`): each source's circuit, the policy, "
                                                      "Redis. Needs an admin or the metrics token."),
    ) -> Response:
        """`ready`, `degraded` or `unavailable` (503); with `?details`, why.

        A circuit that refuses calls (open, or half-open with its probe out) or an unreachable
        Redis makes the gateway `degraded` (it still answers: that system's fields null, or
        in-process caches and budgets instead of the shared ones); only when every circuit
        refuses is it not ready (503), since a replica that can answer nothing should leave
        rotation. Redis alone never takes a replica out: all of them would lose it at once.
        """
        wanted = details is not None and details.lower() not in ("0", "false", "no")
        if wanted and (refused := operator(request, "see the readiness details")) is not None:
            return refused
        gateway = request.app.state.gateway
        breakers = {source.name: source.http.breaker for source in gateway.backends.all()}
        sources = {name: {"circuit": breaker.state} for name, breaker in breakers.items()}
        open_count = sum(1 for breaker in breakers.values() if breaker.refusing)
        status = "ready" if open_count == 0 else "unavailable" if open_count == len(sources) else "degraded"
        redis = None
        if gateway.redis is not None:
            await gateway.redis.run("ping", lambda client: client.ping(), None)
            redis = gateway.redis.status()  # its error text is already redacted
            if redis["state"] != "up" and status == "ready":
                status = "degraded"
        body: dict[str, Any] = {"status": status}
        if wanted:
            policy = gateway.authorizer.policy
            body.update(sources=sources, policy={"version": policy.version, "digest": policy.digest})
            if redis is not None:
                body["redis"] = redis
        return JSONResponse(body, status_code=503 if status == "unavailable" else 200)

    @app.get("/metrics", summary="Prometheus metrics (an admin or the metrics token)")
    async def prometheus(request: Request) -> Response:
        if (refused := operator(request, "read the metrics")) is not None:
            return refused
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/admin/policy/reload", summary="Reload the authorisation policy now (admin only)")
    async def reload_policy(request: Request) -> JSONResponse:
        principal, refused = admin(request, "reload the policy")
        if refused is not None:
            return refused
        gateway = request.app.state.gateway
        reloaded = gateway.authorizer.reload()
        access_log.info("ops", extra={
            "principal": principal.id, "roles": list(principal.roles), "method": request.method,
            "path": request.url.path, "status": 200 if reloaded else 422, "outcome": "reloaded" if reloaded else "refused",
        })
        body = {"reloaded": reloaded, "version": gateway.authorizer.policy.version}
        return JSONResponse(body, status_code=200 if reloaded else 422)
