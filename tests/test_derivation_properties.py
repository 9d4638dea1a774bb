"""The derivation rule holds for any input: no role recomputes a value it is denied.

Hypothesis picks a customer (a sales rep's own), quote lines over SKUs with a known
cost, two prices for the same lines, and a contract. For each draw the test plays the
attacker as every principal (each role, and one without roles), with what it is given:

- exactly: cost = price x (1 - marginPct / 100) per line and for the quote; the
  contract amount = shippedAmount / progress; invoiced and paid from the fulfilment;
- by search: the same quote at two prices; a principal that may neither read the
  cost and the credit check nor derive them (policy `derive` lines) must get the
  same approval at both prices, so there is nothing to search along.

Whatever the principal may read directly (or derive, by an accepted derivation) is
not a secret from it. Expectations come from the shipped policy with the schema's
declared derivations; the admin's answer is the truth the attack aims at.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import bearer
from policies import ROLES
from server.wiring import build_authorizer

POLICY = build_authorizer()
PRINCIPALS = [*ROLES, "nobody"]
# Draws per run, each played by all 9 principals against one admin answer: 12 checks per
# principal, as when each principal had 12 draws of its own (and an admin answer for each).
DRAWS = 12

QUOTE = """query($input: QuoteInput!) { quote(input: $input) {
  total cost margin marginPct approval { required level reasons }
  lines { sku unitPrice amount unitCost marginPct } } }"""
CONTRACT = """query($id: ID!) { contract(id: $id) { amount
  fulfilment { orderedAmount shippedAmount invoicedAmount paidAmount progress } } }"""


def may(roles: tuple[str, ...], field: str) -> bool:
    return POLICY.can_read(roles, field)


def may_learn(roles: tuple[str, ...], secret: str, *through: str) -> bool:
    """The principal may read the secret itself, or a field computed from it by a derivation its policy accepts."""
    return may(roles, secret) or any(may(roles, field) and POLICY.accepts_derivation(roles, field) for field in through)


@pytest.fixture(scope="module")
def world(systems) -> dict:
    reps = systems.get("crm", "/reps")
    rep = reps[0]
    customers = systems.get("crm", "/customers/search", owner=rep["id"], limit=20)
    costed = [p for p in systems.get("erp", "/products") if p.get("standard_cost") and Decimal(p["standard_cost"]) > 1]
    contracts = [
        c for customer in customers if customer["refs"]["clm"]
        for c in systems.get("clm", "/contracts", counterparty=customer["refs"]["clm"]) if c["amount"]
    ]
    principals = {}
    for who in PRINCIPALS:
        roles = () if who == "nobody" else (who,)
        if who in ("sales_rep", "sales_manager"):
            headers = bearer(who, user=rep["id"], team=rep["team"])
        else:
            # "field-probe": bi_reader's own role lets it send ad-hoc documents (its fields stay bi_reader's)
            headers = bearer(*roles, "field-probe", user=f"probe-{who}")
        principals[who] = (roles, headers)
    return {
        "customers": [c["id"] for c in customers],
        "skus": [p["sku"] for p in costed[:60]],
        "contracts": [c["id"] for c in contracts[:30]],
        "principals": principals,
    }


@st.composite
def quote_inputs(draw, world) -> tuple[dict, dict]:
    """The same lines at two prices: (input, input at other prices)."""
    customer = draw(st.sampled_from(world["customers"]))
    skus = draw(st.lists(st.sampled_from(world["skus"]), min_size=1, max_size=4, unique=True))
    lines, moved = [], []
    for sku in skus:
        quantity = draw(st.integers(min_value=1, max_value=50))
        price = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2))
        factor = draw(st.sampled_from(["0.01", "0.5", "2", "100", "10000"]))
        lines.append({"sku": sku, "quantity": str(quantity), "unitPrice": str(price)})
        moved.append({"sku": sku, "quantity": str(quantity), "unitPrice": str(max(Decimal("0.01"), price * Decimal(factor)).quantize(Decimal("0.01")))})
    return {"customerId": customer, "lines": lines}, {"customerId": customer, "lines": moved}


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= max(Decimal("0.01"), abs(b) * Decimal("0.0005"))


def check_quote(roles, admin: dict, mine: dict | None) -> None:
    if mine is None:
        return  # the whole quote was refused: nothing to compute from
    cost_is_secret = not may_learn(roles, "QuoteLineEvaluation.unitCost", "QuoteLineEvaluation.marginPct")
    if not cost_is_secret:
        return
    for truth, seen in zip(admin["lines"], mine["lines"], strict=True):
        if truth["unitCost"] is None or seen["marginPct"] is None:
            continue
        recomputed = Decimal(seen["unitPrice"]) * (1 - Decimal(str(seen["marginPct"])) / 100)
        assert not close(recomputed, Decimal(truth["unitCost"])), f"{roles} recomputed the unit cost of {truth['sku']}"
    if admin["cost"] is not None and mine["marginPct"] is not None:
        recomputed = Decimal(mine["total"]) * (1 - Decimal(str(mine["marginPct"])) / 100)
        assert not close(recomputed, Decimal(admin["cost"])), f"{roles} recomputed the quote's cost"
    assert mine["cost"] is None and mine["margin"] is None


def approval_of(body: dict):
    data = body.get("data")
    return None if data is None or data["quote"] is None else data["quote"]["approval"]


@settings(max_examples=DRAWS, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_principal_recomputes_a_denied_value_from_derived_ones(in_process_gateway, world, data):
    gateway = in_process_gateway  # the gateway and the demo apps in this process (tests/in_process.py)
    first, second = data.draw(quote_inputs(world), label="quote at two prices")
    contract = data.draw(st.sampled_from(world["contracts"]), label="contract")
    admin = gateway.query(QUOTE, {"input": first})["data"]["quote"]
    truth = gateway.query(CONTRACT, {"id": contract})["data"]["contract"]

    for who in PRINCIPALS:
        roles, headers = world["principals"][who]
        body = gateway.query(QUOTE, {"input": first}, headers=headers)
        check_quote(roles, admin, (body.get("data") or {}).get("quote"))

        # By search: move the prices and watch the approval.
        secret_cost = not may_learn(roles, "QuoteEvaluation.cost", "Approval.required", "Approval.level", "Approval.reasons")
        secret_credit = not may_learn(roles, "QuoteEvaluation.credit", "Approval.required", "Approval.level", "Approval.reasons")
        if secret_cost or secret_credit:
            moved = gateway.query(QUOTE, {"input": second}, headers=headers)
            assert approval_of(body) == approval_of(moved), f"{who}'s approval moves with the price"

        seen = gateway.query(CONTRACT, {"id": contract}, headers=headers).get("data") or {}
        fulfilment = (seen.get("contract") or {}).get("fulfilment") or {}
        if not may(roles, "Contract.amount") and fulfilment.get("progress") and fulfilment.get("shippedAmount"):
            recomputed = Decimal(fulfilment["shippedAmount"]) / Decimal(str(fulfilment["progress"]))
            assert not close(recomputed, Decimal(truth["amount"])), f"{who} recomputed contract {contract}'s amount"
        if not (may(roles, "Contract.invoices") or may(roles, "SalesOrder.invoices")):
            assert fulfilment.get("invoicedAmount") is None and fulfilment.get("paidAmount") is None
