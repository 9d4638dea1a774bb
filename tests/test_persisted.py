"""Persisted queries: APQ, trusted documents, safelisting by role, GET with ETag and Cache-Control."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import BI_AUTH, BI_KEY, LIVE, bearer, in_process_with

ROOT = Path(__file__).resolve().parent.parent
PERSISTED = ROOT / "persisted"
BI = {"X-API-Key": BI_KEY}
ADMIN = bearer("admin", user="test-admin")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


def trusted(name: str) -> str:
    return next(p.read_text() for p in PERSISTED.glob("*.graphql") if f"query {name}(" in p.read_text())


def code_of(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


@pytest.fixture(scope="module")
def gw(bi_gateway):
    """The shared gateway with a bi_reader service account (X-API-Key), live data."""
    with httpx.Client(base_url=bi_gateway.url, timeout=60) as client:
        yield client


def fresh_query() -> str:
    """A document no earlier request registered (the store outlives a test)."""
    return f"query Me_{uuid.uuid4().hex[:8]} {{ me {{ id roles }} }}"


# --- APQ -------------------------------------------------------------------------------


def test_apq_miss_then_register_then_hit_over_post_and_get(gw):
    query = fresh_query()
    miss = gw.post("/graphql", json={"extensions": apq(query)}, headers=ADMIN)
    assert miss.status_code == 200
    assert miss.json()["errors"] == [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    assert "no-cache" in miss.headers["cache-control"]

    registered = gw.post("/graphql", json={"query": query, "extensions": apq(query)}, headers=ADMIN)
    assert registered.status_code == 200
    assert registered.json()["data"] == {"me": {"id": "test-admin", "roles": ["admin"]}}

    hit = gw.post("/graphql", json={"extensions": apq(query)}, headers=ADMIN)
    assert hit.json()["data"] == registered.json()["data"]
    got = gw.get("/graphql", params={"extensions": json.dumps(apq(query))}, headers=ADMIN)
    assert got.status_code == 200 and got.json()["data"] == registered.json()["data"]


def test_apq_over_get_registers_too(gw):
    query = fresh_query()
    params = {"extensions": json.dumps(apq(query))}
    assert code_of(gw.get("/graphql", params=params, headers=ADMIN)) == "PERSISTED_QUERY_NOT_FOUND"
    assert gw.get("/graphql", params={**params, "query": query}, headers=ADMIN).json()["data"]["me"]["id"] == "test-admin"
    assert gw.get("/graphql", params=params, headers=ADMIN).json()["data"]["me"]["id"] == "test-admin"


def test_a_hash_that_does_not_match_the_document_is_rejected_and_nothing_registered(gw):
    query, other = fresh_query(), fresh_query()
    wrong = gw.post("/graphql", json={"query": query, "extensions": apq(other)}, headers=ADMIN)
    assert wrong.status_code == 400
    assert code_of(wrong) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert code_of(gw.post("/graphql", json={"extensions": apq(other)}, headers=ADMIN)) == "PERSISTED_QUERY_NOT_FOUND"


def test_an_invalid_document_is_not_registered(gw):
    query = "query Broken { me { noSuchField } }"
    body = gw.post("/graphql", json={"query": query, "extensions": apq(query)}, headers=ADMIN).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert code_of(gw.post("/graphql", json={"extensions": apq(query)}, headers=ADMIN)) == "PERSISTED_QUERY_NOT_FOUND"


def test_apq_needs_credentials_first(gw):
    query = fresh_query()
    refused = gw.post("/graphql", json={"query": query, "extensions": apq(query)})
    assert refused.status_code == 401
    assert code_of(gw.post("/graphql", json={"extensions": apq(query)}, headers=ADMIN)) == "PERSISTED_QUERY_NOT_FOUND"


def test_an_unsupported_apq_version_is_coded(gw):
    body = {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}}
    assert code_of(gw.post("/graphql", json=body, headers=ADMIN)) == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_a_mutation_over_get_is_405_with_a_code(gw):
    for params in ({"query": "mutation Touch { me { id } }"},
                   {"query": "mutation Touch { me { id } }", "extensions": json.dumps(apq("mutation Touch { me { id } }"))}):
        refused = gw.get("/graphql", params=params, headers=ADMIN)
        assert refused.status_code == 405
        assert code_of(refused) == "METHOD_NOT_ALLOWED"
        assert refused.headers["allow"] == "POST"


# --- trusted documents and safelisting ----------------------------------------------------


def test_the_manifest_lists_every_file_of_persisted_with_its_hash(gw):
    assert gw.get("/persisted/manifest").status_code == 401
    manifest = gw.get("/persisted/manifest", headers=BI).json()
    assert manifest["format"] == "apollo-persisted-query-manifest"
    files = {p.read_text() for p in PERSISTED.glob("*.graphql")}
    assert {op["body"] for op in manifest["operations"]} == files
    assert all(op["id"] == sha256(op["body"]) and f"{op['type']} {op['name']}" in op["body"] for op in manifest["operations"])
    assert {op["name"]: op["type"] for op in manifest["operations"] if op["type"] != "query"} == {
        "PlaceOrder": "mutation", "ApproveOrder": "mutation",
    }
    assert {op["name"] for op in manifest["operations"]} >= {
        "ReceivablesAgingByCustomer", "OpenOrdersByProduct", "ContractFulfilmentStatus",
        "TicketsBreachingSla", "CustomersOverCreditLimit",
    }
    printed = subprocess.run([sys.executable, "app.py", "manifest"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(printed.stdout) == manifest


def test_a_trusted_mutation_runs_by_id_over_post_only_and_is_never_exported(gw):
    """The front-ends' writes are trusted documents too (the quote screen's PlaceOrder), but a GET never runs one."""
    manifest = gw.get("/persisted/manifest", headers=ADMIN).json()
    place = next(op for op in manifest["operations"] if op["name"] == "PlaceOrder")
    variables = {"input": {"customerId": "C-none", "lines": [{"sku": "SKU-0001", "quantity": "1", "unitPrice": "1"}]}, "key": "k 1"}
    by_get = gw.get("/graphql", params={"documentId": f"sha256:{place['id']}", "variables": json.dumps(variables)},
                    headers=ADMIN)
    assert by_get.status_code == 405 and code_of(by_get) == "METHOD_NOT_ALLOWED"
    exported = gw.get("/bi/PlaceOrder.csv", headers=BI)
    assert exported.status_code == 400 and code_of(exported) == "NOT_EXPORTABLE"
    by_post = gw.post("/graphql", json={"documentId": f"sha256:{place['id']}", "variables": variables}, headers=ADMIN)
    assert by_post.status_code == 200
    assert [e["extensions"]["code"] for e in by_post.json()["errors"]] == ["BAD_USER_INPUT"]  # the key: nothing written
    assert "idempotencyKey" in by_post.json()["errors"][0]["message"]


def test_a_bi_reader_runs_trusted_documents_and_gets_a_coded_error_for_any_other(gw):
    text = trusted("CustomersOverCreditLimit")
    document_id = f"sha256:{sha256(text)}"
    variables = {"first": 3}
    by_id = gw.post("/graphql", json={"documentId": document_id, "variables": variables}, headers=BI)
    assert by_id.status_code == 200 and len(by_id.json()["data"]["customers"]["edges"]) == 3
    by_get = gw.get("/graphql", params={"documentId": document_id, "variables": json.dumps(variables)}, headers=BI)
    assert by_get.json()["data"] == by_id.json()["data"]
    by_text = gw.post("/graphql", json={"query": text, "variables": variables}, headers=BI)
    assert by_text.json()["data"] == by_id.json()["data"]
    by_hash = gw.post("/graphql", json={"extensions": apq(text), "variables": variables}, headers=BI)
    assert by_hash.json()["data"] == by_id.json()["data"]
    assert gw.get("/bi/CustomersOverCreditLimit.csv", params={"tier": "STRATEGIC"}, headers=BI).status_code == 200

    ad_hoc = "{ customers(first: 3) { edges { node { id receivables { openBalance } } } } }"
    for refused in (
        gw.post("/graphql", json={"query": ad_hoc}, headers=BI),
        gw.get("/graphql", params={"query": ad_hoc}, headers=BI),
        gw.post("/graphql", json={"query": ad_hoc, "extensions": apq(ad_hoc)}, headers=BI),
        gw.post("/graphql", json={"query": text.replace("id\n", "id\n        taxId\n", 1)}, headers=BI),
    ):
        assert refused.status_code == 403
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
        assert "documentId" in error["message"] and "/persisted/manifest" in error["message"]
        assert "data" not in refused.json()
    # A refused document is not registered either: nobody can plant one for the bi_reader.
    assert code_of(gw.post("/graphql", json={"extensions": apq(ad_hoc)}, headers=ADMIN)) == "PERSISTED_QUERY_NOT_FOUND"


def test_other_roles_may_send_any_document_by_default(gw):
    for role in ("sales_rep", "finance", "admin"):
        body = gw.post("/graphql", json={"query": "{ me { id } }"}, headers=bearer(role)).json()
        assert body["data"]["me"]["id"] == "tester"


def test_an_unknown_or_malformed_document_id_is_coded(gw):
    unknown = gw.post("/graphql", json={"documentId": "sha256:" + "0" * 64}, headers=ADMIN)
    assert unknown.status_code == 404 and code_of(unknown) == "PERSISTED_DOCUMENT_NOT_FOUND"
    bad = gw.post("/graphql", json={"documentId": "md5:abc"}, headers=ADMIN)
    assert bad.status_code == 400 and code_of(bad) == "BAD_REQUEST"
    both = gw.post("/graphql", json={"documentId": "sha256:" + "0" * 64, "query": "{ me { id } }"}, headers=ADMIN)
    assert both.status_code == 400


def test_a_trusted_only_gateway_refuses_ad_hoc_documents_except_to_explorers():
    """A setting's effect: the gateway runs in this process (tests/in_process.py)."""
    text = trusted("ReceivablesAgingByCustomer")
    with in_process_with(auth=BI_AUTH, persisted={"trusted_only": True}, **LIVE) as gateway:
        with httpx.Client(transport=gateway.transport, base_url=gateway.url, timeout=60) as client:
            rep = bearer("sales_rep", user="R001")
            refused = client.post("/graphql", json={"query": "{ me { id } }"}, headers=rep)
            assert refused.status_code == 403 and code_of(refused) == "DOCUMENT_NOT_TRUSTED"
            allowed = client.post("/graphql", json={"documentId": f"sha256:{sha256(text)}", "variables": {"first": 2}}, headers=rep)
            assert allowed.status_code == 200 and "errors" not in allowed.json()
            # admin is granted documents:any: it may still explore (GraphiQL sends its own documents).
            assert client.post("/graphql", json={"query": "{ me { id } }"}, headers=ADMIN).json()["data"]["me"]["id"] == "test-admin"
            page = client.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "graphiql" in page.text.lower()


# --- GET with ETag and Cache-Control ------------------------------------------------------


def test_a_repeated_get_with_if_none_match_within_the_ttl_is_304():
    text = trusted("CustomersOverCreditLimit")
    params = {"documentId": f"sha256:{sha256(text)}", "variables": json.dumps({"first": 5})}
    with in_process_with(auth=BI_AUTH) as gateway:  # the default cache: TTLs apply; in this process
        with httpx.Client(transport=gateway.transport, base_url=gateway.url, timeout=60) as client:
            first = client.get("/graphql", params=params, headers=BI)
            assert first.status_code == 200 and "errors" not in first.json()
            etag, cache_control = first.headers["etag"], first.headers["cache-control"]
            assert etag.startswith('W/"')
            assert cache_control.startswith("private, max-age=")
            max_age = int(cache_control.rsplit("=", 1)[1])
            assert 1 <= max_age <= 30  # the shortest TTL of the data it used (balances, orders: 30 s)
            assert "Authorization" in first.headers["vary"] and "X-API-Key" in first.headers["vary"]

            again = client.get("/graphql", params=params, headers={**BI, "If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag
            assert int(again.headers["cache-control"].rsplit("=", 1)[1]) <= max_age

            stale_tag = client.get("/graphql", params=params, headers={**BI, "If-None-Match": 'W/"not-it"'})
            assert stale_tag.status_code == 200 and stale_tag.json()["data"] == first.json()["data"]
            # POST answers are not marked cacheable.
            posted = client.post("/graphql", json={"documentId": params["documentId"], "variables": {"first": 5}}, headers=BI)
            assert "etag" not in posted.headers


def test_a_get_answer_with_a_backend_error_is_not_cacheable(systems, gw):
    query = '{ customers(first: 2) { edges { node { id receivables { openBalance } } } } }'
    with systems.faults("erp", down=True):
        response = gw.get("/graphql", params={"query": query}, headers=ADMIN)
    assert response.status_code == 200 and response.json()["errors"]
    assert response.headers["cache-control"] == "private, no-store" and "etag" not in response.headers


# --- pieces without HTTP ----------------------------------------------------------------------


def test_the_policy_pins_bi_reader_to_trusted_documents_and_admin_to_any():
    from policies import Authorizer

    policy = Authorizer()
    assert policy.documents(("bi_reader",)) == "trusted"
    assert policy.documents(("bi_reader",), "trusted") == "trusted"
    assert policy.documents(("sales_rep",)) == "any"
    assert policy.documents(("sales_rep",), "trusted") == "trusted"  # persisted.trusted_only
    assert policy.documents(("admin",), "trusted") == "any"
    assert policy.documents((), "any") == "any"
    assert policy.documents(("bi_reader", "finance")) == "any"  # the widest role wins


class FakeRedis:
    def __init__(self, fail: bool = False) -> None:
        self.data: dict[str, bytes] = {}
        self.fail = fail
        self.expiries: dict[str, int | None] = {}

    async def get(self, key):
        if self.fail:
            raise ConnectionError("down")
        return self.data.get(key)

    async def set(self, key, value, ex=None):
        if self.fail:
            raise ConnectionError("down")
        self.data[key] = value.encode()
        self.expiries[key] = ex


def test_the_redis_store_shares_documents_checks_hashes_and_degrades_to_a_miss():
    from server.persisted import RedisStore
    from sources.redis_link import RedisLink

    def store(client, ttl):
        return RedisStore(RedisLink("redis://unused", client=client), ttl)

    async def scenario():
        shared = FakeRedis()
        one = store(shared, 3600)
        two = store(shared, 3600)
        text = "{ me { id } }"
        await one.put(sha256(text), text)
        assert await two.get(sha256(text)) == text  # another replica sees it
        assert shared.expiries == {f"isthmus:apq:{sha256(text)}": 3600}
        planted = "{ me { roles } }"
        shared.data[f"isthmus:apq:{sha256('x')}"] = planted.encode()
        assert await two.get(sha256("x")) is None  # a text that is not its key's is never used
        down = store(FakeRedis(fail=True), 0)
        await down.put(sha256(text), text)  # logged, not raised
        assert await down.get(sha256(text)) == text  # the local copy
        assert await down.get(sha256("other")) is None

    asyncio.run(scenario())


def test_the_memory_store_is_bounded():
    from server.persisted import MemoryStore

    async def scenario():
        store = MemoryStore(max_chars=1000)
        for i in range(100):
            text = f"query Q{i} {{ me {{ id }} }}" + " " * 50
            await store.put(sha256(text), text)
        assert store.size <= 1000 and len(store) < 100

    asyncio.run(scenario())
