"""The supply side in the graph, recomputed from the backends' own REST data: promise dates and delivery
risk on the SRM's and MES's dates (and the alert on the customer), supplier ratings, purchase-contract
reconciliation, slow-moving stock; backend calls that do not grow with the parents; SRM or MES down."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

OPEN = ("CONFIRMED", "PROCESSING")


def chunked(values, size=400):
    values = list(values)
    return [values[i : i + size] for i in range(0, len(values), size)]


@pytest.fixture(scope="module")
def world(systems):
    get = systems.get
    anchor = date.fromisoformat(systems.http.get(f"{systems.urls['erp']}/_meta").json()["anchor"])
    customers = []
    for offset in (0, 1000, 2000):
        customers += get("crm", "/customers/search", limit=1000, offset=offset)
    parties = [c["refs"]["erp"] for c in customers if c["refs"]["erp"]]
    orders = [o for part in chunked(parties) for o in get("erp", "/orders", party=part) if o["status"] in OPEN]
    stock = get("erp", "/stock")
    numbers = {r["document"].rsplit("/", 1)[0] for row in stock for r in row["receipts"]
               if r["kind"] == "PURCHASE" and r["document"]}
    lines = {f"{o['number']}/{line['line_no']}": line
             for part in chunked(numbers) for o in get("srm", "/purchase_orders", numbers=part) for line in o["lines"]}
    ids = {r["document"] for row in stock for r in row["receipts"] if r["kind"] == "PRODUCTION" and r["document"]}
    made = {p["id"]: p for part in chunked(ids) for p in get("mes", "/production_orders", ids=part)}
    mto = defaultdict(list)
    for part in chunked([o["id"] for o in orders]):
        for p in get("mes", "/production_orders", sales_order=part):
            mto[p["sales_order_id"]].append(p)
    return {"anchor": anchor, "customers": customers, "orders": orders, "stock": stock, "lines": lines,
            "made": made, "mto": mto}


def dated(receipt, world, fresh: bool) -> date:
    """A receipt's date on the ERP's plan, or on the SRM's confirmation / the MES's planned end."""
    erp = date.fromisoformat(receipt["expected_date"])
    if not fresh or not receipt["document"] or Decimal(receipt["quantity"]) <= 0:
        return erp
    if receipt["kind"] == "PURCHASE":
        line = world["lines"][receipt["document"]]
        return date.fromisoformat(line["confirmed_date"] or line["promised_date"])
    made = world["made"][receipt["document"]]
    return erp if made["status"] == "DONE" else date.fromisoformat(made["planned_end"])


def promise(rows, world, quantity: Decimal, fresh: bool) -> date | None:
    """First day from which the least projected quantity of that day and every later one covers `quantity`."""
    today = world["anchor"]
    by_day = defaultdict(Decimal)
    for row in rows:
        for r in row["receipts"]:
            by_day[max(dated(r, world, fresh), today)] += Decimal(r["quantity"])
    running = sum(Decimal(row["on_hand"]) - Decimal(row["allocated"]) for row in rows)
    points = []
    for day in sorted(set(by_day) | {today}):
        running += by_day.get(day, Decimal(0))
        points.append([day, running])
    least = None
    for point in reversed(points):
        least = point[1] if least is None else min(least, point[1])
        point[1] = least
    return next((day for day, free in points if free >= quantity), None)


def rows_of(world, sku, warehouse):
    return [row for row in world["stock"] if row["sku"] == sku and (warehouse is None or row["warehouse"] == warehouse)]


def projected(order, world) -> date | None:
    result = world["anchor"]
    for line in order["lines"]:
        if Decimal(line["quantity"]) - Decimal(line["shipped_quantity"]) <= 0:
            continue
        day = promise(rows_of(world, line["sku"], order["warehouse"]), world, Decimal(0), fresh=True)
        for p in world["mto"].get(order["id"], []):
            if p["sku"] == line["sku"] and p["status"] != "DONE" and day is not None:
                day = max(day, date.fromisoformat(p["planned_end"]))
        if day is None:
            return None
        result = max(result, day)
    return result


def delayed_by_supplier(order, world) -> bool:
    """A line covered later on the SRM's dates than on the ERP's, past the promised date."""
    for line in order["lines"]:
        if Decimal(line["quantity"]) - Decimal(line["shipped_quantity"]) <= 0:
            continue
        rows = rows_of(world, line["sku"], order["warehouse"])
        erp, fresh = promise(rows, world, Decimal(0), False), promise(rows, world, Decimal(0), True)
        moved = any(r["kind"] == "PURCHASE" and r["document"] and dated(r, world, True) > dated(r, world, False)
                    for row in rows for r in row["receipts"])
        if erp is not None and moved and (fresh is None or fresh > erp) and (fresh is None or fresh.isoformat() > order["promised_date"]):
            return True
    return False


def test_a_late_supplier_confirmation_moves_the_projected_date_and_alerts_the_customer(gateway, world):
    late = [o for o in world["orders"] if delayed_by_supplier(o, world)]
    assert late, "the demo world has orders a late confirmation endangers"
    sample = late[:15]
    fields = " ".join(
        f'o{i}: order(id: "{o["id"]}") {{ deliveryRisk {{ promisedDate projectedDate daysLate atRisk causes {{ kind reference }} }} }}'
        for i, o in enumerate(sample))
    body = gateway.query(f"{{ {fields} }}")
    assert "errors" not in body, body["errors"][:3]
    for i, order in enumerate(sample):
        risk = body["data"][f"o{i}"]["deliveryRisk"]
        expected = projected(order, world)
        assert risk["projectedDate"] == (expected and expected.isoformat()), order["id"]
        assert risk["atRisk"] and "SUPPLIER_DELAY" in {c["kind"] for c in risk["causes"]}, (order["id"], risk)
        if expected:
            assert risk["daysLate"] == max(0, (expected - date.fromisoformat(order["promised_date"])).days)
    order = sample[0]
    customer = next(c for c in world["customers"] if c["refs"]["erp"] == order["party_code"])
    body = gateway.query('query($id: ID!) { customer(id: $id) { plain: alerts { kind } alerts(supply: true) { kind refId source } } }',
                         {"id": customer["id"]})
    assert "errors" not in body, body["errors"][:3]
    alerts = body["data"]["customer"]["alerts"]
    assert {"kind": "SUPPLIER_DELAY", "refId": order["id"], "source": "SRM"} in alerts
    assert "SUPPLIER_DELAY" not in {a["kind"] for a in body["data"]["customer"]["plain"]}


def test_atp_takes_the_suppliers_confirmation_and_says_so(gateway, world):
    cases = []
    for row in world["stock"]:
        quantity = Decimal(row["on_hand"]) - Decimal(row["allocated"]) + sum(
            Decimal(r["quantity"]) for r in row["receipts"] if r["kind"] == "PURCHASE")
        rows = [row]
        fresh, erp = promise(rows, world, quantity, True), promise(rows, world, quantity, False)
        if fresh and erp and fresh > erp and quantity > 0:
            cases.append((row["sku"], row["warehouse"], quantity, fresh))
    assert cases
    for sku, warehouse, quantity, fresh in cases[:5]:
        body = gateway.query(
            "query($s: ID!, $q: Decimal!, $w: ID) { atp(sku: $s, quantity: $q, warehouse: $w) "
            "{ promiseDate promiseDateSource receipts { dateSource erpDate expectedDate } } }",
            {"s": sku, "q": str(quantity), "w": warehouse})
        assert "errors" not in body, body["errors"][:3]
        atp = body["data"]["atp"]
        assert atp["promiseDate"] == fresh.isoformat(), (sku, warehouse)
        assert atp["promiseDateSource"] == "SRM"
        assert any(r["dateSource"] == "SRM" and r["expectedDate"] > r["erpDate"] for r in atp["receipts"])


def test_supplier_ratings_from_their_own_receipts(gateway, systems):
    suppliers = systems.get("srm", "/suppliers")
    codes = [s["code"] for s in suppliers]
    orders = systems.get("srm", "/purchase_orders", supplier=codes)
    receipts = systems.get("srm", "/receipts", supplier=codes)
    promised = {(o["number"], line["line_no"]): line["promised_date"] for o in orders for line in o["lines"]}
    systems.reset_stats()
    body = gateway.query("{ suppliers { code rating { receipts onTimeRate acceptanceRate } } }")
    assert "errors" not in body, body["errors"][:3]
    assert systems.by_route()["srm"] == {"/suppliers": 1, "/purchase_orders": 1, "/receipts": 1}
    for supplier in body["data"]["suppliers"]:
        own = [r for r in receipts if r["supplier_code"] == supplier["code"]]
        on_time = sum(r["received_at"] <= promised[(r["po_number"], r["line_no"])] for r in own)
        received = sum(Decimal(r["quantity"]) for r in own)
        accepted = sum(Decimal(r["accepted_quantity"]) for r in own)
        rating = supplier["rating"]
        assert rating["receipts"] == len(own)
        assert Decimal(rating["onTimeRate"]) == (Decimal(on_time) / len(own)).quantize(Decimal("0.0001"))
        assert Decimal(rating["acceptanceRate"]) == (accepted / received).quantize(Decimal("0.0001"))


def expected_mismatches(contract, systems, today):
    orders = systems.get("srm", "/purchase_orders", contract=contract["number"])
    numbers = [o["number"] for o in orders]
    receipts = systems.get("srm", "/receipts", po=numbers)
    invoices = systems.get("srm", "/invoices", po=numbers)
    payments = systems.get("srm", "/payments", invoice=[i["id"] for i in invoices]) if invoices else []
    found = set()
    ordered = Decimal(0)
    for order in orders:
        price = {line["line_no"]: Decimal(line["unit_price"]) for line in order["lines"]}
        ordered += sum(Decimal(line["quantity"]) * Decimal(line["unit_price"]) for line in order["lines"])
        own = [r for r in receipts if r["po_number"] == order["number"]]
        received = sum((Decimal(r["accepted_quantity"]) * price[r["line_no"]] for r in own), Decimal(0)).quantize(
            Decimal("0.01"))
        billed = [i for i in invoices if i["po_number"] == order["number"]]
        invoiced = sum(Decimal(i["amount"]) for i in billed)
        if invoiced > received:
            found.add(("INVOICED_MORE_THAN_RECEIVED", order["number"]))
        last = max((r["received_at"] for r in own), default=None)
        if received > invoiced and last and (today - date.fromisoformat(last)).days > 30:
            found.add(("RECEIVED_NOT_INVOICED", order["number"]))
        for invoice in billed:
            paid = sum(Decimal(p["amount"]) for p in payments if p["invoice_id"] == invoice["id"])
            if paid > Decimal(invoice["amount"]):
                found.add(("PAID_MORE_THAN_INVOICED", invoice["number"]))
            elif paid < Decimal(invoice["amount"]) and invoice["due_date"] < today.isoformat():
                found.add(("PAID_LESS_THAN_INVOICED", invoice["number"]))
        if not contract["start_date"] <= order["ordered_at"] <= contract["end_date"]:
            found.add(("ORDER_OUTSIDE_CONTRACT_PERIOD", order["number"]))
    if ordered > Decimal(contract["amount"]):
        found.add(("CONTRACT_EXCEEDED", contract["number"]))
    return found


def test_purchase_contracts_resolve_and_reconcile_listing_every_mismatch(gateway, systems, world):
    suppliers = systems.get("srm", "/suppliers")
    contracts = [c for c in systems.get("clm", "/contracts", counterparty=[s["clm_ref"] for s in suppliers])
                 if c["purchase_orders"]][:12]
    assert contracts
    fields = " ".join(
        f'c{i}: contract(id: "{c["id"]}") {{ supplier {{ code }} purchaseOrders {{ number }} '
        f'purchaseReconciliation {{ balanced mismatches {{ kind reference }} }} }}' for i, c in enumerate(contracts))
    body = gateway.query(f"{{ {fields} }}")
    assert "errors" not in body, body["errors"][:3]
    kinds = set()
    for i, contract in enumerate(contracts):
        answer = body["data"][f"c{i}"]
        assert answer["supplier"]["code"] == contract["supplier_code"]
        assert sorted(o["number"] for o in answer["purchaseOrders"]) == sorted(contract["purchase_orders"])
        got = {(m["kind"], m["reference"]) for m in answer["purchaseReconciliation"]["mismatches"]}
        assert got == expected_mismatches(contract, systems, world["anchor"]), contract["number"]
        assert answer["purchaseReconciliation"]["balanced"] == (not got)
        kinds |= {kind for kind, _ in got}
    assert kinds, "some of these contracts do not reconcile"


def test_slow_moving_stock_value(gateway, systems, world):
    last = systems.get("erp", "/stock_moves/last_issue")
    cost = {p["sku"]: Decimal(p["standard_cost"]) for p in systems.get("erp", "/products")}
    on_hand = {(r["sku"], r["warehouse"]): Decimal(r["on_hand"]) for r in world["stock"]}
    cutoff = (world["anchor"] - timedelta(days=180)).isoformat()
    expected = {(p["sku"], p["warehouse"]): (on_hand[(p["sku"], p["warehouse"])] * cost[p["sku"]]).quantize(Decimal("0.01"))
                for p in last if on_hand[(p["sku"], p["warehouse"])] > 0
                and (p["last_issue_date"] is None or p["last_issue_date"] < cutoff)}
    body = gateway.query("{ slowMovingStock(days: 180) { sku warehouse value } }")
    assert "errors" not in body, body["errors"][:3]
    got = {(m["sku"], m["warehouse"]): Decimal(m["value"]) for m in body["data"]["slowMovingStock"]}
    assert got == expected and got
    values = [Decimal(m["value"]) for m in body["data"]["slowMovingStock"]]
    assert values == sorted(values, reverse=True)


SUPPLY_PAGE = """query($first: Int) { customers(first: $first) { edges { node { id
  orders(first: 10) { id production { id progress } qualityRecords { id } deliveryRisk { projectedDate causes { kind } }
    alerts { kind } lines { product { suppliers { unitPrice } openPurchaseOrders { number } } } }
  contracts { purchaseOrders { number } } } } } }"""


def test_backend_calls_do_not_grow_with_the_parents_on_the_new_paths(gateway, systems):
    counts = []
    for first in (20, 45):
        systems.reset_stats()
        body = gateway.query(SUPPLY_PAGE, {"first": first})
        assert "errors" not in body, body["errors"][:3]
        counts.append(systems.by_route())
    assert counts[0] == counts[1]
    # one call per source method: /purchase_orders serves three (by SKU, by contract, by number), MES two
    assert counts[1]["srm"] == {"/supplier_items": 1, "/purchase_orders": 3}, counts[1]
    assert counts[1]["mes"] == {"/production_orders": 2, "/quality_records": 1}, counts[1]  # by sales order, by id


@pytest.mark.parametrize("system", ["SRM", "MES"])
def test_with_the_srm_or_mes_down_everything_else_answers(gateway, systems, world, system):
    order = world["orders"][0]
    query = """query($id: ID!) { order(id: $id) { number status production { id } qualityRecords { id }
        deliveryRisk { projectedDate } customer { name } }
      product(sku: "SKU-0001") { name suppliers { preferred } availability { onHand promiseDate } } }"""
    with systems.faults(system.lower(), down=True):
        body = gateway.query(query, {"id": order["id"]})
    data = body["data"]
    assert data["order"]["number"] == order["number"] and data["order"]["customer"]["name"]
    assert data["product"]["name"] and data["product"]["availability"]["onHand"] is not None
    codes = {(e["extensions"]["code"], e["extensions"].get("source")) for e in body["errors"]}
    assert codes == {("SOURCE_UNAVAILABLE", system)}
    if system == "SRM":
        assert data["product"]["suppliers"] is None and data["order"]["production"] == []
        assert data["order"]["deliveryRisk"] is not None  # on the ERP's dates, the failure reported beside it
    else:
        assert data["order"]["production"] is None and data["order"]["qualityRecords"] is None
        assert data["product"]["suppliers"]


def test_a_batched_field_takes_its_camel_case_argument_on_both_executors(in_process_gateway, in_process_reference_gateway):
    """`Supplier.purchaseOrders(openOnly:)` is a batch resolver: the plan executor called it with the GraphQL
    name (`openOnly`), a TypeError for every supplier; both executors now answer alike."""
    query = "{ suppliers { code all: purchaseOrders { status } open: purchaseOrders(openOnly: true) { status } } }"
    planned, reference = in_process_gateway.query(query), in_process_reference_gateway.query(query)
    assert "errors" not in planned, planned["errors"][:2]
    assert planned == reference
    suppliers = planned["data"]["suppliers"]
    assert all({o["status"] for o in s["open"]} <= {"OPEN", "PARTIALLY_RECEIVED"} for s in suppliers)
    assert sum(len(s["open"]) for s in suppliers) < sum(len(s["all"]) for s in suppliers)
