"""One authentication dependency for every route: the same 401 everywhere, and nothing read before it.

In-process (the app over httpx's ASGITransport, backends on a closed port: no request
here may reach one).
"""

from __future__ import annotations

import hashlib
import logging

import orjson

import pytest

from conftest import bearer
from test_http_exposure import ME, SCRAPER_TOKEN, served

# Every route that takes credentials, as an anonymous caller would ask it.
PROTECTED = {
    "POST /graphql": ("POST", "/graphql", {"json": {"query": ME}}),
    "POST /graphql, bad JSON": ("POST", "/graphql", {"content": b"{"}),
    "POST /graphql, documentId": ("POST", "/graphql", {"json": {"documentId": "sha256:" + "0" * 64}}),
    "GET /graphql": ("GET", "/graphql", {"params": {"query": ME}}),
    "GET /persisted/manifest": ("GET", "/persisted/manifest", {}),
    "GET /bi/<export>": ("GET", "/bi/CustomersOverCreditLimit.csv", {}),
    "GET /bi/<unknown>": ("GET", "/bi/NoSuchReport.csv", {}),
    "POST /admin/policy/reload": ("POST", "/admin/policy/reload", {}),
    "GET /metrics": ("GET", "/metrics", {}),
    "GET /readyz?details": ("GET", "/readyz", {"params": {"details": ""}}),
}


@pytest.mark.parametrize("credentials", [{}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "guess"}],
                         ids=["none", "bad token", "unknown key"])
async def test_every_route_answers_401_the_same_way(caplog, credentials):
    answers = {}
    async with served(ops={"metrics_token_sha256": hashlib.sha256(SCRAPER_TOKEN.encode()).hexdigest()}) as client:
        with caplog.at_level(logging.INFO, logger="isthmus.access"):
            for name, (method, path, options) in PROTECTED.items():
                caplog.clear()
                response = await client.request(method, path, headers={"X-Request-Id": f"r-{len(answers)}", **credentials},
                                                **options)
                audit = [(r.msg, r.principal, r.roles, r.status, r.outcome, r.path) for r in caplog.records
                         if r.name == "isthmus.access"]
                answers[name] = (response, audit)
    bodies = set()
    for n, (name, (response, audit)) in enumerate(answers.items()):
        method, path, _ = PROTECTED[name]
        assert response.status_code == 401, (name, response.status_code, response.text[:300])
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="isthmus"', name
        assert response.headers["content-type"] == "application/json", name
        assert response.headers["X-Request-Id"] == f"r-{n}", name
        body = response.json()
        if path.startswith("/bi/"):  # BI clients read `error` (message and code) beside the GraphQL `errors`
            error = body.pop("error")
            assert error == {"message": body["errors"][0]["message"], "code": "UNAUTHENTICATED"}, (name, error)
        assert list(body) == ["errors"] and len(body["errors"]) == 1, (name, body)
        assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}, (name, body)
        bodies.add(orjson.dumps(body).decode())
        assert len(audit) == 1 and audit[0][1:] == (None, None, 401, "unauthenticated", path), (name, audit)
    assert len(bodies) == 1, bodies  # the message says what is wrong with the credentials, not which route


async def test_public_routes_stay_public():
    async with served() as client:
        page = await client.get("/graphql")
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_a_known_caller_without_the_role_is_refused_403_the_same_way(caplog):
    async with served() as client:
        with caplog.at_level(logging.INFO, logger="isthmus.access"):
            for method, path in (("GET", "/metrics"), ("GET", "/readyz?details"), ("POST", "/admin/policy/reload")):
                caplog.clear()
                response = await client.request(method, path, headers=bearer("finance", user="fin-1"))
                assert response.status_code == 403, path
                assert response.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
                audit = [(r.principal, r.status, r.outcome) for r in caplog.records if r.name == "isthmus.access"]
                assert audit == [("fin-1", 403, "refused")], (path, audit)


async def test_an_unauthenticated_request_parses_and_caches_no_document():
    documents = [f"query Anonymous{n} {{ me {{ id }} }}" for n in range(5)]
    async with served() as client:
        app = client._transport.app  # type: ignore[attr-defined]
        gateway = app.state.gateway
        for n, query in enumerate(documents):
            apq = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
            await client.post("/graphql", json={"query": query, "operationName": f"Anonymous{n}"})
            await client.get("/graphql", params={"query": query})
            await client.post("/graphql", json={"query": query, "extensions": apq})
            assert (await client.post("/graphql", json={"extensions": apq}, headers=bearer("admin"))).json()[
                "errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"  # not registered by the anonymous ask
        assert len(gateway.executor._documents) == 0
        assert len(gateway.documents._demands) == 0
        assert len(gateway.documents._kinds) == 0
        # the same requests with credentials do parse and cache: the test can see a fill
        await client.post("/graphql", json={"query": documents[0]}, headers=bearer("admin"))
        assert documents[0] in gateway.executor._documents
