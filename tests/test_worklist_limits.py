"""Worklists' limits: page sizes, filters checked with a code naming the argument and no backend call,
filters and sorts that would reveal a field the caller may not read, and what they cost in demand control.

In process (tests/in_process.py), and demand control's estimate on the schema alone.
"""

from __future__ import annotations

import pytest
from graphql import parse

import schema
from conftest import bearer
from schema import demand

EXECUTIVE = bearer("executive")
REFUSED = [
    ("{ invoices(first: 101) { totalCount } }", "`first`"),
    ("{ invoices(first: -1) { totalCount } }", "`first`"),
    ("{ invoices(filter: {minDaysOverdue: -1}) { totalCount } }", "`filter.minDaysOverdue`"),
    ('{ invoices(filter: {dueFrom: "2026-10-01", dueTo: "2026-09-01"}) { totalCount } }', "`filter.dueFrom`"),
    ('{ invoices(filter: {minOpenAmount: "10.001"}) { totalCount } }', "`filter.minOpenAmount`"),
    ('{ invoices(filter: {minAmount: "1e20"}) { totalCount } }', "`filter.minAmount`"),
    ('{ invoices(filter: {customerId: "C1,C2"}) { totalCount } }', "`filter.customerId`"),
    ('{ invoices(filter: {customer: {region: ["EMEA,NA"]}}) { totalCount } }', "`filter.customer.region`"),
    ('{ orders(filter: {customer: {ids: ["C 1"]}}) { totalCount } }', "`filter.customer.ids`"),
    ("{ orders(filter: {status: [%s]}) { totalCount } }" % ", ".join(["DONE"] * 51), "`filter.status`"),
    ('{ tickets(filter: {priority: ["P9"]}) { totalCount } }', "`filter.priority`"),
    ('{ opportunities(filter: {stage: ["WON"]}) { totalCount } }', "`filter.stage`"),
    ('{ contracts(after: "garbage") { totalCount } }', "`after`"),
    ('{ customers(region: ["EMEA,NA"]) { totalCount } }', "`region`"),
    ("{ customers(first: 101) { totalCount } }", "`first`"),
]


@pytest.mark.parametrize(("query", "named"), REFUSED)
def test_a_bad_argument_is_refused_by_name_without_a_backend_call(in_process_gateway, query, named):
    in_process_gateway.reset_stats()
    body = in_process_gateway.query(query, headers=EXECUTIVE)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert named in error["message"]
    assert sum(in_process_gateway.calls().values()) == 0


def test_a_cursor_is_good_only_for_the_list_and_order_that_issued_it(in_process_gateway):
    first = in_process_gateway.query(
        "{ invoices(first: 2, orderBy: {field: DUE_DATE}) { pageInfo { endCursor } } }", headers=EXECUTIVE
    )
    cursor = first["data"]["invoices"]["pageInfo"]["endCursor"]
    for other in ("invoices(first: 2, after: $c, orderBy: {field: AMOUNT})", "orders(first: 2, after: $c)"):
        body = in_process_gateway.query(f"query($c: String) {{ {other} {{ totalCount }} }}", {"c": cursor}, headers=EXECUTIVE)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    again = in_process_gateway.query(
        "query($c: String) { invoices(first: 2, after: $c, orderBy: {field: DUE_DATE}) { totalCount } }",
        {"c": cursor}, headers=EXECUTIVE,
    )
    assert "errors" not in again


@pytest.mark.parametrize(
    ("role", "query", "denied"),
    [
        # Invoices are receivables: a service agent may not read them, so not list them either.
        ("service_agent", "{ invoices { totalCount } }", "Query.invoices"),
        # Filtering or sorting by a restricted amount would reveal it.
        ("service_agent", '{ contracts(filter: {minAmount: "100000"}) { totalCount } }', "Contract.amount"),
        ("service_agent", "{ contracts(orderBy: {field: AMOUNT}) { totalCount } }", "Contract.amount"),
        ("service_agent", "{ opportunities(orderBy: {field: AMOUNT}) { totalCount } }", "Opportunity.amount"),
        ("procurement", "{ customers(hasOverdue: true) { totalCount } }", "Customer.receivables"),
        ("service_agent", "{ contracts { summary { totalAmount } } }", "ContractSummary.totalAmount"),
    ],
)
def test_a_worklist_reveals_no_field_the_caller_may_not_read(in_process_gateway, role, query, denied):
    body = in_process_gateway.query(query, headers=bearer(role))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert denied in body["errors"][0]["message"]


def test_a_service_agent_lists_contracts_and_tickets_without_amounts(in_process_gateway):
    body = in_process_gateway.query(
        "{ contracts(first: 3, orderBy: {field: END_DATE}) { totalCount summary { count byStatus { key count } } }"
        " tickets(first: 3) { totalCount } }",
        headers=bearer("service_agent"),
    )
    assert "errors" not in body
    assert body["data"]["contracts"]["summary"]["count"] == body["data"]["contracts"]["totalCount"] > 0


def estimate(query: str) -> int:
    document = parse(query)
    (operation,) = document.definitions
    found = demand.CostPlan(schema.public, document, operation).estimate(None)
    assert found is not None
    return found


def test_filters_and_summaries_count_in_the_estimated_cost():
    plain = estimate("{ invoices(first: 50) { edges { node { id } } } }")
    filtered = estimate('{ invoices(first: 50, filter: {status: [OPEN, PARTIALLY_PAID], customer: {region: ["EMEA"]}}) '
                        "{ edges { node { id } } } }")
    summarised = estimate("{ invoices(first: 50) { edges { node { id } } summary { count } } }")
    assert filtered == plain + 3
    # the summary once, its two fields (`summary`, `count`) per row as every field of a connection
    assert summarised == plain + demand.SUMMARY_COST + 50 * 2
    assert estimate("{ invoices(first: 100) { edges { node { id } } } }") > plain  # `first` multiplies as before


def test_a_risk_filter_counts_in_the_estimated_cost_once_written_or_a_variable():
    """The gateway checks candidates for `risk` (calls no `first` shows): it costs RISK_COST, once."""
    plain = estimate("{ customers(first: 50) { edges { node { id } } } }")
    assert estimate("{ customers(first: 50, risk: [HIGH]) { edges { node { id } } } }") == plain + demand.RISK_COST
    assert estimate("query($r: [RiskLevel!]) { customers(first: 50, risk: $r) { edges { node { id } } } }") == (
        plain + demand.RISK_COST
    )


async def test_an_erp_that_answers_no_worklists_is_said_so_without_a_call():
    """Tryton has no worklist search: its invoice and order lists are NOT_SUPPORTED, not a broken call."""
    import datetime as dt
    from types import SimpleNamespace

    from resolvers.errors import NotSupported
    from resolvers.worklists import INVOICES, Order, worklist

    tryton = SimpleNamespace(name="ERP")  # no invoice_list, order_list, party_keys
    ctx = SimpleNamespace(scope="all", today=dt.date.today(), can_read=lambda coordinate: True,
                          loaders=SimpleNamespace(backends=SimpleNamespace(erp=tryton)))
    with pytest.raises(NotSupported):
        await worklist(ctx, INVOICES, filter_=None, order=Order("issued_at", True), first=20, after=None, summary=False)


def test_narrowing_filters_of_the_customer_list_are_and_ed(in_process_gateway):
    """`tier` and `tiers` together keep the tiers in both; a manager asking for another team gets none."""
    def total(arguments: str, headers: dict) -> int:
        body = in_process_gateway.query(f"{{ customers({arguments}) {{ totalCount }} }}", headers=headers)
        assert "errors" not in body, body
        return body["data"]["customers"]["totalCount"]

    key = total("tier: KEY", EXECUTIVE)
    assert key > 0
    assert total("tier: KEY, tiers: [KEY, SMALL]", EXECUTIVE) == key
    assert total("tier: KEY, tiers: [SMALL]", EXECUTIVE) == 0
    manager = bearer("sales_manager", user="M1", team="EMEA North")
    own_team = total('team: "EMEA North"', manager)
    assert own_team == total("first: 1", manager) > 0
    assert total('team: "LATAM"', manager) == 0
    assert total('team: "LATAM"', EXECUTIVE) > 0


def test_a_join_past_the_keys_one_call_carries_asks_to_narrow(in_process_gateway, monkeypatch):
    """The customers' keys travel in one query string: past the limit the list is refused, the ERP never asked."""
    import resolvers.customers

    monkeypatch.setattr(resolvers.customers, "MAX_JOIN_KEYS", 10)
    in_process_gateway.reset_stats()
    body = in_process_gateway.query('{ invoices(filter: {customer: {region: ["EMEA"]}}) { totalCount } }', headers=EXECUTIVE)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "filter.customer" in body["errors"][0]["message"]
    assert in_process_gateway.by_route()["erp"] == {}
    body = in_process_gateway.query("{ customers(hasOverdue: true) { totalCount } }", headers=EXECUTIVE)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "hasOverdue" in body["errors"][0]["message"]


@pytest.mark.parametrize("arguments", ["hasOverdue: true", "hasOverdue: false", "creditExceeded: true"])
def test_a_caller_who_may_not_read_receivables_cannot_learn_them_through_a_customer_filter(in_process_gateway, arguments):
    """A service agent may list customers but not read receivables: filtering by them would be an oracle
    (which customers are overdue); it is refused, with no rows and no count."""
    query = f"{{ customers(first: 5, {arguments}) {{ totalCount edges {{ node {{ id }} }} }} }}"
    body = in_process_gateway.query(query, headers=bearer("service_agent"))
    assert body["data"] is None or body["data"]["customers"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "receivables" in body["errors"][0]["message"]
