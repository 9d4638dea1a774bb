"""Who may see what on the supply side, by example: procurement reads supplier prices, budgets and ratings;
sellers read delivery risk and projected dates but no supplier price; quality records go to the service desk
and to sellers for their own customers' orders; every new path that reaches a customer keeps the row-level
rules (ProductionOrder.salesOrder; SalesOrder.production, qualityRecords, deliveryRisk; supply alerts)."""

from __future__ import annotations

import json

import pytest

from conftest import bearer

OPEN = ("CONFIRMED", "PROCESSING")


@pytest.fixture(scope="module")
def supply(systems):
    """Customers with their owners, an open order of one of them whose lines' products are bought (suppliers,
    open purchase orders), an order with quality records, and a make-to-order production order."""
    customers = systems.get("crm", "/customers/search", limit=1000)
    by_party = {c["refs"]["erp"]: c for c in customers if c["refs"]["erp"]}
    orders = systems.get("erp", "/orders", party=list(by_party))
    items = {i["sku"] for i in systems.get("srm", "/supplier_items", skus=sorted({l["sku"] for o in orders for l in o["lines"]}))}
    open_order = next(o for o in orders if o["status"] in OPEN and items & {l["sku"] for l in o["lines"]})
    records = systems.get("mes", "/quality_records", sales_order=[o["id"] for o in orders])
    checked = next(o for o in orders if o["id"] in {r["sales_order_id"] for r in records})
    made = systems.get("mes", "/production_orders", sales_order=[o["id"] for o in orders])
    mto = made[0]
    order_of = {o["id"]: o for o in orders}
    reps = systems.get("crm", "/reps")

    def owner(order):
        return by_party[order["party_code"]]

    def other_rep(order):
        return next(r for r in reps if r["id"] != owner(order)["owner_id"] and r["team"] != team(owner(order)))

    def team(customer):
        return next(r["team"] for r in reps if r["id"] == customer["owner_id"])

    return {"open": open_order, "checked": checked, "mto": mto, "mto_order": order_of[mto["sales_order_id"]],
            "owner": owner, "other_rep": other_rep, "team": team, "records": records}


def rep(order_or_rep, supply=None):
    """A sales rep's headers: the owner of an order's customer, or a rep record."""
    if supply is not None:
        customer = supply["owner"](order_or_rep)
        return bearer("sales_rep", user=customer["owner_id"])
    return bearer("sales_rep", user=order_or_rep["id"], team=order_or_rep["team"])


def forbidden(body):
    return {(tuple(e["path"]), e["extensions"]["code"]) for e in body.get("errors", [])}


PRICES = """query($id: ID!) { order(id: $id) { number deliveryRisk { promisedDate projectedDate atRisk }
  lines { sku product { suppliers { leadTimeDays unitPrice } openPurchaseOrders { number total lines { sku unitPrice amount } } } } } }"""


def test_sellers_see_delivery_risk_but_no_supplier_price_procurement_sees_both(gateway, supply):
    order = supply["open"]
    admin = gateway.query(PRICES, {"id": order["id"]})
    prices = {v for line in admin["data"]["order"]["lines"] for s in line["product"]["suppliers"] or [] for v in [s["unitPrice"]]}
    prices |= {po["total"] for line in admin["data"]["order"]["lines"] for po in line["product"]["openPurchaseOrders"] or []}
    assert prices - {None}
    manager = bearer("sales_manager", user="M-1", team=supply["team"](supply["owner"](order)))
    for who, headers in (("sales_rep", rep(order, supply)), ("sales_manager", manager)):
        body = gateway.query(PRICES, {"id": order["id"]}, headers=headers)
        data = body["data"]["order"]
        assert data["deliveryRisk"]["promisedDate"] == order["promised_date"] and data["deliveryRisk"]["atRisk"] is not None
        assert "projectedDate" in data["deliveryRisk"]
        for line in data["lines"]:
            for s in line["product"]["suppliers"] or []:
                assert s["unitPrice"] is None and s["leadTimeDays"] is not None
            for po in line["product"]["openPurchaseOrders"] or []:
                assert po["total"] is None and po["number"]
                assert all(l["unitPrice"] is None and l["amount"] is None for l in po["lines"])
        codes = {code for path, code in forbidden(body)}
        assert codes == {"FORBIDDEN"}
        text = json.dumps(body)
        assert not [p for p in prices if p and len(p) >= 5 and f'"{p}"' in text], who
    body = gateway.query(PRICES, {"id": order["id"]}, headers=bearer("procurement", user="buyer"))
    assert "errors" not in body, body["errors"][:3]
    assert body["data"] == admin["data"]


def test_procurement_reads_budgets_ratings_and_alerts_sellers_and_the_desk_do_not(gateway, systems):
    code = systems.get("srm", "/suppliers")[0]["code"]
    query = f'{{ budgets {{ category overrun }} procurementAlerts {{ kind }} supplier(code: "{code}") {{ name rating {{ onTimeRate }} }} }}'
    buyer = gateway.query(query, headers=bearer("procurement", user="buyer"))
    assert "errors" not in buyer, buyer["errors"][:3]
    assert buyer["data"]["budgets"] and buyer["data"]["supplier"]["rating"]["onTimeRate"] is not None
    assert {a["kind"] for a in buyer["data"]["procurementAlerts"]} == {"BUDGET_OVERRUN"}
    for role in ("sales_rep", "sales_manager", "service_agent"):
        body = gateway.post(query, headers=bearer(role, "field-probe", user=f"t-{role}")).json()
        assert body["data"]["budgets"] is None and body["data"]["procurementAlerts"] is None
        assert body["data"]["supplier"] == {"name": buyer["data"]["supplier"]["name"], "rating": None}  # only what is denied
        assert forbidden(body) == {(("budgets",), "FORBIDDEN"), (("procurementAlerts",), "FORBIDDEN"),
                                   (("supplier", "rating"), "FORBIDDEN")}


QUALITY = 'query($id: ID!) { order(id: $id) { number qualityRecords { id result } } }'


def test_quality_records_go_to_the_desk_and_to_sellers_for_their_own_customers_only(gateway, supply):
    order = supply["checked"]
    ids = sorted(r["id"] for r in supply["records"] if r["sales_order_id"] == order["id"])
    desk = gateway.query(QUALITY, {"id": order["id"]}, headers=bearer("service_agent", user="agent"))
    assert sorted(r["id"] for r in desk["data"]["order"]["qualityRecords"]) == ids
    own = gateway.query(QUALITY, {"id": order["id"]}, headers=rep(order, supply))
    assert sorted(r["id"] for r in own["data"]["order"]["qualityRecords"]) == ids
    other = supply["other_rep"](order)
    refused = gateway.query(QUALITY, {"id": order["id"]}, headers=rep(other))
    unknown = gateway.query(QUALITY, {"id": "O9999999"}, headers=rep(other))
    assert refused["data"] == unknown["data"] == {"order": None}
    assert [e["extensions"]["code"] for e in refused["errors"]] == [e["extensions"]["code"] for e in unknown["errors"]]
    assert not any(i in json.dumps(refused) for i in ids) and order["number"] not in json.dumps(refused)
    finance = gateway.query(QUALITY, {"id": order["id"]}, headers=bearer("finance", user="fin"))
    assert finance["data"]["order"] == {"number": order["number"], "qualityRecords": None}
    assert forbidden(finance) == {(("order", "qualityRecords"), "FORBIDDEN")}


def test_a_production_orders_sales_order_keeps_the_row_level_rules(gateway, supply):
    made, order = supply["mto"], supply["mto_order"]
    query = """query($id: ID!) { productionOrder(id: $id) { id sku progress
      salesOrder { number customer { id name } } } }"""
    own = gateway.query(query, {"id": made["id"]}, headers=rep(order, supply))
    assert "errors" not in own, own["errors"]
    assert own["data"]["productionOrder"]["salesOrder"]["number"] == order["number"]
    customer = own["data"]["productionOrder"]["salesOrder"]["customer"]
    body = gateway.query(query, {"id": made["id"]}, headers=rep(supply["other_rep"](order)))
    assert body["data"]["productionOrder"]["id"] == made["id"]  # the shop floor is nobody's customer
    assert body["data"]["productionOrder"]["salesOrder"] is None
    assert forbidden(body) == {(("productionOrder", "salesOrder"), "FORBIDDEN")}
    text = json.dumps(body)
    assert order["number"] not in text and customer["name"] not in text and customer["id"] not in text


def test_supply_fields_of_a_customer_outside_the_scope_show_nothing(gateway, supply):
    order = supply["open"]
    customer = supply["owner"](order)
    query = """query($c: ID!) { customer(id: $c) { name alerts(supply: true) { kind refId }
      orders(first: 5) { number production { id } qualityRecords { id } deliveryRisk { projectedDate } } } }"""
    own = gateway.query(query, {"c": customer["id"]}, headers=rep(order, supply))
    assert own["data"]["customer"]["name"] == customer["name"]
    refused = gateway.query(query, {"c": customer["id"]}, headers=rep(supply["other_rep"](order)))
    assert refused["data"] == {"customer": None} and forbidden(refused) == {(("customer",), "FORBIDDEN")}
    numbers = [o["number"] for o in own["data"]["customer"]["orders"]]
    assert not any(n in json.dumps(refused) for n in numbers)


def test_slow_moving_stock_values_are_standard_costs_so_they_go_where_the_cost_goes(gateway):
    """value = onHand x standard cost, unitCost the standard cost itself: a role that may not read
    Product.standardCost reads neither (the derivation rule), and still sees what lies idle."""
    query = "{ slowMovingStock(days: 365) { sku onHand unitCost value } }"
    buyer = gateway.query(query, headers=bearer("procurement", user="buyer"))
    assert "errors" not in buyer and buyer["data"]["slowMovingStock"][0]["value"] is not None
    for role in ("sales_rep", "service_agent"):
        body = gateway.query(query, headers=bearer(role, user=f"t-{role}"))
        rows = body["data"]["slowMovingStock"]
        assert [r["sku"] for r in rows] == [r["sku"] for r in buyer["data"]["slowMovingStock"]]
        assert all(r["unitCost"] is None and r["value"] is None and r["onHand"] for r in rows)
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
        text = json.dumps(body)
        assert not any(r["value"] in text for r in buyer["data"]["slowMovingStock"][:20] if len(r["value"]) >= 7)
