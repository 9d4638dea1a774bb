"""No role can compute a value it is denied from values it may read.

Each test replays an attack an outsider made with an ordinary role's token: read the
derived fields a role is given and recompute the restricted figure from them, exactly
or by moving an input and watching the answer. Each must now come up empty-handed.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from conftest import bearer

FULFILMENT = """query($id: ID!) { contract(id: $id) {
  amount invoices { amount paidAmount } fulfilment { shippedAmount invoicedGross paidAmount progress } } }"""
FROM_INVOICES = ("invoicedAmount", "invoicedTax", "invoicedGross", "paidAmount", "paidTax", "paidGross")


@pytest.fixture(scope="module")
def contract(systems) -> dict:
    """A contract with an amount, shipped and invoiced orders, and its customer's owner."""
    customers = systems.get("crm", "/customers/search", limit=400)
    for customer in customers:
        refs = customer["refs"]
        if not (refs["erp"] and refs["clm"]):
            continue
        orders = systems.get("erp", "/orders", party=refs["erp"])
        for candidate in systems.get("clm", "/contracts", counterparty=refs["clm"]):
            mine = [o for o in orders if o["contract_number"] == candidate["number"] and o["status"] != "CANCELLED"]
            shipped = sum(Decimal(o["shipped_amount"]) for o in mine)
            invoiced = sum(Decimal(o["invoiced_amount"]) for o in mine)
            if candidate["amount"] and shipped > 0 and invoiced > 0:
                return {"id": candidate["id"], "amount": Decimal(candidate["amount"]), "owner": customer["owner_id"]}
    pytest.fail("no contract in the demo data has an amount and shipped, invoiced orders")


def forbidden_paths(body: dict) -> set[tuple]:
    return {tuple(e["path"]) for e in body.get("errors", []) if e["extensions"]["code"] == "FORBIDDEN"}


@pytest.mark.parametrize("role", ["service_agent", "procurement"])
def test_fulfilment_does_not_give_away_the_invoices_to_a_role_denied_them(gateway, contract, role):
    admin = gateway.query(FULFILMENT, {"id": contract["id"]})["data"]["contract"]
    invoiced = sum(Decimal(i["amount"]) for i in admin["invoices"])
    assert Decimal(admin["fulfilment"]["invoicedGross"]) == invoiced  # what an attacker would get

    body = gateway.query(
        f"query($id: ID!) {{ contract(id: $id) {{ fulfilment {{ shippedAmount {' '.join(FROM_INVOICES)} }} }} }}",
        {"id": contract["id"]}, headers=bearer(role),
    )
    fulfilment = body["data"]["contract"]["fulfilment"]
    assert fulfilment["shippedAmount"] is not None
    assert all(fulfilment[name] is None for name in FROM_INVOICES)
    assert {("contract", "fulfilment", name) for name in FROM_INVOICES} <= forbidden_paths(body)
    assert str(invoiced) not in str(body)
    paid = admin["fulfilment"]["paidAmount"]
    if paid not in (fulfilment["shippedAmount"], "0.00"):
        assert paid not in str(body)


def test_progress_does_not_give_away_the_contract_amount_to_the_service_desk(gateway, contract):
    query = "query($id: ID!) { contract(id: $id) { fulfilment { shippedAmount progress } } }"
    admin = gateway.query(query, {"id": contract["id"]})["data"]["contract"]["fulfilment"]
    recomputed = Decimal(admin["shippedAmount"]) / Decimal(str(admin["progress"]))
    assert abs(recomputed - contract["amount"]) / contract["amount"] < Decimal("0.001")  # the attack, as admin

    body = gateway.query(query, {"id": contract["id"]}, headers=bearer("service_agent"))
    assert body["data"]["contract"]["fulfilment"]["progress"] is None
    assert ("contract", "fulfilment", "progress") in forbidden_paths(body)
    # Procurement may read the amount, so it keeps the progress.
    allowed = gateway.query(query, {"id": contract["id"]}, headers=bearer("procurement"))
    assert allowed["data"]["contract"]["fulfilment"]["progress"] == admin["progress"]


# The BI export of the same figures: tests/test_bi.py, test_a_denied_field_is_an_empty_cell_...


QUOTE = """query($input: QuoteInput!) { quote(input: $input) {
  total marginPct approval { required level reasons } lines { sku unitPrice marginPct unitCost } } }"""


@pytest.fixture(scope="module")
def rep_quote(systems) -> dict:
    """A rep, one of their customers, and 20 SKUs with a cost."""
    rep = systems.get("crm", "/reps")[0]
    customer = systems.get("crm", "/customers/search", owner=rep["id"], limit=1)[0]
    products = [p for p in systems.get("erp", "/products") if p.get("standard_cost")][:20]
    return {"rep": rep, "customer": customer["id"], "skus": [p["sku"] for p in products]}


def test_a_rep_cannot_read_the_cost_off_the_margin_of_a_one_euro_quote(gateway, rep_quote):
    lines = [{"sku": sku, "quantity": "1", "unitPrice": "1"} for sku in rep_quote["skus"]]
    variables = {"input": {"customerId": rep_quote["customer"], "lines": lines}}
    admin = gateway.query(QUOTE, variables)["data"]["quote"]
    costs = {line["sku"]: Decimal(line["unitCost"]) for line in admin["lines"] if line["unitCost"]}
    # The attack, as admin: cost = price x (1 - marginPct / 100).
    line = admin["lines"][0]
    assert abs(Decimal(1) * (1 - Decimal(str(line["marginPct"])) / 100) - costs[line["sku"]]) < Decimal("0.01")

    rep = bearer("sales_rep", user=rep_quote["rep"]["id"], team=rep_quote["rep"]["team"])
    body = gateway.query(QUOTE, variables, headers=rep)
    quote = body["data"]["quote"]
    assert quote["marginPct"] is None and all(line["marginPct"] is None for line in quote["lines"])
    assert ("quote", "marginPct") in forbidden_paths(body)
    for cost in costs.values():
        assert str(cost) not in str(body)


@pytest.mark.parametrize("role", ["service_agent", "procurement", "bi_reader"])
def test_roles_that_make_no_quotes_get_no_approval_oracle(gateway, rep_quote, role):
    """Moving the price and watching the approval found a cost and a credit available exactly."""
    seen = []
    for price in ("1", "100", "10000", "1000000"):
        lines = [{"sku": rep_quote["skus"][0], "quantity": "1", "unitPrice": price}]
        body = gateway.query(QUOTE, {"input": {"customerId": rep_quote["customer"], "lines": lines}},
                             headers=bearer(role, "field-probe"))
        assert body.get("data") is None and forbidden_paths(body) == {("quote",)}
        seen.append(str(body))
    assert len(set(seen)) == 1  # the same answer, whatever the price


def test_a_reps_approval_reasons_name_the_threshold_never_the_margin(gateway, rep_quote):
    rep = bearer("sales_rep", user=rep_quote["rep"]["id"], team=rep_quote["rep"]["team"])
    lines = [{"sku": rep_quote["skus"][0], "quantity": "1", "unitPrice": "0.01"}]
    body = gateway.query(QUOTE, {"input": {"customerId": rep_quote["customer"], "lines": lines}}, headers=rep)
    reasons = body["data"]["quote"]["approval"]["reasons"]
    margin = [reason for reason in reasons if reason.startswith("Margin")]
    assert margin and re.fullmatch(r"Margin is below \d+ %: [a-z ]+ approval", margin[0]), reasons


PEOPLE = """query($id: ID!) { customer(id: $id) { taxId contacts { email phone } opportunities { amount } } }"""


@pytest.mark.parametrize(
    "role,may_read",
    [
        ("procurement", set()),
        ("bi_reader", set()),
        ("service_agent", {"email", "phone"}),
        ("finance", {"email", "phone", "taxId", "amount"}),
    ],
)
def test_contact_details_tax_id_and_pipeline_go_only_to_roles_that_work_with_customers(gateway, systems, role, may_read):
    customer = next(
        c for c in systems.get("crm", "/customers/search", limit=100)
        if systems.get("crm", "/contacts", customer=c["id"]) and systems.get("crm", "/opportunities", customer=c["id"])
    )
    body = gateway.query(PEOPLE, {"id": customer["id"]}, headers=bearer(role, "field-probe"))
    node = body["data"]["customer"]
    values = {
        "taxId": [node["taxId"]],
        "email": [c["email"] for c in node["contacts"]],
        "phone": [c["phone"] for c in node["contacts"]],
        "amount": [o["amount"] for o in node["opportunities"]],
    }
    for name, found in values.items():
        if name in may_read:
            assert any(value is not None for value in found), name
        else:
            assert all(value is None for value in found), name
    if "taxId" not in may_read:
        assert customer["tax_id"] not in str(body)


def test_a_role_that_may_not_read_tax_ids_cannot_find_a_customer_by_one(gateway, systems):
    customer = systems.get("crm", "/customers/search", limit=1)[0]
    query = "query($q: String) { customers(search: $q) { totalCount edges { node { id } } } }"
    prefix = customer["tax_id"][:8]
    finance = gateway.query(query, {"q": prefix}, headers=bearer("finance"))["data"]["customers"]
    assert customer["id"] in [edge["node"]["id"] for edge in finance["edges"]]
    found = gateway.query(query, {"q": prefix}, headers=bearer("procurement"))["data"]["customers"]
    assert customer["id"] not in [edge["node"]["id"] for edge in found["edges"]]
    by_name = gateway.query(query, {"q": customer["name"]}, headers=bearer("procurement"))["data"]["customers"]
    assert customer["id"] in [edge["node"]["id"] for edge in by_name["edges"]]


def test_an_alias_or_a_fragment_does_not_reach_a_derived_field_around_the_rule(gateway, contract):
    query = """query($id: ID!) { contract(id: $id) { fulfilment { p: progress ...F ... on Fulfilment { i: invoicedGross } } } }
    fragment F on Fulfilment { q: progress paid: paidAmount }"""
    body = gateway.query(query, {"id": contract["id"]}, headers=bearer("service_agent"))
    fulfilment = body["data"]["contract"]["fulfilment"]
    assert fulfilment == {"p": None, "q": None, "i": None, "paid": None}
    assert {("contract", "fulfilment", key) for key in fulfilment} <= forbidden_paths(body)


def test_the_timeline_quotes_invoice_amounts_only_to_roles_that_may_read_receivables(gateway, systems):
    """Invoice events name the invoice's amount: a role denied receivables gets the orders, not the invoices."""
    customer = next(c for c in systems.get("crm", "/customers/search", limit=100)
                    if c["refs"]["erp"] and systems.get("erp", "/invoices", party=c["refs"]["erp"]))
    query = 'query($id: ID!) { customer(id: $id) { timeline(first: 200) { kind summary } } }'

    def kinds(role: str) -> set[str]:
        body = gateway.query(query, {"id": customer["id"]}, headers=bearer(role))
        assert "errors" not in body, body["errors"]
        return {event["kind"] for event in body["data"]["customer"]["timeline"]}

    assert {"ORDER_PLACED", "INVOICE_ISSUED"} <= kinds("finance")
    agent = kinds("service_agent")
    assert "ORDER_PLACED" in agent and "INVOICE_ISSUED" not in agent
