"""Every restricted field for every role, as the policy says: the value, or null and FORBIDDEN."""

import pytest

from conftest import bearer
from policies import ROLES, matrix
from schema import public
from server.wiring import build_authorizer

POLICY = build_authorizer()
MATRIX = matrix(POLICY, ROLES)

# How to reach each restricted type's fields, from ids found in the demo data.
REACH = {
    "Product": 'query($sku: ID!) { product(sku: $sku) { FIELD } }',
    "OrderLine": 'query($order: ID!) { order(id: $order) { lines { FIELD } } }',
    "SalesOrder": 'query($order: ID!) { order(id: $order) { FIELD SUB } }',
    "Contract": 'query($contract: ID!) { contract(id: $contract) { FIELD SUB } }',
    "Customer": 'query($customer: ID!) { customer(id: $customer) { FIELD SUB } }',
    "QuoteEvaluation": 'query($quote: QuoteInput!) { quote(input: $quote) { FIELD SUB } }',
    "QuoteLineEvaluation": 'query($quote: QuoteInput!) { quote(input: $quote) { lines { FIELD } } }',
    "Approval": 'query($quote: QuoteInput!) { quote(input: $quote) { approval { FIELD } } }',
    "Query": 'query($quote: QuoteInput!) { FIELD(input: $quote) { total } }',
    "Fulfilment": 'query($contract: ID!) { contract(id: $contract) { fulfilment { FIELD } } }',
    "Contact": 'query($customer: ID!) { customer(id: $customer) { contacts { FIELD } } }',
    "Opportunity": 'query($customer: ID!) { customer(id: $customer) { opportunities { FIELD } } }',
    "ContractSummary": "{ contracts(first: 1) { summary { FIELD } } }",
    "OpportunitySummary": "{ opportunities(first: 1) { summary { FIELD SUB } } }",
    "Query.invoices": "{ FIELD(first: 1) { totalCount } }",  # a field of its own: not reached like Query.quote
    "ProductSupplier": 'query($purchased: ID!) { product(sku: $purchased) { suppliers { FIELD } } }',
    "Supplier": 'query($supplier: ID!) { supplier(code: $supplier) { FIELD SUB } }',
    "PurchaseOrder": 'query($po: ID!) { purchaseOrder(number: $po) { FIELD } }',
    "PurchaseOrderLine": 'query($po: ID!) { purchaseOrder(number: $po) { lines { FIELD } } }',
    "SupplierInvoice": 'query($po: ID!) { purchaseOrder(number: $po) { invoices { FIELD } } }',
    "SupplierPayment": 'query($po: ID!) { purchaseOrder(number: $po) { invoices { payments { FIELD } } } }',
    "SlowMovingStock": "{ slowMovingStock(days: 365) { FIELD } }",
    "PurchaseReconciliation": 'query($mismatched_contract: ID!) { contract(id: $mismatched_contract) { '
    "purchaseReconciliation { FIELD } } }",
    "ReconciliationMismatch": 'query($mismatched_contract: ID!) { contract(id: $mismatched_contract) { '
    "purchaseReconciliation { mismatches { FIELD } } } }",
}
# Types reached through a restricted field: a role that may not read it is refused that field.
THROUGH = {"PurchaseReconciliation": "Contract.purchaseReconciliation", "ReconciliationMismatch": "Contract.purchaseReconciliation"}
# Fields reached otherwise than the rest of their type.
REACH_FIELD = {
    "Query.budgets": "{ budgets { category } }",
    "Query.procurementAlerts": "{ procurementAlerts { kind } }",
    "SalesOrder.deliveryRisk": 'query($open_order: ID!) { order(id: $open_order) { deliveryRisk { atRisk } } }',
    "Contract.purchaseReconciliation": 'query($purchase_contract: ID!) { contract(id: $purchase_contract) { '
    "purchaseReconciliation { balanced } } }",
}
SUBSELECTION = {
    "Customer.receivables": "{ openBalance }",
    "Contract.invoices": "{ number }",
    "SalesOrder.invoices": "{ number }",
    "QuoteEvaluation.credit": "{ ok }",
    "SalesOrder.qualityRecords": "{ id }",
    "Supplier.rating": "{ onTimeRate }",
    "OpportunitySummary.byStage": "{ key }",
    "Customer.invoicesConnection": "{ totalCount }",
}
TYPES = public.type_map
CASES = [
    (field, role, allowed)
    for field, roles in MATRIX.items()
    for role, allowed in roles.items()
    if field.split(".")[0] in TYPES
]


def supply_sample(systems, gateway):
    """A purchased SKU with suppliers, a purchase order whose first invoice has payments, its supplier, a
    purchase contract with orders, and one with an amount whose first mismatch has amounts (found as an admin)."""
    suppliers = systems.get("srm", "/suppliers")
    orders = systems.get("srm", "/purchase_orders", supplier=[s["code"] for s in suppliers])
    invoices = systems.get("srm", "/invoices", po=[o["number"] for o in orders])
    paid = {p["invoice_id"] for p in systems.get("srm", "/payments", invoice=[i["id"] for i in invoices])}
    first: dict = {}
    for invoice in invoices:
        first.setdefault(invoice["po_number"], invoice)
    order = next(o for o in orders if first.get(o["number"], {}).get("id") in paid)
    contracts = systems.get("clm", "/contracts", counterparty=[s["clm_ref"] for s in suppliers])
    return {
        "purchased": order["lines"][0]["sku"],
        "po": order["number"],
        "supplier": order["supplier_code"],
        "purchase_contract": next(c["id"] for c in contracts if c["purchase_orders"]),
        "mismatched_contract": mismatched_contract(gateway),
    }


def mismatched_contract(gateway):
    body = gateway.query("{ suppliers { purchaseContracts { id amount purchaseReconciliation { mismatches { "
                         "expected actual } } } } }")
    return next(
        c["id"] for s in body["data"]["suppliers"] for c in s["purchaseContracts"]
        if c["amount"] and c["purchaseReconciliation"]["mismatches"]
        and None not in c["purchaseReconciliation"]["mismatches"][0].values()
    )


@pytest.fixture(scope="module")
def sample(systems, gateway):
    """A customer with an ERP party, orders (an open one among them), a contract with orders, and its owner: in
    every role's scope; and the supply side's records (`supply_sample`)."""
    crm = systems.get("crm", "/customers/search", limit=300)
    for customer in crm:
        refs = customer["refs"]
        if not (refs["erp"] and refs["clm"]):
            continue
        contracts = [c for c in systems.get("clm", "/contracts", counterparty=refs["clm"]) if c["amount"]]
        orders = systems.get("erp", "/orders", party=refs["erp"])
        numbers = {o["contract_number"] for o in orders}
        with_orders = [c for c in contracts if c["number"] in numbers]
        invoiced = [o for o in orders if o["invoiced_amount"] != "0.00"]
        people = systems.get("crm", "/contacts", customer=customer["id"])
        pipeline = systems.get("crm", "/opportunities", customer=customer["id"])
        still_open = [o for o in orders if o["status"] in ("CONFIRMED", "PROCESSING")]
        if with_orders and invoiced and still_open and people and people[0]["email"] and people[0]["phone"] and pipeline and pipeline[0]["amount"]:
            owner = systems.get("crm", "/reps", ids=customer["owner_id"])[0]
            line = invoiced[0]["lines"][0]
            return {
                "customer": customer["id"],
                "order": invoiced[0]["id"],
                "contract": with_orders[0]["id"],
                "sku": line["sku"],
                "quote": {"customerId": customer["id"], "lines": [{"sku": line["sku"], "quantity": "1", "unitPrice": "0.01"}]},
                "owner": owner,
                "open_order": still_open[0]["id"],
                **supply_sample(systems, gateway),
            }
    pytest.fail("no customer in the demo data has orders, invoices and a contract with orders")


# A role the policy does not name: no field, row or document line of its own. bi_reader may
# send only trusted documents (persisted/); with this role beside it, its ad-hoc probes are
# accepted (for documents the widest role wins) while fields and rows stay bi_reader's.
PROBE = "field-probe"


def headers_for(role, sample):
    owner = sample["owner"]
    if role in ("sales_rep", "sales_manager"):
        return bearer(role, user=owner["id"], team=owner["team"])
    if role == "bi_reader":
        return bearer(role, PROBE, user=f"test-{role}")
    return bearer(role, user=f"test-{role}")


def read(gateway, field, role, sample):
    type_name, name = field.split(".")
    query = (REACH_FIELD.get(field) or REACH.get(field) or REACH[type_name]).replace("FIELD", name).replace("SUB", SUBSELECTION.get(field, ""))
    variables = {key: value for key, value in sample.items() if f"${key}" in query}
    body = gateway.query(query, variables, headers=headers_for(role, sample))
    node = body.get("data")
    if node is None:  # a denied non-null root field (Query.quote) nulls the data
        return None, body.get("errors", [])
    while isinstance(node, dict) and name not in node:
        node = next(iter(node.values()))
        if isinstance(node, list):
            node = node[0]
    if node is None:  # a record above it the row-level rules refuse (a purchase contract names no customer)
        return None, [dict(e, row_level=True) for e in body.get("errors", [])]
    return node[name], body.get("errors", [])


@pytest.mark.parametrize("field,role,allowed", CASES, ids=[f"{f}-{r}" for f, r, _ in CASES])
def test_a_restricted_field_follows_the_policy(gateway, sample, field, role, allowed):
    value, errors = read(gateway, field, role, sample)
    forbidden = [e for e in errors if e["extensions"]["code"] == "FORBIDDEN"]
    if allowed:
        assert value is not None and not forbidden, errors
    else:
        assert value is None
        assert len(forbidden) >= 1
        # Reached through a quote the role may not ask for, the refusal is of the quote itself.
        refused = field if "quote(" not in REACH_FIELD.get(field, REACH[field.split(".")[0]]) or MATRIX["Query.quote"][role] else "Query.quote"
        above = THROUGH.get(field.split(".")[0])
        if above and not MATRIX[above][role]:
            refused = above
        if not all(refused in e["message"] for e in forbidden):  # refused a level above, by the rows it may see
            assert all(e.get("row_level") for e in forbidden) and POLICY.scope((role,)) != "all"
            assert not any(refused in e["message"] for e in forbidden)


# Non-null in the contract before the rule below; a denial nulls their parent (the quote: the data).
NON_NULL_RESTRICTED = {"Query.quote", "Approval.reasons", "Approval.required"}


def test_a_restricted_field_is_nullable_so_a_denial_nulls_only_itself():
    from graphql import GraphQLNonNull

    non_null = {
        field for field in MATRIX if field.split(".")[0] in TYPES
        and isinstance(TYPES[field.split(".")[0]].fields[field.split(".")[1]].type, GraphQLNonNull)
    }
    assert non_null == NON_NULL_RESTRICTED


def test_the_matrix_covers_every_field_the_contract_marks_restricted():
    contract_restricted = {
        "Receivables", "Contract.invoices", "SalesOrder.invoices", "OrderLine.unitCost", "OrderLine.margin",
        "Product.standardCost", "Product.rolledUpCost", "QuoteEvaluation.cost", "QuoteEvaluation.margin",
        "QuoteEvaluation.marginPct", "QuoteEvaluation.credit", "QuoteLineEvaluation.unitCost", "QuoteLineEvaluation.marginPct",
    }
    named = set(MATRIX) | {"Receivables"}  # Customer.receivables guards the whole Receivables object
    assert contract_restricted <= named


def test_a_denied_value_never_appears_under_an_alias_or_in_a_fragment(gateway, sample):
    query = """query($sku: ID!) {
      product(sku: $sku) { sku c1: standardCost ...Costs ... on Product { c3: rolledUpCost } }
    }
    fragment Costs on Product { c2: standardCost }"""
    admin = gateway.query(query, {"sku": sample["sku"]})["data"]["product"]
    assert admin["c1"] and admin["c2"] and admin["c3"]
    response = gateway.post(query, {"sku": sample["sku"]}, headers=bearer("sales_rep", user=sample["owner"]["id"]))
    product = response.json()["data"]["product"]
    assert product == {"sku": sample["sku"], "c1": None, "c2": None, "c3": None}
    assert admin["c1"] not in response.text and admin["c3"] not in response.text


def test_the_readme_shows_the_policy_as_it_is():
    from pathlib import Path

    from policies.enforcement import markdown_matrix

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert markdown_matrix(POLICY) in readme


def test_a_rep_on_the_quote_screen_sees_availability_credit_and_approval_but_no_cost_nor_margin(gateway, sample):
    """marginPct with a price the rep chooses would be the cost: reps see the approval instead."""
    from conftest import QUERIES

    query = (QUERIES / "quote.graphql").read_text()
    body = gateway.query(query, {"input": sample["quote"]}, headers=headers_for("sales_rep", sample))
    quote = body["data"]["quote"]
    assert quote["total"] and quote["credit"] is not None
    assert quote["approval"]["required"] and any(r.startswith("Margin is below") for r in quote["approval"]["reasons"])
    line = quote["lines"][0]
    assert line["amount"] and line["availability"]["available"] is not None
    assert quote["cost"] is None and quote["margin"] is None and quote["marginPct"] is None
    assert line["unitCost"] is None and line["marginPct"] is None
    denied = {tuple(e["path"]) for e in body["errors"] if e["extensions"]["code"] == "FORBIDDEN"}
    assert denied == {
        ("quote", "cost"), ("quote", "margin"), ("quote", "marginPct"),
        ("quote", "lines", 0, "unitCost"), ("quote", "lines", 0, "marginPct"),
    }


def test_the_readme_lists_the_derived_fields_as_the_policy_decides_them():
    from pathlib import Path

    from policies.enforcement import markdown_derivations

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert markdown_derivations(POLICY) in readme
