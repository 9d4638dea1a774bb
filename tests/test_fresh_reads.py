"""Fresh reads are rationed per principal: `no-cache` and `@fresh(maxAge: 0)` up to an allowance, then the cache.

An in-process gateway over the demo apps (tests/in_process.py): the calls each request made
are counted at the demo systems, and the answers' `extensions` say what was served.
"""

from __future__ import annotations

import httpx
import pytest
from graphql import parse

from conftest import bearer, in_process_with
from server.fresh_reads import asks_fresh, insists

PRODUCT = "query($s: ID!) { product(sku: $s) { sku name } }"
FRESH_STOCK = "query($s: ID!) { product(sku: $s) { sku availability @fresh(maxAge: 0) { available } } }"
NO_CACHE = {"Cache-Control": "no-cache"}


@pytest.fixture(scope="module")
def rationed():
    with in_process_with(budgets={"fresh_reads": 3, "fresh_reads_window": 600}) as gateway:
        yield gateway


def client(gateway, user: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, transport=gateway.transport, headers=bearer("admin", user=user))


def ask(gateway, http: httpx.Client, query: str, headers: dict, sku: str) -> tuple[httpx.Response, int]:
    """The answer, and how many ERP calls it made."""
    gateway.reset_stats()
    response = http.post("/graphql", json={"query": query, "variables": {"s": sku}}, headers=headers)
    return response, gateway.calls()["erp"]


def test_a_principal_gets_fresh_data_up_to_its_allowance_then_cached_data_with_its_age_and_others_are_unaffected(
    rationed,
):
    sku = first_sku(rationed)
    eager, other = client(rationed, "eager"), client(rationed, "other")
    for _ in range(3):
        response, calls = ask(rationed, eager, PRODUCT, NO_CACHE, sku)
        assert response.status_code == 200 and calls == 1
        assert "freshReads" not in response.json()["extensions"]
    response, calls = ask(rationed, eager, PRODUCT, NO_CACHE, sku)
    body = response.json()
    assert calls == 0  # from the cache the fresh reads filled
    assert body["data"]["product"]["sku"] == sku
    assert body["extensions"]["freshReads"]["spent"] is True and body["extensions"]["freshReads"]["retryAfter"] >= 1
    assert body["extensions"]["freshness"]["ERP"]["age"] >= 0 and body["extensions"]["freshness"]["ERP"]["stale"] is False
    # another caller's fresh reads are its own
    response, calls = ask(rationed, other, PRODUCT, NO_CACHE, sku)
    assert calls == 1 and "freshReads" not in response.json()["extensions"]
    # insisting past the allowance: refused, nothing runs
    response, calls = ask(rationed, eager, PRODUCT, {"Cache-Control": "no-cache, only-if-fresh"}, sku)
    assert response.status_code == 429 and calls == 0
    assert response.json()["errors"][0]["extensions"]["code"] == "FRESH_READS_SPENT"
    assert int(response.headers["Retry-After"]) >= 1


def test_fresh_on_a_field_counts_against_the_allowance_and_past_it_reads_the_cache(rationed):
    sku = first_sku(rationed)
    http = client(rationed, "fresh-field")
    ask(rationed, http, FRESH_STOCK, {}, sku)  # fills the stock cache
    for _ in range(2):
        response, calls = ask(rationed, http, FRESH_STOCK, {}, sku)
        assert calls >= 1 and "freshReads" not in response.json()["extensions"]
    response, calls = ask(rationed, http, FRESH_STOCK, {}, sku)
    assert calls == 0 and response.json()["extensions"]["freshReads"]["spent"] is True
    assert response.json()["data"]["product"]["availability"] is not None
    # an ordinary request of the same caller is not rationed: it never asked for fresh data
    response, _ = ask(rationed, http, PRODUCT, {}, sku)
    assert "freshReads" not in response.json()["extensions"]


def first_sku(gateway) -> str:
    async def products() -> list:
        return (await gateway.running.gateway.demo["erp"].get("/products")).json()["items"]

    return gateway.running.run(products())[0]["sku"]


@pytest.mark.parametrize(
    ("text", "variables", "fresh"),
    [
        ("{ a @fresh(maxAge: 0) { b } }", None, True),
        ("{ a @fresh(maxAge: 5) { b } }", None, False),
        ("query($m: Int!) { a @fresh(maxAge: $m) { b } }", {"m": 0}, True),
        ("query($m: Int! = 0) { a @fresh(maxAge: $m) { b } }", None, True),
        ("query($m: Int!) { a @fresh(maxAge: $m) { b } }", {"m": 30}, False),
        ("{ ...F } fragment F on Query { a @fresh(maxAge: 0) { b } }", None, True),
        ("{ a { b } }", None, False),
    ],
)
def test_which_documents_ask_for_fresh_data(text, variables, fresh):
    document = parse(text)
    operation = document.definitions[0]
    assert asks_fresh(text, document, operation, variables) is fresh  # type: ignore[arg-type]


def test_only_if_fresh_is_a_directive_among_the_others():
    assert insists("no-cache, only-if-fresh") and insists("Only-If-Fresh")
    assert not insists("no-cache") and not insists(None) and not insists("only-if-fresher")
