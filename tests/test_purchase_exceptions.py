"""A supplier's purchase contracts (CLM) and the purchase reconciliation exceptions export, recomputed from the
CLM's and SRM's own REST data; who sees them (BI: the mismatches without their amounts; sellers: nothing)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from conftest import BI_KEY, bearer
from sources.changes import Change, ChangeData

CENT = Decimal("0.01")
EXPORT = "/bi/PurchaseReconciliationExceptions.json"
AMOUNTS = ["expected", "actual", "message"]
PREFIX = "purchaseContracts.purchaseReconciliation.mismatches."


def purchase_contracts(systems, supplier) -> list[dict]:
    """The supplier's purchase contracts as the CLM lists its counterparty's contracts."""
    found = systems.get("clm", "/contracts", counterparty=supplier["clm_ref"])
    return [c for c in found if c["kind"] == "PURCHASE" and c["supplier_code"] == supplier["code"]]


def mismatches(contract, systems, today: date) -> list[tuple]:
    """(contract, kind, reference, expected, actual) of every mismatch, by the rules of resolvers/procurement.py."""
    orders = systems.get("srm", "/purchase_orders", contract=contract["number"])
    numbers = [o["number"] for o in orders]
    receipts = systems.get("srm", "/receipts", po=numbers) if numbers else []
    invoices = [i for i in (systems.get("srm", "/invoices", po=numbers) if numbers else []) if i["status"] != "CANCELLED"]
    payments = systems.get("srm", "/payments", invoice=[i["id"] for i in invoices]) if invoices else []
    found, ordered = [], Decimal(0)
    number = contract["number"]
    for order in orders:
        price = {line["line_no"]: Decimal(line["unit_price"] or 0) for line in order["lines"]}
        ordered += sum((Decimal(line["quantity"]) * price[line["line_no"]] for line in order["lines"]), Decimal(0)).quantize(CENT)
        own = [r for r in receipts if r["po_number"] == order["number"]]
        received = sum((Decimal(r["accepted_quantity"]) * price[r["line_no"]] for r in own), Decimal(0)).quantize(CENT)
        billed = [i for i in invoices if i["po_number"] == order["number"]]
        invoiced = sum((Decimal(i["amount"]) for i in billed), Decimal(0))
        if invoiced > received:
            found.append((number, "INVOICED_MORE_THAN_RECEIVED", order["number"], received, invoiced))
        last = max((r["received_at"] for r in own), default=None)
        if received > invoiced and last and (today - date.fromisoformat(last)).days > 30:
            found.append((number, "RECEIVED_NOT_INVOICED", order["number"], received, invoiced))
        for invoice in billed:
            amount = Decimal(invoice["amount"])
            paid = sum((Decimal(p["amount"]) for p in payments if p["invoice_id"] == invoice["id"]), Decimal(0))
            if paid > amount:
                found.append((number, "PAID_MORE_THAN_INVOICED", invoice["number"], amount, paid))
            elif paid < amount and invoice["due_date"] and invoice["due_date"] < today.isoformat():
                found.append((number, "PAID_LESS_THAN_INVOICED", invoice["number"], amount, paid))
        day = order["ordered_at"]
        if day and ((contract["start_date"] and day < contract["start_date"]) or (contract["end_date"] and day > contract["end_date"])):
            found.append((number, "ORDER_OUTSIDE_CONTRACT_PERIOD", order["number"], None, None))
        if order["supplier_code"] != contract["supplier_code"]:
            found.append((number, "OTHER_SUPPLIER", order["number"], None, None))
    if contract["amount"] is not None and ordered > Decimal(contract["amount"]):
        found.append((number, "CONTRACT_EXCEEDED", number, Decimal(contract["amount"]), ordered))
    return found


def decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.fixture(scope="module")
def today(systems) -> date:
    return date.fromisoformat(systems.http.get(f"{systems.urls['erp']}/_meta").json()["anchor"])


@pytest.fixture(scope="module")
def supplier(systems, today):
    """A supplier whose purchase contracts have mismatches with amounts, and those mismatches."""
    for candidate in systems.get("srm", "/suppliers"):
        expected = [m for c in purchase_contracts(systems, candidate) for m in mismatches(c, systems, today)]
        if any(m[3] is not None for m in expected):
            return candidate, expected
    pytest.fail("no supplier's purchase contracts have a mismatch with amounts")


@pytest.fixture(scope="module")
def bi(bi_gateway):
    with httpx.Client(base_url=bi_gateway.url, timeout=120) as client:
        yield client


def test_the_export_lists_every_mismatch_of_a_suppliers_purchase_contracts(bi, supplier):
    found, expected = supplier
    params = {"codes": found["code"]}
    response = bi.get(EXPORT, params=params, headers=bearer("procurement", user="buyer"))
    assert response.status_code == 200, response.text[:500]
    assert "X-Isthmus-Denied-Columns" not in response.headers
    rows = response.json()
    got = [(r["purchaseContracts.number"], r[PREFIX + "kind"], r[PREFIX + "reference"], decimal(r[PREFIX + "expected"]),
            decimal(r[PREFIX + "actual"])) for r in rows]
    assert sorted(got, key=lambda m: m[:3]) == sorted(expected, key=lambda m: m[:3])
    assert all(r["code"] == found["code"] and r[PREFIX + "message"] for r in rows)

    # A bi_reader: the same mismatches, their amounts and message empty and listed as denied.
    seen = bi.get(EXPORT, params=params, headers={"X-API-Key": BI_KEY})
    assert seen.status_code == 200, seen.text[:500]
    assert seen.headers["X-Isthmus-Denied-Columns"].split(",") == [PREFIX + column for column in AMOUNTS]
    assert seen.json() == [{**r, **{PREFIX + column: None for column in AMOUNTS}} for r in rows]


def test_a_suppliers_purchase_contracts_cost_one_clm_call_for_all_suppliers(gateway, systems):
    suppliers = systems.get("srm", "/suppliers")
    systems.reset_stats()
    body = gateway.query("{ suppliers { code purchaseContracts { number kind supplier { code } } } }")
    assert "errors" not in body, body["errors"][:3]
    assert systems.by_route()["clm"] == {"/contracts": 1}
    answered = {s["code"]: s["purchaseContracts"] for s in body["data"]["suppliers"]}
    assert set(answered) == {s["code"] for s in suppliers}
    for supplier in suppliers:
        contracts = answered[supplier["code"]]
        assert [c["number"] for c in contracts] == [c["number"] for c in purchase_contracts(systems, supplier)]
        assert all(c["kind"] == "PURCHASE" and c["supplier"]["code"] == supplier["code"] for c in contracts)
    assert sum(len(c) for c in answered.values()) > len(suppliers)


def test_sellers_see_no_purchase_contract_and_the_clm_is_not_asked(gateway, systems):
    code = systems.get("srm", "/suppliers")[0]["code"]
    query = 'query($code: ID!) { supplier(code: $code) { code purchaseContracts { number } } }'
    for role in ("sales_rep", "sales_manager"):
        systems.reset_stats()
        body = gateway.query(query, {"code": code}, headers=bearer(role, user="R001", team="North"))
        assert body["data"]["supplier"] == {"code": code, "purchaseContracts": None}
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["supplier", "purchaseContracts"], "FORBIDDEN")
        ]
        assert systems.calls()["clm"] == 0


def test_a_purchase_contracts_change_stales_its_suppliers_contracts():
    change = Change(
        "clm",
        "e1",
        "contract.status_changed",
        ChangeData(contract_id="K1", contract_number="CN-1", counterparty_id="CP", supplier_code="S00001"),
    )
    assert change.stale()["CLM"]["contracts_by_supplier"] == ["S00001"]
