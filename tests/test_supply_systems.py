"""The SRM and MES demo systems over real HTTP: their data tied to the ERP's and the CLM's, the
situations the supply side must surface, and the ERP's movement history. Read back through the
public APIs only, as the gateway reads them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest


def items(client: httpx.Client, path: str, **params) -> list[dict]:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()["items"]


@pytest.fixture(scope="module")
def api(systems):
    clients = {s: httpx.Client(base_url=url, timeout=60) for s, url in systems.urls.items()}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def supply(api) -> dict:
    srm, mes, erp = api["srm"], api["mes"], api["erp"]
    suppliers = items(srm, "/suppliers")
    codes = ",".join(s["code"] for s in suppliers)
    stock = items(erp, "/stock")
    return {
        "anchor": date.fromisoformat(erp.get("/_meta").json()["anchor"]),
        "suppliers": suppliers,
        "orders": items(srm, "/purchase_orders", supplier=codes),
        "receipts": items(srm, "/receipts", supplier=codes),
        "invoices": items(srm, "/invoices", supplier=codes),
        "budgets": items(srm, "/budgets"),
        "stock": stock,
        "production": items(mes, "/production_orders", skus=",".join(sorted({row["sku"] for row in stock}))),
    }


def test_every_open_erp_purchase_receipt_is_the_open_part_of_an_srm_order_line(supply):
    lines = {f"{o['number']}/{line['line_no']}": (o, line) for o in supply["orders"] for line in o["lines"]}
    open_receipts = [(row, r) for row in supply["stock"] for r in row["receipts"]
                     if r["kind"] == "PURCHASE" and Decimal(r["quantity"]) > 0]
    assert len(open_receipts) > 100
    named = set()
    for row, receipt in open_receipts:
        order, line = lines[receipt["document"]]
        assert order["status"] in ("OPEN", "PARTIALLY_RECEIVED")
        assert (line["sku"], line["warehouse"]) == (row["sku"], row["warehouse"])
        assert Decimal(line["quantity"]) - Decimal(line["received_quantity"]) == Decimal(receipt["quantity"])
        assert line["promised_date"] == receipt["expected_date"]  # the ERP keeps the date the line was placed for
        named.add(receipt["document"])
    open_lines = {key for key, (o, _) in lines.items() if o["status"] in ("OPEN", "PARTIALLY_RECEIVED")}
    assert open_lines == named  # and every open line is an incoming receipt of the ERP


def test_a_realistic_share_of_open_lines_is_confirmed_late(supply):
    open_lines = [line for o in supply["orders"] if o["status"] != "RECEIVED" for line in o["lines"]]
    late = [line for line in open_lines if line["confirmed_date"] and line["confirmed_date"] > line["promised_date"]]
    assert 0.15 < len(late) / len(open_lines) < 0.35


def test_every_open_erp_production_receipt_is_an_open_mes_order(api, supply):
    orders = {p["id"]: p for p in supply["production"]}
    receipts = [(row, r) for row in supply["stock"] for r in row["receipts"]
                if r["kind"] == "PRODUCTION" and Decimal(r["quantity"]) > 0]
    assert receipts
    for row, receipt in receipts:
        order = orders[receipt["document"]]
        assert order["status"] != "DONE"
        assert (order["sku"], order["warehouse"], order["quantity"]) == (row["sku"], row["warehouse"], receipt["quantity"])
        assert order["due_date"] == receipt["expected_date"]
    open_orders = [p for p in supply["production"] if p["status"] != "DONE"]
    assert len(open_orders) == len(receipts)
    late = [p for p in open_orders if p["planned_end"] > p["due_date"]]
    assert 0.1 < len(late) / len(open_orders) < 0.3
    made_to_order = [p for p in open_orders if p["sales_order_id"]]
    sales = {o["id"]: o for o in items(api["erp"], "/orders", ids=",".join({p["sales_order_id"] for p in made_to_order}))}
    for p in made_to_order:  # for an open order of that product, from that warehouse
        order = sales[p["sales_order_id"]]
        assert order["status"] in ("CONFIRMED", "PROCESSING") and order["warehouse"] == p["warehouse"]
        assert p["sku"] in {line["sku"] for line in order["lines"]}
    for p in supply["production"]:
        progress = [Decimal(op["progress"]) for op in p["operations"]]
        assert p["operations"] and all(0 <= x <= 1 for x in progress)
        assert (p["status"] == "DONE") == all(op["status"] == "DONE" for op in p["operations"])


def test_suppliers_are_erp_parties_and_clm_counterparties_whose_contracts_name_their_orders(api, supply):
    codes = [s["code"] for s in supply["suppliers"]]
    assert len(codes) == 16
    assert [p["code"] for p in items(api["erp"], "/parties", codes=",".join(codes))] == codes
    contracts = items(api["clm"], "/contracts", counterparty=",".join(s["clm_ref"] for s in supply["suppliers"]))
    supplier_of = {s["clm_ref"]: s["code"] for s in supply["suppliers"]}
    by_contract = defaultdict(list)
    for order in supply["orders"]:
        if order["contract_number"]:
            by_contract[order["contract_number"]].append(order)
    assert by_contract
    for contract in contracts:
        assert contract["kind"] == "PURCHASE" and contract["supplier_code"] == supplier_of[contract["counterparty_id"]]
        orders = by_contract.get(contract["number"], [])
        assert sorted(contract["purchase_orders"]) == sorted(o["number"] for o in orders)
        assert all(o["supplier_code"] == contract["supplier_code"] for o in orders)


def test_inspections_reject_some_deliveries_and_invoices_follow_receipts(supply):
    receipts = supply["receipts"]
    for r in receipts:
        assert Decimal(r["accepted_quantity"]) + Decimal(r["rejected_quantity"]) == Decimal(r["quantity"])
        assert bool(r["defect_codes"]) == (Decimal(r["rejected_quantity"]) > 0)
    rejected = [r for r in receipts if Decimal(r["rejected_quantity"]) > 0]
    assert 0.02 < len(rejected) / len(receipts) < 0.25
    received = {r["po_number"] for r in receipts}
    assert {i["po_number"] for i in supply["invoices"]} <= received


def test_some_budgets_are_overrun(supply):
    over = [b for b in supply["budgets"] if Decimal(b["committed"]) + Decimal(b["spent"]) > Decimal(b["amount"])]
    assert 0 < len(over) < len(supply["budgets"])
    assert {b["year"] for b in supply["budgets"]} == {supply["anchor"].year}


def test_quality_records_follow_lots_to_the_orders_that_shipped_them(api, supply):
    erp, mes = api["erp"], api["mes"]
    made = [p["sales_order_id"] for p in supply["production"] if p["status"] == "DONE" and p["sales_order_id"]]
    lots = items(mes, "/lots", sales_order=",".join(made[:300]))
    assert lots
    shipments = items(erp, "/shipments", order=",".join({lot["sales_order_id"] for lot in lots}))
    order_of = {s["id"]: s["order_id"] for s in shipments}
    for lot in lots:
        assert lot["sales_order_id"] == order_of[lot["shipment_id"]]
        assert lot["sku"] in {line["sku"] for s in shipments if s["id"] == lot["shipment_id"] for line in s["lines"]}
    records = items(mes, "/quality_records", lot=",".join(lot["id"] for lot in lots))
    assert {r["lot_id"] for r in records} == {lot["id"] for lot in lots}  # every shipped lot had its final inspection
    assert all(r["kind"] == "FINAL" for r in records)
    by_order = items(mes, "/quality_records", sales_order=",".join({lot["sales_order_id"] for lot in lots}))
    assert {r["id"] for r in records} <= {r["id"] for r in by_order}


def test_some_stock_has_not_moved_for_six_to_eighteen_months(api, supply):
    anchor = supply["anchor"]
    last = items(api["erp"], "/stock_moves/last_issue")
    assert len(last) == len(supply["stock"])
    quiet = [row for row in last if row["last_issue_date"] and
             anchor - timedelta(days=540) <= date.fromisoformat(row["last_issue_date"]) <= anchor - timedelta(days=180)]
    assert len(quiet) >= 20
    sku, warehouse = quiet[0]["sku"], quiet[0]["warehouse"]
    moves = items(api["erp"], "/stock_moves", skus=sku)
    issues = [m["date"] for m in moves if m["warehouse"] == warehouse and m["kind"] == "ISSUE"]
    assert max(issues) == quiet[0]["last_issue_date"]


@pytest.mark.parametrize("system", ["srm", "mes"])
def test_control_endpoints_and_openapi(api, system):
    client = api[system]
    client.post("/_stats/reset").raise_for_status()
    path = "/suppliers" if system == "srm" else "/production_orders"
    params = {} if system == "srm" else {"ids": "MO00001"}
    assert client.get(path, params=params).status_code == 200
    assert client.get("/_stats").json()["calls"] == 1
    try:
        client.put("/_faults", json={"down": True}).raise_for_status()
        assert client.get(path, params=params).status_code == 503
    finally:
        client.put("/_faults", json={"down": False}).raise_for_status()
    assert path in client.get("/openapi.json").json()["paths"]
