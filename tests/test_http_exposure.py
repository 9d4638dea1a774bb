"""What the HTTP layer gives away, and to whom: caches, tokens, Decimals, ops endpoints, logs, traces.

In-process: the FastAPI app over httpx's ASGITransport (its lifespan run by hand), so
a test sees the exact status, headers and log records. Backends are the demo systems
where an answer needs data, else a closed port: these requests never reach one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import free_port
from conftest import AUTH, bearer
from server import logs
from server.http import create_app
from server.settings import BackendSettings, Settings
from test_persisted import BI, BI_AUTH

ME = "{ me { id roles } }"
SCRAPER_TOKEN = "prometheus-scrape-token-for-tests"


def nowhere() -> dict[str, BackendSettings]:
    """Backends on a closed port: for requests that must not need one."""
    url = f"http://127.0.0.1:{free_port()}"
    return {name: BackendSettings(url=url, timeout=0.5) for name in ("crm", "erp", "clm", "desk")}


@asynccontextmanager
async def served(backends: dict[str, BackendSettings] | None = None, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(**{"auth": AUTH, **(backends or nowhere()), **settings}))
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: an unhandled error is the 500 a client would see
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://isthmus", timeout=30) as client:
            yield client


def live(systems) -> dict[str, BackendSettings]:
    return {name: BackendSettings(url=url) for name, url in systems.urls.items()}


def vary(response: httpx.Response) -> list[str]:
    return [name.strip().lower() for name in response.headers.get("vary", "").split(",") if name.strip()]


def codes(body: dict) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors", [])}


# --- every answer that depends on the caller says so to shared caches ---------------


async def test_every_answer_varies_on_the_credentials(systems):
    async with served(live(systems), auth=BI_AUTH) as client:
        answers = {
            "POST /graphql": await client.post("/graphql", json={"query": ME}, headers=bearer("finance")),
            "POST /graphql 401": await client.post("/graphql", json={"query": ME}),
            "GET /graphql": await client.get("/graphql", params={"query": ME}, headers=bearer("finance")),
            "GET /graphql 401": await client.get("/graphql", params={"query": ME}),
            "bad JSON 400": await client.post("/graphql", content=b"{", headers=bearer("finance")),
            "BI csv": await client.get("/bi/CustomersOverCreditLimit.csv", params={"tier": "STRATEGIC"}, headers=BI),
            "BI 401": await client.get("/bi/CustomersOverCreditLimit.csv"),
            "BI unknown 404": await client.get("/bi/NoSuchReport.csv", headers=BI),
            "BI trusted-only 403": await client.post("/graphql", json={"query": ME}, headers=BI),
            "manifest": await client.get("/persisted/manifest", headers=BI),
            "manifest 401": await client.get("/persisted/manifest"),
            "documentId 404": await client.post("/graphql", json={"documentId": "sha256:" + "0" * 64}, headers=BI),
            "metrics 403": await client.get("/metrics", headers=bearer("finance")),
        }
    expected_status = {"401": 401, "400": 400, "404": 404, "403": 403}
    for name, response in answers.items():
        status = next((code for word, code in expected_status.items() if name.endswith(word)), 200)
        assert response.status_code == status, (name, response.text[:300])
        assert vary(response).count("authorization") == 1 and vary(response).count("x-api-key") == 1, (name, response.headers)
    assert answers["BI csv"].headers["cache-control"] == "private, no-store"


# --- Decimals a resolver cannot compute with are the caller's error, named ----------

DECIMALS = ["1e999999", "NaN", "Infinity", "-Infinity", "sNaN", "1e9999999999", "1E-999999", "-0", 1e308]


@pytest.fixture(scope="module")
def kit(catalogue) -> str:
    return next(sku for sku in sorted(catalogue.boms) if catalogue.boms[sku])


def decimal_requests(kit: str, value: Any) -> dict[str, tuple[dict, str]]:
    """Each Decimal argument, as a literal and as a variable: the request, and the names its error may carry
    (the variable, or the argument when the scalar takes the value and the resolver refuses it: "-0" is 0)."""
    literal = json.dumps(str(value))
    line = {"sku": kit, "quantity": "1", "unitPrice": "10"}
    quote = "query($i: QuoteInput!) { quote(input: $i) { total } }"
    return {
        "buildable literal": ({"query": f'{{ buildable(sku: "{kit}", quantity: {literal}) {{ complete }} }}'}, "quantity"),
        "buildable variable": ({"query": 'query($q: Decimal!) { buildable(sku: "%s", quantity: $q) { complete } }' % kit,
                                "variables": {"q": value}}, "$q|quantity"),
        "atp literal": ({"query": f'{{ atp(sku: "{kit}", quantity: {literal}) {{ available }} }}'}, "quantity"),
        "atp variable": ({"query": 'query($q: Decimal!) { atp(sku: "%s", quantity: $q) { available } }' % kit,
                          "variables": {"q": value}}, "$q|quantity"),
        "availability": ({"query": 'query($q: Decimal) { product(sku: "%s") { availability(quantity: $q) { available } } }' % kit,
                          "variables": {"q": value}}, "$q|quantity"),
        "quote quantity": ({"query": quote, "variables": {"i": {"customerId": "C00001", "lines": [{**line, "quantity": value}]}}},
                           "lines[0].quantity"),
        "quote unitPrice": ({"query": quote, "variables": {"i": {"customerId": "C00001", "lines": [{**line, "unitPrice": value}]}}},
                            "lines[0].unitPrice"),
        "quote literal": ({"query": '{ quote(input: {customerId: "C00001", lines: [{sku: "%s", quantity: %s, unitPrice: "1"}]}) '
                                    '{ total } }' % (kit, literal)}, "lines[0].quantity"),
    }


@pytest.mark.parametrize("value", DECIMALS, ids=str)
async def test_decimal_arguments_out_of_bounds_are_bad_user_input_naming_the_argument(systems, kit, value):
    async with served(live(systems)) as client:
        for name, (payload, named) in decimal_requests(kit, value).items():
            response = await client.post("/graphql", json=payload, headers=bearer("admin"))
            assert response.status_code == 200, (name, response.text)
            body = response.json()
            assert codes(body) == {"BAD_USER_INPUT"}, (name, body)
            assert any(n in error["message"] for error in body["errors"] for n in named.split("|")), (name, named, body)


# --- every bad token is a 401 with an audit line, never a 500 ------------------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    """A token signed by hand: PyJWT itself refuses to use a public key as an HMAC secret."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory) -> tuple[Any, Path, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path_factory.mktemp("keys") / "public.pem"
    path.write_bytes(public_pem)
    return private, path, public_pem


def hostile_token(name: str, private: Any, public_pem: bytes) -> str:
    claims = {"sub": "mallory", "roles": ["admin"], "exp": int(time.time()) + 600}
    if name == "HS256 signed with the RSA public key":
        return hs256({"alg": "HS256", "typ": "JWT"}, claims, public_pem)
    if name == "same, with a kid":
        return hs256({"alg": "HS256", "kid": "k1"}, claims, public_pem)
    if name == "alg none":
        return f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
    if name == "alg not in the allowed list":
        return jwt.encode(claims, private, algorithm="PS256")
    if name == "ES256 header, RSA key":
        return hs256({"alg": "ES256"}, claims, public_pem)
    if name == "garbage header":
        return ".".join((b64(b"\xff\xfe{"), b64(b"{}"), "c2ln"))
    if name == "header not an object":
        return ".".join((b64(b"[1]"), b64(b"{}"), "c2ln"))
    if name == "kid not a string":
        return hs256({"alg": "HS256", "kid": ["k1"]}, claims, public_pem)
    if name == "huge":
        return "eyJ" + "A" * 200_000 + ".e30.c2ln"
    if name == "non-ASCII":
        return "tök.én.x"
    if name == "roles not a list":
        return jwt.encode({**claims, "roles": 7}, private, algorithm="RS256")
    assert name == "name not a string"
    return jwt.encode({**claims, "name": {"first": "M"}}, private, algorithm="RS256")


HOSTILE_TOKENS = [
    "HS256 signed with the RSA public key", "same, with a kid", "alg none", "alg not in the allowed list",
    "ES256 header, RSA key", "garbage header", "header not an object", "kid not a string", "huge", "non-ASCII",
    "roles not a list", "name not a string",
]


@pytest.mark.parametrize("name", HOSTILE_TOKENS)
async def test_a_hostile_token_is_a_401_with_a_coded_body_and_an_audit_line(rsa_key, caplog, name):
    private, public_key_file, public_pem = rsa_key
    async with served(auth={"jwt_public_key_file": str(public_key_file)}) as client:
        good = jwt.encode({"sub": "ok", "roles": ["finance"], "exp": int(time.time()) + 60}, private, algorithm="RS256")
        ok = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {good}"})
        assert ok.json()["data"]["me"] == {"id": "ok", "roles": ["finance"]}
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="isthmus.access"):
            header = f"Bearer {hostile_token(name, private, public_pem)}".encode()  # bytes: non-ASCII as sent
            response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": header})
    assert response.status_code == 401, (response.status_code, response.text[:300])
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    audit = [r for r in caplog.records if r.name == "isthmus.access"]
    assert [(r.status, r.outcome, r.principal) for r in audit] == [(401, "unauthenticated", None)]


# --- ops details and metrics take credentials; a minimal /readyz stays public ------


async def test_metrics_and_readiness_details_need_an_operator_and_readyz_stays_public():
    async with served() as client:
        public = await client.get("/readyz")
        assert public.status_code == 200 and public.json() == {"status": "ready"}
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        for path in ("/metrics", "/readyz?details", "/readyz?details=1"):
            anonymous = await client.get(path)
            assert anonymous.status_code == 401 and codes(anonymous.json()) == {"UNAUTHENTICATED"}, path
            assert "circuit" not in anonymous.text and "digest" not in anonymous.text
            finance = await client.get(path, headers=bearer("finance"))
            assert finance.status_code == 403 and codes(finance.json()) == {"FORBIDDEN"}, path
        details = (await client.get("/readyz?details", headers=bearer("admin"))).json()
        assert details["status"] == "ready" and set(details["sources"]) == {"CRM", "ERP", "CLM", "DESK", "SRM", "MES"}
        assert "digest" in details["policy"]
        assert "isthmus_requests_total" in (await client.get("/metrics", headers=bearer("admin"))).text


async def test_the_metrics_token_opens_the_ops_details_and_nothing_else():
    scraper = {"Authorization": f"Bearer {SCRAPER_TOKEN}"}
    async with served(ops={"metrics_token_sha256": hashlib.sha256(SCRAPER_TOKEN.encode()).hexdigest()}) as client:
        assert "isthmus_requests_total" in (await client.get("/metrics", headers=scraper)).text
        assert (await client.get("/readyz?details", headers=scraper)).json()["sources"]["ERP"]["circuit"] == "closed"
        assert (await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})).status_code == 401
        assert (await client.post("/graphql", json={"query": ME}, headers=scraper)).status_code == 401
        assert (await client.post("/admin/policy/reload", headers=scraper)).status_code == 401


async def test_anonymous_requests_create_no_operation_series():
    async with served() as client:
        for n in range(25):
            await client.post("/graphql", json={"query": f"query Flood{n} {{ me {{ id }} }}", "operationName": f"Flood{n}"})
        await client.post("/graphql", json={"query": "query Named { me { id } }"}, headers=bearer("finance"))
        text = (await client.get("/metrics", headers=bearer("admin"))).text
    operations = {
        sample.labels["operation"]
        for family in text_string_to_metric_families(text) if family.name == "isthmus_requests"
        for sample in family.samples
    }
    assert operations == {"unauthenticated", "Named"}


async def test_the_log_never_shows_the_redis_password():
    password = "s3cret-Redis-pa55"
    url = f"redis://:{password}@127.0.0.1:{free_port()}/0"  # nothing listens: Redis fails, and says so
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(logs.JsonFormatter().format(record))

    handler = Lines(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.DEBUG
    try:
        settings = Settings(auth=AUTH, redis={"url": url, "timeout": 0.2, "retry_after": 1}, **nowhere())
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://isthmus") as client:
                await client.post("/graphql", json={"query": ME}, headers=bearer("finance"))
                details = await client.get("/readyz?details", headers=bearer("admin"))
                assert details.json()["redis"]["state"] == "down"
                assert password not in details.text
    finally:
        root.removeHandler(handler)
        root.level = level
    redis_lines = [line for line in lines if "redis" in line.lower()]
    assert any("Redis unreachable" in line and "127.0.0.1" in line for line in redis_lines), lines
    assert not [line for line in lines if password in line]
    assert password not in repr(settings) and password not in str(settings.model_dump())


# --- traces only for the roles the policy allows ------------------------------------


async def test_a_trace_is_only_for_roles_the_policy_allows(systems):
    query = {"query": '{ product(sku: "SKU-0001") { name } }'}
    trace = {"X-Isthmus-Trace": "1"}
    async with served(live(systems)) as client:
        for role in ("finance", "sales_rep", "executive"):
            body = (await client.post("/graphql", json=query, headers={**bearer(role), **trace})).json()
            assert body["data"]["product"]["name"] and "trace" not in body["extensions"], role
        admin = (await client.post("/graphql", json=query, headers={**bearer("admin"), **trace})).json()
    assert admin["extensions"]["trace"]["calls"], admin["extensions"]


def test_the_policy_names_who_may_trace_and_refuses_unknown_execute_objects(tmp_path):
    from policies import Authorizer
    from policies.enforcement import HERE

    (tmp_path / "model.conf").write_text((HERE / "model.conf").read_text())
    policy = tmp_path / "policy.csv"
    policy.write_text("p, finance, debug:trace, execute, allow\n")
    authorizer = Authorizer(tmp_path / "model.conf", policy)
    assert authorizer.may_trace(("finance",)) and not authorizer.may_trace(("sales_rep",))
    assert Authorizer().may_trace(("admin",)) and not Authorizer().may_trace(("executive",))
    policy.write_text("p, finance, debug:everything, execute, allow\n")
    with pytest.raises(ValueError, match="debug:everything"):
        Authorizer(tmp_path / "model.conf", policy)
