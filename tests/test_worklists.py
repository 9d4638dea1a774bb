"""Worklists: rows, order and exact counts recomputed from the systems' own REST data, for an executive,
a sales manager and a rep; and the backend calls a page costs, counted at the systems' `/_stats`.

In process: the gateway and the demo apps (tests/in_process.py); the expected answers are computed
here from the demo systems' plain list endpoints, independently of the worklist routes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import bearer

TODAY = dt.datetime.now(dt.UTC).date()
OPEN = ("OPEN", "PARTIALLY_PAID")


def rest(app: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    answer = TestClient(app).get(path, params=params)
    answer.raise_for_status()
    return answer.json()["items"]


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """Everything the worklists read, through the systems' plain endpoints."""
    from in_process import demo_apps

    apps = demo_apps()
    customers = [c for offset in (0, 1000, 2000) for c in rest(apps["crm"], "/customers/search", limit=1000, offset=offset)]
    reps = rest(apps["crm"], "/reps")
    parties = ",".join(c["refs"]["erp"] for c in customers if c["refs"]["erp"])
    contract_ids = [f"K{n:05d}" for n in range(1, 10_000)]
    return {
        "customers": customers,
        "reps": reps,
        "parties": {p["code"]: p for p in rest(apps["erp"], "/parties", codes=parties)},
        "invoices": rest(apps["erp"], "/invoices", party=parties),
        "orders": rest(apps["erp"], "/orders", party=parties),
        "open_items": rest(apps["erp"], "/open_items", party=parties),
        "contracts": [c for chunk in (contract_ids[:5000], contract_ids[5000:])
                      for c in rest(apps["clm"], "/contracts", ids=",".join(chunk))],
        "tickets": rest(apps["desk"], "/tickets", org=",".join(c["refs"]["desk"] for c in customers if c["refs"]["desk"])),
        "opportunities": rest(apps["crm"], "/opportunities", customer=",".join(c["id"] for c in customers)),
    }


class Caller:
    """A role, its token, and the customers it sees (by id and by each system's ref)."""

    def __init__(self, name: str, headers: dict[str, str], seen: list[dict[str, Any]], everyone: bool) -> None:
        self.name, self.headers, self.everyone = name, headers, everyone
        self.ids = {c["id"] for c in seen}
        self.refs = {system: {c["refs"][system] for c in seen if c["refs"][system]} for system in ("erp", "clm", "desk")}
        self.by_ref = {system: {c["refs"][system]: c for c in seen if c["refs"][system]} for system in ("erp", "clm", "desk")}


def credit_exceeded_parties(world: dict[str, Any]) -> set[str]:
    """Credit used (gross): open invoices + open items + the uninvoiced gross of open orders, above the limit."""
    used: dict[str, Decimal] = {}
    for invoice in world["invoices"]:
        if invoice["status"] in OPEN:
            used[invoice["party_code"]] = used.get(invoice["party_code"], Decimal(0)) + Decimal(invoice["amount"]) - Decimal(invoice["paid_amount"])
    for item in world["open_items"]:
        used[item["party_code"]] = used.get(item["party_code"], Decimal(0)) + Decimal(item["amount"])
    for order in world["orders"]:
        if order["status"] in ("CONFIRMED", "PROCESSING", "SHIPPED"):
            gross = Decimal(order["total"]) + Decimal(order["tax_amount"])
            invoiced = Decimal(order["invoiced_amount"]) + Decimal(order["invoiced_tax_amount"])
            used[order["party_code"]] = used.get(order["party_code"], Decimal(0)) + max(Decimal(0), gross - invoiced)
    return {code for code, party in world["parties"].items()
            if party["credit_limit"] is not None and used.get(code, Decimal(0)) > Decimal(party["credit_limit"])}


def open_amount(invoice: dict[str, Any]) -> Decimal:
    return Decimal(invoice["amount"]) - Decimal(invoice["paid_amount"]) if invoice["status"] in OPEN else Decimal(0)


def days_overdue(invoice: dict[str, Any]) -> int:
    due = dt.date.fromisoformat(invoice["due_date"])
    return (TODAY - due).days if open_amount(invoice) > 0 and due < TODAY else 0


def ordered(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any], descending: bool, id_field: str = "id") -> list[str]:
    """Ids sorted by `key` (descending or not), ties by id ascending: the worklists' order."""
    by_id = sorted(rows, key=lambda row: row[id_field])
    return [row[id_field] for row in sorted(by_id, key=key, reverse=descending)]


# Each worklist: its query (with $after for paging), where its rows are, and the expected ids in order.
def finance_overdue(world, caller):
    region = {c["id"]: c["region"] for c in world["customers"]}
    by_erp = {c["refs"]["erp"]: c["id"] for c in world["customers"] if c["refs"]["erp"]}
    rows = [i for i in world["invoices"] if i["party_code"] in caller.refs["erp"] and days_overdue(i) >= 31
            and open_amount(i) >= 10000 and region.get(by_erp.get(i["party_code"])) == "EMEA"]
    return ordered(rows, open_amount, True)


def service_breaching(world, caller):
    now = dt.datetime.now(dt.UTC)
    rows = [t for t in world["tickets"] if t["org_id"] in caller.refs["desk"] and t["status"] in ("OPEN", "IN_PROGRESS")
            and t["sla_due_at"] and dt.datetime.fromisoformat(t["sla_due_at"].replace("Z", "+00:00")) < now]
    return ordered(rows, lambda t: t["priority"], False)


def customers_over_credit(world, caller):
    over = credit_exceeded_parties(world)
    rows = [c for c in world["customers"] if c["id"] in caller.ids and c["refs"]["erp"] in over]
    return ordered(rows, lambda c: c["name"], False)


def contracts_expiring(world, caller):
    until = TODAY + dt.timedelta(days=60)
    rows = [c for c in world["contracts"] if (caller.everyone or c["counterparty_id"] in caller.refs["clm"])
            and c["status"] == "ACTIVE" and c["end_date"] and TODAY.isoformat() <= c["end_date"] <= until.isoformat()]
    return ordered(rows, lambda c: c["end_date"], False)


def opportunities_closing(world, caller):
    start, end = WINDOW
    rows = [o for o in world["opportunities"] if o["customer_id"] in caller.ids and o["stage"] not in ("CLOSED_WON", "CLOSED_LOST")
            and o["close_date"] and start.isoformat() <= o["close_date"] <= end.isoformat()]
    return ordered(rows, lambda o: o["close_date"], False)


def orders_late(world, caller):
    rows = [o for o in world["orders"] if o["party_code"] in caller.refs["erp"] and o["status"] in ("CONFIRMED", "PROCESSING")
            and o["promised_date"] and o["promised_date"] < TODAY.isoformat()]
    return ordered(rows, lambda o: o["promised_date"], False)


WINDOW = (TODAY.replace(day=1), TODAY + dt.timedelta(days=90))  # this month's and the next quarter's closings
WORKLISTS = {
    "invoices": (
        """query($after: String) { invoices(first: 50, after: $after, orderBy: {field: OPEN_AMOUNT, direction: DESC},
             filter: {minDaysOverdue: 31, minOpenAmount: "10000", customer: {region: ["EMEA"]}}) {
             totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }""",
        finance_overdue,
    ),
    "tickets": (
        """query($after: String) { tickets(first: 50, after: $after, orderBy: {field: PRIORITY},
             filter: {status: [OPEN, IN_PROGRESS], slaBreached: true}) {
             totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }""",
        service_breaching,
    ),
    "customers": (
        """query($after: String) { customers(first: 50, after: $after, creditExceeded: true, orderBy: {field: NAME}) {
             totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }""",
        customers_over_credit,
    ),
    "contracts": (
        f"""query($after: String) {{ contracts(first: 50, after: $after, orderBy: {{field: END_DATE}},
             filter: {{status: [ACTIVE], expiringBefore: "{TODAY + dt.timedelta(days=60)}"}}) {{
             totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id }} }} }} }}""",
        contracts_expiring,
    ),
    "opportunities": (
        f"""query($after: String) {{ opportunities(first: 50, after: $after,
             filter: {{stage: ["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION"],
                       closeFrom: "{WINDOW[0]}", closeTo: "{WINDOW[1]}"}}) {{
             totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id }} }} }} }}""",
        opportunities_closing,
    ),
    "orders": (
        """query($after: String) { orders(first: 50, after: $after, orderBy: {field: PROMISED_DATE}, filter: {late: true}) {
             totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }""",
        orders_late,
    ),
}


@pytest.fixture(scope="module")
def callers(world) -> dict[str, Caller]:
    """An executive, and the rep (with the manager of their team) who owns the most overdue EMEA invoices."""
    everyone = Caller("executive", bearer("executive"), world["customers"], True)
    team_of = {r["id"]: r["team"] for r in world["reps"]}
    best = max(world["reps"], key=lambda rep: len(finance_overdue(world, Caller(
        "rep", {}, [c for c in world["customers"] if c["owner_id"] == rep["id"]], False))))
    own = [c for c in world["customers"] if c["owner_id"] == best["id"]]
    team = [c for c in world["customers"] if team_of[c["owner_id"]] == best["team"]]
    return {
        "executive": everyone,
        "sales_manager": Caller("sales_manager", bearer("sales_manager", user="M1", team=best["team"]), team, False),
        "sales_rep": Caller("sales_rep", bearer("sales_rep", user=best["id"], team=best["team"]), own, False),
    }


def every_page(gateway, query: str, headers: dict[str, str], root: str) -> tuple[list[str], set[int]]:
    """The ids of every page in order, and the totalCount each page reported."""
    ids, totals, after = [], set(), None
    while True:
        body = gateway.query(query, {"after": after}, headers=headers)
        assert "errors" not in body, body["errors"]
        connection = body["data"][root]
        ids += [edge["node"]["id"] for edge in connection["edges"]]
        totals.add(connection["totalCount"])
        if not connection["pageInfo"]["hasNextPage"]:
            return ids, totals
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.parametrize("role", ["executive", "sales_manager", "sales_rep"])
@pytest.mark.parametrize("worklist", list(WORKLISTS))
def test_a_worklist_holds_exactly_the_rows_the_systems_hold_in_order(in_process_gateway, world, callers, role, worklist):
    query, expected_of = WORKLISTS[worklist]
    caller = callers[role]
    ids, totals = every_page(in_process_gateway, query, caller.headers, worklist)
    expected = expected_of(world, caller)
    if worklist == "tickets":  # an SLA falling due while the test runs may be on either side
        now = dt.datetime.now(dt.UTC)
        moving = {t["id"] for t in world["tickets"] if t["sla_due_at"]
                  and abs(dt.datetime.fromisoformat(t["sla_due_at"].replace("Z", "+00:00")) - now) < dt.timedelta(minutes=3)}
        assert [i for i in ids if i not in moving] == [i for i in expected if i not in moving]
        (total,) = totals
        assert abs(total - len(expected)) <= len(moving) and total == len(ids)
        return
    assert ids == expected
    assert totals == {len(expected)}


def test_the_chosen_rep_has_rows_in_the_finance_worklist(world, callers):
    assert finance_overdue(world, callers["sales_rep"])  # otherwise the rep's comparison above proves little


PAGES = {
    "invoices": """query($first: Int) { invoices(first: $first, orderBy: {field: OPEN_AMOUNT, direction: DESC},
        filter: {minDaysOverdue: 31, minOpenAmount: "10000", customer: {region: ["EMEA"]}}) {
        totalCount edges { node { number openAmount daysOverdue customer { name } } } summary { aging { key amount } dso } } }""",
    "tickets": """query($first: Int) { tickets(first: $first, orderBy: {field: PRIORITY},
        filter: {status: [OPEN, IN_PROGRESS], slaBreached: true}) {
        totalCount edges { node { id priority customer { name } } } summary { byPriority { key count } } } }""",
    "customers": """query($first: Int) { customers(first: $first, creditExceeded: true, orderBy: {field: NAME}) {
        totalCount edges { node { id name owner { name } } } } }""",
    "contracts": f"""query($first: Int) {{ contracts(first: $first, orderBy: {{field: END_DATE}},
        filter: {{status: [ACTIVE], expiringBefore: "{TODAY + dt.timedelta(days=60)}"}}) {{
        totalCount edges {{ node {{ number endDate customer {{ name }} }} }} summary {{ byKind {{ key count }} }} }} }}""",
    "opportunities": f"""query($first: Int) {{ opportunities(first: $first,
        filter: {{closeFrom: "{WINDOW[0]}", closeTo: "{WINDOW[1]}"}}) {{
        totalCount edges {{ node {{ id stage customer {{ name }} }} }} summary {{ count weightedAmount }} }} }}""",
    "orders": """query($first: Int) { orders(first: $first, orderBy: {field: PROMISED_DATE}, filter: {late: true}) {
        totalCount edges { node { number customer { name } lines { sku product { name } } } } summary { onTimeDeliveryRate } } }""",
}
# The calls of one page, by system and route: the page itself, one batch per joined system.
CALLS = {
    "invoices": {"crm": {"/customers/keys": 1, "/customers/by-ref": 1}, "erp": {"/invoices/search": 1}},
    "tickets": {"crm": {"/customers/by-ref": 1}, "desk": {"/tickets/search": 1}},
    "customers": {"crm": {"/customers/search": 1, "/reps": 1}, "erp": {"/parties/keys": 1}},
    "contracts": {"crm": {"/customers/by-ref": 1}, "clm": {"/contracts/search": 1}},
    "opportunities": {"crm": {"/opportunities/search": 1, "/customers": 1}},
    "orders": {"crm": {"/customers/by-ref": 1}, "erp": {"/orders/search": 1, "/products": 1}},
}
# A restricted caller's lists of other systems first ask the CRM for their customers' keys.
SCOPED = {"tickets": {"crm": {"/customers/keys": 1}}, "contracts": {"crm": {"/customers/keys": 1}},
          "orders": {"crm": {"/customers/keys": 1}}}


def calls_of(gateway, query: str, first: int, headers: dict[str, str]) -> dict[str, dict[str, int]]:
    gateway.reset_stats()
    body = gateway.query(query, {"first": first}, headers=headers)
    assert "errors" not in body, body["errors"]
    return {system: routes for system, routes in gateway.by_route().items() if routes}


@pytest.mark.parametrize("role", ["executive", "sales_rep"])
@pytest.mark.parametrize("worklist", list(PAGES))
def test_a_page_costs_the_same_calls_at_any_size_one_per_system_and_route(in_process_gateway, callers, role, worklist):
    headers = callers[role].headers
    by_size = {first: calls_of(in_process_gateway, PAGES[worklist], first, headers) for first in (10, 50, 100)}
    expected = {system: dict(routes) for system, routes in CALLS[worklist].items()}
    if role == "sales_rep":
        for system, routes in SCOPED.get(worklist, {}).items():
            expected.setdefault(system, {}).update(routes)
    assert by_size[50] == expected
    assert by_size[10] == by_size[50] == by_size[100]


NESTED = """query($first: Int, $n: Int) { customers(first: $first) { edges { node { id
    invoicesConnection(first: $n, orderBy: {field: DUE_DATE}, filter: {status: [OPEN, PARTIALLY_PAID]}) {
      totalCount pageInfo { hasNextPage } edges { node { id } } }
    ordersConnection(first: $n, orderBy: {field: TOTAL, direction: DESC}) {
      totalCount pageInfo { hasNextPage } edges { node { id lines { sku product { name } } } } }
    contractsConnection(first: $n, filter: {status: [ACTIVE, COMPLETED]}) { totalCount pageInfo { hasNextPage } edges { node { id } } }
    ticketsConnection(first: $n, orderBy: {field: PRIORITY}) { totalCount pageInfo { hasNextPage } edges { node { id } } } } } } }"""


def nested_expected(world, customer, n):
    """Each nested page recomputed from the systems' data: (ids of the first n, total, more)."""
    erp, clm, desk = (customer["refs"][system] for system in ("erp", "clm", "desk"))
    lists = {
        "invoicesConnection": ordered([i for i in world["invoices"] if i["party_code"] == erp and i["status"] in OPEN],
                                      lambda i: i["due_date"], False),
        "ordersConnection": ordered([o for o in world["orders"] if o["party_code"] == erp],
                                    lambda o: Decimal(o["total"]), True),
        "contractsConnection": ordered([c for c in world["contracts"] if c["counterparty_id"] == clm
                                        and c["status"] in ("ACTIVE", "COMPLETED")], lambda c: c["number"], False),
        "ticketsConnection": ordered([t for t in world["tickets"] if t["org_id"] == desk], lambda t: t["priority"], False),
    }
    return {name: (ids[:n], len(ids), len(ids) > n) for name, ids in lists.items()}


@pytest.mark.parametrize("gateway_fixture", ["in_process_gateway", "in_process_reference_gateway"])
def test_nested_connections_page_and_count_each_customer_as_its_systems_do(request, world, gateway_fixture):
    gateway = request.getfixturevalue(gateway_fixture)
    body = gateway.query(NESTED, {"first": 30, "n": 3}, headers=bearer("executive"))
    assert "errors" not in body, body["errors"][:3]
    by_id = {c["id"]: c for c in world["customers"]}
    for edge in body["data"]["customers"]["edges"]:
        node = edge["node"]
        for name, (ids, total, more) in nested_expected(world, by_id[node["id"]], 3).items():
            got = node[name]
            assert ([e["node"]["id"] for e in got["edges"]], got["totalCount"], got["pageInfo"]["hasNextPage"]) == (ids, total, more), (node["id"], name)


def test_nested_connections_cost_one_call_per_system_whatever_the_number_of_customers(in_process_gateway):
    by_customers = {}
    for first in (5, 50):
        in_process_gateway.reset_stats()
        body = in_process_gateway.query(NESTED, {"first": first, "n": 5}, headers=bearer("executive"))
        assert "errors" not in body
        by_customers[first] = in_process_gateway.by_route()
    assert by_customers[5] == by_customers[50] == {
        "crm": {"/customers/search": 1}, "erp": {"/invoices/search": 1, "/orders/search": 1, "/products": 1},
        "clm": {"/contracts/search": 1}, "desk": {"/tickets/search": 1}, "srm": {}, "mes": {},
    }


# Last in this module: it writes a ticket into the shared demo desk, which `world` read before.
def test_a_keyset_page_does_not_shift_when_a_record_is_added_before_it(in_process_gateway, world):
    """The newest tickets first: a ticket opened between page 1 and page 2 neither repeats nor hides a row."""
    from in_process import demo_apps

    query = """query($after: String) { tickets(first: 5, after: $after) { pageInfo { endCursor } edges { node { id } } } }"""
    before = in_process_gateway.query(query.replace("first: 5", "first: 10"), headers=bearer("executive"))
    ten = [edge["node"]["id"] for edge in before["data"]["tickets"]["edges"]]
    first = in_process_gateway.query(query, headers=bearer("executive"))["data"]["tickets"]
    org = next(c["refs"]["desk"] for c in world["customers"] if c["refs"]["desk"])
    opened = TestClient(demo_apps()["desk"]).post(
        "/tickets", json={"org_id": org, "subject": "Opened while paging", "kind": "INQUIRY", "priority": "P4"}
    )
    assert opened.status_code == 201
    after = first["pageInfo"]["endCursor"]
    second = in_process_gateway.query(query, {"after": after}, headers=bearer("executive"))["data"]["tickets"]
    assert [edge["node"]["id"] for edge in first["edges"] + second["edges"]] == ten
    newest = in_process_gateway.query(query, headers=bearer("executive"))["data"]["tickets"]["edges"][0]
    assert newest["node"]["id"] == opened.json()["id"]
