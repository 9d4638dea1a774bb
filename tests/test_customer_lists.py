"""The customer list: keyset cursors that hold still while customers are re-sorted, and the `risk` filter,
which no system can evaluate, checked by the gateway on the CRM's candidates.

In process (tests/in_process.py). The expected risk of each customer is recomputed from the demo systems'
plain REST endpoints by `expected.risk`, independently of the gateway's resolvers.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import bearer
from expected import risk

EXECUTIVE = bearer("executive")
RISKY = ["MEDIUM", "HIGH"]
RISK_PAGE = """query($after: String, $risk: [RiskLevel!], $tiers: [CustomerTier!]) {
    customers(first: 7, after: $after, risk: $risk, tiers: $tiers) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id risk } }
      summary { count byTier { key count } } } }"""
PAGE_ONLY = """query($after: String, $risk: [RiskLevel!], $tiers: [CustomerTier!]) {
    customers(first: 7, after: $after, risk: $risk, tiers: $tiers) {
      pageInfo { hasNextPage endCursor } edges { node { id } } } }"""


class Rest:
    """`expected`'s view of the systems (`get(system, path, **params)` -> items), over the demo apps here."""

    def __init__(self) -> None:
        from in_process import demo_apps

        self.clients = {name: TestClient(app) for name, app in demo_apps().items()}

    def get(self, system: str, path: str, **params: Any) -> list[dict[str, Any]]:
        answer = self.clients[system].get(path, params=params)
        answer.raise_for_status()
        return answer.json()["items"]


def newest_activity_first(customers: list[dict[str, Any]]) -> list[str]:
    """The list's default order: last activity descending (none last), ties by id ascending."""
    by_id = sorted(customers, key=lambda c: c["id"])
    return [c["id"] for c in sorted(by_id, key=lambda c: c["last_activity_at"] or "", reverse=True)]


def every_page(gateway, query: str, variables: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        body = gateway.query(query, {**variables, "after": after}, headers=headers)
        assert "errors" not in body, body["errors"]
        pages.append(body["data"]["customers"])
        if not pages[-1]["pageInfo"]["hasNextPage"]:
            return pages
        after = pages[-1]["pageInfo"]["endCursor"]


@pytest.fixture(scope="module")
def rest() -> Rest:
    return Rest()


@pytest.fixture(scope="module")
def everyone(rest: Rest) -> list[dict[str, Any]]:
    return [c for offset in (0, 1000, 2000) for c in rest.get("crm", "/customers/search", limit=1000, offset=offset)]


def callers(everyone: list[dict[str, Any]]) -> dict[str, tuple[dict[str, str], dict[str, Any], list[dict[str, Any]]]]:
    """An executive asking for the strategic customers, and the rep with the most customers: headers,
    the list's other arguments, and the customers those let them see."""
    owners = sorted({c["owner_id"] for c in everyone})
    rep = max(owners, key=lambda owner: (sum(c["owner_id"] == owner for c in everyone), owner))
    own = [c for c in everyone if c["owner_id"] == rep]
    return {
        "executive": (EXECUTIVE, {"tiers": ["STRATEGIC"]}, [c for c in everyone if c["tier"] == "STRATEGIC"]),
        "sales_rep": (bearer("sales_rep", user=rep, team=own[0]["team"]), {}, own),
    }


@pytest.mark.parametrize("role", ["executive", "sales_rep"])
def test_a_risk_list_holds_exactly_the_customers_whose_risk_the_systems_data_gives(in_process_gateway, rest, everyone, role):
    headers, arguments, seen = callers(everyone)[role]
    levels = {c["id"]: risk(rest, c) for c in seen}
    expected = [i for i in newest_activity_first(seen) if levels[i] in RISKY]
    assert 0 < len(expected) < len(seen)  # the filter keeps some and drops some
    pages = every_page(in_process_gateway, RISK_PAGE, {"risk": RISKY, **arguments}, headers)
    nodes = [edge["node"] for page in pages for edge in page["edges"]]
    assert [node["id"] for node in nodes] == expected
    assert all(node["risk"] == levels[node["id"]] for node in nodes)
    assert {page["totalCount"] for page in pages} == {len(expected)}
    tiers: dict[str, int] = {}
    for customer in seen:
        if customer["id"] in expected:
            tiers[customer["tier"]] = tiers.get(customer["tier"], 0) + 1
    for page in pages:
        assert page["summary"]["count"] == len(expected)
        assert {b["key"]: b["count"] for b in page["summary"]["byTier"]} == tiers
    # the pages alone (no count, no summary) page through the same customers without the counting scan
    alone = every_page(in_process_gateway, PAGE_ONLY, {"risk": RISKY, **arguments}, headers)
    assert [edge["node"]["id"] for page in alone for edge in page["edges"]] == expected


def test_a_risk_page_costs_one_call_per_system_and_route_for_its_batch_of_candidates(in_process_gateway, everyone):
    headers, arguments, _ = callers(everyone)["sales_rep"]
    in_process_gateway.reset_stats()
    body = in_process_gateway.query(PAGE_ONLY, {"risk": RISKY, **arguments}, headers=headers)
    assert "errors" not in body, body["errors"]
    routes = {system: calls for system, calls in in_process_gateway.by_route().items() if calls}
    assert routes == {
        "crm": {"/customers/search": 1},
        "erp": {"/parties": 1, "/invoices": 1, "/orders": 1, "/open_items": 1},
        "desk": {"/tickets": 1},
    }


def test_a_risk_count_past_its_bound_is_refused_naming_risk_before_any_risk_is_computed(in_process_gateway):
    in_process_gateway.reset_stats()
    body = in_process_gateway.query("{ customers(risk: [HIGH]) { totalCount } }", headers=EXECUTIVE)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "`risk`" in error["message"]
    assert {system: calls for system, calls in in_process_gateway.by_route().items() if calls} == {
        "crm": {"/customers/search": 1}
    }


def test_a_risk_page_that_stays_short_past_its_candidates_is_refused_naming_risk(in_process_gateway, monkeypatch):
    import resolvers.risk_filter

    monkeypatch.setattr(resolvers.risk_filter, "RISK_BATCH", 5)
    monkeypatch.setattr(resolvers.risk_filter, "MAX_RISK_CANDIDATES", 10)
    body = in_process_gateway.query("{ customers(first: 50, risk: [HIGH, MEDIUM]) { edges { node { id } } } }",
                                    headers=EXECUTIVE)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "`risk`" in error["message"]
    full = in_process_gateway.query("{ customers(first: 1, risk: [LOW, MEDIUM, HIGH]) { pageInfo { hasNextPage } "
                                    "edges { node { id } } } }", headers=EXECUTIVE)
    assert "errors" not in full and len(full["data"]["customers"]["edges"]) == 1
    assert full["data"]["customers"]["pageInfo"]["hasNextPage"]


def test_a_customer_cursor_is_good_only_for_the_order_that_issued_it(in_process_gateway):
    first = in_process_gateway.query("{ customers(first: 2, orderBy: {field: NAME}) { pageInfo { endCursor } } }",
                                     headers=EXECUTIVE)
    cursor = first["data"]["customers"]["pageInfo"]["endCursor"]
    for other in ("customers(first: 2, after: $c)", "customers(first: 2, after: $c, orderBy: {field: TIER})",
                  "invoices(first: 2, after: $c)"):
        body = in_process_gateway.query(f"query($c: String) {{ {other} {{ totalCount }} }}", {"c": cursor},
                                        headers=EXECUTIVE)
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "`after`" in error["message"]
    again = in_process_gateway.query(
        "query($c: String) { customers(first: 2, after: $c, orderBy: {field: NAME}) { edges { node { name } } } }",
        {"c": cursor}, headers=EXECUTIVE,
    )
    assert "errors" not in again


def test_the_customer_summary_comes_with_the_page_in_one_call(in_process_gateway, everyone):
    in_process_gateway.reset_stats()
    body = in_process_gateway.query(
        "{ customers(first: 5, tiers: [KEY]) { totalCount summary { count byTier { key count } } } }", headers=EXECUTIVE
    )
    assert "errors" not in body, body["errors"]
    key = sum(c["tier"] == "KEY" for c in everyone)
    assert body["data"]["customers"]["totalCount"] == body["data"]["customers"]["summary"]["count"] == key > 0
    assert body["data"]["customers"]["summary"]["byTier"] == [{"key": "KEY", "count": key}]
    assert {system: calls for system, calls in in_process_gateway.by_route().items() if calls} == {
        "crm": {"/customers/search": 1}
    }


# Last in this module: it logs an activity in the shared demo CRM, which moves a customer to the front.
def test_a_customer_page_does_not_shift_when_a_customer_moves_before_it(in_process_gateway):
    """Newest activity first: a customer of the next page with an activity logged between two pages moves
    before the cursor (as a customer added there would): the next page neither repeats nor skips one."""
    from in_process import demo_apps

    query = "query($after: String) { customers(first: 5, after: $after) { pageInfo { endCursor } edges { node { id } } } }"
    eleven = [e["node"]["id"] for e in in_process_gateway.query(query.replace("first: 5", "first: 11"),
                                                                headers=EXECUTIVE)["data"]["customers"]["edges"]]
    first = in_process_gateway.query(query, headers=EXECUTIVE)["data"]["customers"]
    moved = eleven[7]
    logged = TestClient(demo_apps()["crm"]).post(
        "/activities", json={"customer_id": moved, "kind": "NOTE", "subject": "Logged while paging"}
    )
    assert logged.status_code == 201
    newest = in_process_gateway.query(query, headers=EXECUTIVE)["data"]["customers"]["edges"][0]["node"]["id"]
    assert newest == moved  # its sort key changed: it is before the cursor now
    second = in_process_gateway.query(query, {"after": first["pageInfo"]["endCursor"]}, headers=EXECUTIVE)
    pages = [e["node"]["id"] for e in first["edges"] + second["data"]["customers"]["edges"]]
    assert pages == [i for i in eleven if i != moved]
