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

A refusal is 401 or 403 with a coded error and an audit line, like every other (`server/access.py`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from resolvers.context import Principal
from server.access import Forbidden, audit, caller
from sources.admission import Budget

OPERATOR_ROLE = "admin"
WHAT = {
    "/readyz": "see the readiness details",
    "/metrics": "read the metrics",
    "/admin/policy/reload": "reload the policy",
}


def scraper(request: Request) -> bool:
    """Whether the request carries the metrics token (`Authorization: Bearer <token>`, its SHA-256 configured)."""
    token_sha256 = (request.app.state.services.settings.ops.metrics_token_sha256 or "").lower()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not token_sha256 or scheme.lower() != "bearer" or not token.strip():
        return False
    return hmac.compare_digest(hashlib.sha256(token.strip().encode()).hexdigest(), token_sha256)


async def admin(request: Request) -> Principal:
    """The dependency of admin routes: an authenticated caller with the admin role, else 401 or 403."""
    principal = await caller(request)
    if OPERATOR_ROLE not in principal.roles:
        raise Forbidden(f"Only admins may {WHAT.get(request.url.path, 'do this')}.", principal)
    return principal


async def operator(request: Request) -> Principal | None:
    """The dependency of operational details: the metrics token (None: no principal), or an admin."""
    return None if scraper(request) else await admin(request)


def details_wanted(request: Request) -> bool:
    details = request.query_params.get("details")
    return details is not None and details.lower() not in ("0", "false", "no")


async def operator_for_details(request: Request) -> Principal | None:
    """`/readyz` is public; `?details` takes an operator."""
    return await operator(request) if details_wanted(request) else None


def budgets_of(services: Any) -> list[Budget]:
    return [source.http.budget for source in services.backends.all() if source.http.budget is not None]


def add_ops_routes(app: FastAPI, metrics: Any) -> None:
    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Whether the backends (and Redis) can be reached; details for operators")
    async def readyz(
        request: Request,
        _: Principal | None = Depends(operator_for_details),
        details: str | None = Query(
            None,
            description="Present (e.g. `?details`): each source's circuit, the policy, "
            "Redis. Needs an admin or the metrics token.",
        ),
    ) -> Response:
        """`ready`, `degraded` or `unavailable` (503); with `?details`, why.

        A circuit that refuses calls (open, or half-open with its probe out), a backend whose
        budget is saturated (calls queueing or shed), or an unreachable Redis makes the gateway
        `degraded` (it still answers: that system's fields null or slower, or in-process caches
        and budgets instead of the shared ones); only when every circuit
        refuses is it not ready (503), since a replica that can answer nothing should leave
        rotation. Redis alone never takes a replica out: all of them would lose it at once.
        """
        wanted = details_wanted(request)
        services = request.app.state.services
        breakers = {source.name: source.http.breaker for source in services.backends.all()}
        sources = {name: {"circuit": breaker.state} for name, breaker in breakers.items()}
        open_count = sum(1 for breaker in breakers.values() if breaker.refusing)
        status = "ready" if open_count == 0 else "unavailable" if open_count == len(sources) else "degraded"
        for budget in budgets_of(services):
            sources[budget.source]["budget"] = budget.status()
            if budget.saturated and status == "ready":
                status = "degraded"
        redis = None
        if services.redis is not None:
            await services.redis.run("ping", lambda client: client.ping(), None)
            redis = services.redis.status()  # its error text is already redacted
            if redis["state"] != "up" and status == "ready":
                status = "degraded"
        body: dict[str, Any] = {"status": status}
        if wanted:
            policy = services.authorizer.policy
            body.update(sources=sources, policy={"version": policy.version, "digest": policy.digest})
            if redis is not None:
                body["redis"] = redis
        return JSONResponse(body, status_code=503 if status == "unavailable" else 200)

    @app.get("/metrics", summary="Prometheus metrics (an admin or the metrics token)", dependencies=[Depends(operator)])
    async def prometheus(request: Request) -> Response:
        metrics.budgets(budgets_of(request.app.state.services))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/admin/policy/reload", summary="Reload the authorisation policy now (admin only)")
    async def reload_policy(request: Request, principal: Principal = Depends(admin)) -> JSONResponse:
        authorizer = request.app.state.services.authorizer
        reloaded = authorizer.reload()
        audit(
            request, principal=principal, status=200 if reloaded else 422, outcome="reloaded" if reloaded else "refused"
        )
        body = {"reloaded": reloaded, "version": authorizer.policy.version}
        return JSONResponse(body, status_code=200 if reloaded else 422)
