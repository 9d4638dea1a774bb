"""Abusive documents are refused cheaply, with a coded error, before any backend call."""

import pytest

from conftest import bearer, in_process_with
from test_demand_measure import CUSTOMERS, EXPENSIVE, fragment_bomb
from test_http_exposure import served


def refused(systems, gateway, query, code, variables=None, headers=None):
    """Refused with `code` before any backend call. The 10 s client timeout only stops a hang (a walk
    of 2**40 selections would take days); that a bomb is measured and refused without expanding it
    is proven without a clock in tests/test_demand_measure.py."""
    systems.reset_stats()
    response = gateway.post(query, variables, headers=headers, timeout=10)
    body = response.json()
    assert code in {e["extensions"]["code"] for e in body.get("errors") or ()}, str(body)[:500]
    assert sum(systems.calls().values()) == 0
    return response


def test_deep_nesting(systems, gateway):
    inner = "id"
    for _ in range(8):
        inner = f"orders(first: 1) {{ customer {{ {inner} }} }}"
    refused(systems, gateway, f'{{ customer(id: "C00001") {{ {inner} }} }}', "QUERY_TOO_DEEP")


def test_an_alias_flood(systems, gateway):
    query = "{ me { " + " ".join(f"a{i}: id" for i in range(200)) + " } }"
    refused(systems, gateway, query, "TOO_MANY_ALIASES")


def test_too_many_root_fields(systems, gateway):
    query = "{ " + " ".join(f'c{i}: customer(id: "C{i:05d}") {{ id }}' for i in range(45)) + " }"
    refused(systems, gateway, query, "TOO_MANY_ROOT_FIELDS")


def test_a_duplicate_field_flood(systems, gateway):
    refused(systems, gateway, "{ me { " + "id " * 3000 + "} }", "TOO_MANY_FIELDS")


def test_huge_first_arguments_multiply_into_a_refused_cost(systems, gateway):
    query = """{ customers(first: 100) { edges { node {
        orders(first: 100) { lines { product { name availability { available } } } }
    } } } }"""
    response = refused(systems, gateway, query, "QUERY_TOO_COMPLEX")
    assert "first" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("levels", [30, 40])
def test_a_fragment_bomb_is_refused_at_once(systems, gateway, levels):
    refused(systems, gateway, fragment_bomb(levels), "TOO_MANY_FIELDS")
    assert gateway.http.get(f"{gateway.url}/healthz", timeout=10).status_code == 200  # the gateway is not busy walking it


@pytest.mark.parametrize(
    "declared,variables",
    [
        ("$customers: Int = 100, $orders: Int = 100", None),
        ("$customers: Int, $orders: Int", {"customers": 100.0, "orders": 1e2}),  # JSON numbers executed as the Int 100
    ],
    ids=["defaults", "passed"],
)
def test_variables_cannot_hide_a_refused_cost(systems, gateway, declared, variables):
    query = EXPENSIVE.replace("$customers: Int, $orders: Int", declared)
    response = refused(systems, gateway, query, "QUERY_TOO_COMPLEX", variables)
    assert "510300" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [
        f"{{ ... on Query {{ {CUSTOMERS} }} }}",
        f"{{ ...Roots }} fragment Roots on Query {{ {CUSTOMERS} }}",
        f"{{ ... on Query {{ ...A }} }} fragment A on Query {{ ... on Query {{ ...B }} }} fragment B on Query {{ {CUSTOMERS} }}",
    ],
    ids=["inline", "named", "nested"],
)
def test_root_fields_inside_fragments_count(systems, gateway, query):
    refused(systems, gateway, query, "TOO_MANY_ROOT_FIELDS")


async def test_the_budget_is_charged_with_what_variable_defaults_cost():
    """In process: the charge is the estimate, made before execution (the backends are a closed port)."""
    # 500 with the default `first: 100`; the budget holds one such request, not two
    query = "query($n: Int = 100) { customers(first: $n) { edges { node { id name } } } }"
    async with served(limits={"budget_per_window": 800, "budget_window": 60}) as client:
        first = await client.post("/graphql", json={"query": query}, headers=bearer("admin"))
        assert first.status_code == 200, first.text[:300]
        second = await client.post("/graphql", json={"query": query}, headers=bearer("admin"))
    assert second.status_code == 429, second.text[:300]
    assert second.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_too_many_tokens(systems, gateway):
    query = "{ me { id } }" + " # padding\n" + " ".join("{ me { id } }" for _ in range(4000))
    response = refused(systems, gateway, query, "GRAPHQL_PARSE_FAILED")
    assert "tokens" in response.json()["errors"][0]["message"]


def test_a_batch_of_operations_is_refused(systems, gateway):
    systems.reset_stats()
    response = gateway.http.post(f"{gateway.url}/graphql", json=[{"query": "{ me { id } }"}] * 50)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert sum(systems.calls().values()) == 0


def test_a_spent_cost_budget_gives_429_with_retry_after(page_query):
    """A gateway of its own budgets, in this process: its backend calls are counted by its own demo apps."""
    with in_process_with(limits={"budget_per_window": 30_000, "budget_window": 60}) as gateway:
        assert gateway.post(page_query, {"first": 5}).status_code == 200
        assert gateway.post(page_query, {"first": 5}).status_code == 200
        gateway.reset_stats()
        third = gateway.post(page_query, {"first": 5})
        assert third.status_code == 429
        assert int(third.headers["Retry-After"]) > 0
        assert third.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert sum(gateway.calls().values()) == 0
        # The budget is per principal: someone else still gets through.
        assert gateway.post(page_query, {"first": 5}, headers=bearer("finance", user="other")).status_code == 200


@pytest.mark.parametrize("role,allowed", [("admin", True), ("finance", False)])
async def test_introspection_can_be_kept_to_some_roles(role, allowed):
    async with served(limits={"introspection_roles": ["admin"]}) as client:
        body = (await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"},
                                  headers=bearer(role))).json()
    if allowed:
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    else:
        assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
