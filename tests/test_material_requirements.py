"""`materialRequirements` recomputed from the ERP's and SRM's own REST data: multi-level netting of a 3-level
BOM against on hand, allocated and in-transit stock, for items, a quote and sales orders (whose own allocation
is not counted twice); backend calls that do not grow with the items; row-level rules on the orders given."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from conftest import bearer

FIELDS = """warehouse date requirements { sku level action grossRequirement onHand allocated inTransit available
  netRequirement needBy suggestedPurchaseQuantity leadTimeDays orderBy late preferredSupplier { supplier { code } } }
  purchases { sku suggestedPurchaseQuantity }"""
OPEN_PO = ("OPEN", "PARTIALLY_RECEIVED")


@pytest.fixture(scope="module")
def erp(systems):
    products = systems.get("erp", "/products")
    made = [p["sku"] for p in products if p["kind"] == "MANUFACTURED"]
    boms = {p["sku"]: [] for p in products}
    for line in systems.get("erp", "/boms", skus=made):
        boms[line["parent_sku"]].append(line)
    anchor = date.fromisoformat(systems.http.get(f"{systems.urls['erp']}/_meta").json()["anchor"])
    return {"boms": boms, "anchor": anchor}


def depth(sku, boms) -> int:
    return 1 + max((depth(line["component_sku"], boms) for line in boms[sku]), default=0) if boms[sku] else 0


def tree(skus, boms) -> set[str]:
    found = set()
    for sku in skus:
        found |= {sku} | tree([line["component_sku"] for line in boms[sku]], boms)
    return found


def levels_of(demanded, boms) -> dict[str, int]:
    """The deepest level each item sits at below the demanded items, by walking every path."""
    levels: dict[str, int] = {}

    def walk(sku, level):
        levels[sku] = max(levels.get(sku, -1), level)
        for line in boms[sku]:
            walk(line["component_sku"], level + 1)

    for sku in demanded:
        walk(sku, 0)
    return levels


def expected(systems, erp, demand, warehouse=None, own=None):
    """The netting from the REST data: `demand` sku -> [(date, quantity)], `own` sku -> allocation to add back."""
    boms, today, own = erp["boms"], erp["anchor"], own or {}
    levels = levels_of(list(demand), boms)
    skus = sorted(levels)
    stock = [r for r in systems.get("erp", "/stock", skus=skus) if warehouse in (None, r["warehouse"])]
    orders = systems.get("srm", "/purchase_orders", sku=skus, open_only="true")
    offers = defaultdict(list)
    for item in systems.get("srm", "/supplier_items", skus=skus):
        offers[item["sku"]].append(item)
    gross = defaultdict(list, {sku: list(wanted) for sku, wanted in demand.items()})
    rows = {}
    for sku in sorted(skus, key=lambda s: (levels[s], s)):
        on_hand = sum(Decimal(r["on_hand"]) for r in stock if r["sku"] == sku)
        allocated = sum(Decimal(r["allocated"]) for r in stock if r["sku"] == sku) - own.get(sku, 0)
        transit = sum((Decimal(line["quantity"]) - Decimal(line["received_quantity"]) for o in orders
                      if o["status"] in OPEN_PO for line in o["lines"]
                      if line["sku"] == sku and warehouse in (None, line["warehouse"])), Decimal(0))
        left = max(on_hand - allocated + transit, Decimal(0))
        short = []
        for day, quantity in sorted(gross[sku]):
            taken = min(left, quantity)
            left -= taken
            if quantity > taken:
                short.append((day, quantity - taken))
        for line in boms[sku]:
            gross[line["component_sku"]] += [(day, q * Decimal(line["quantity"])) for day, q in short]
        net = sum((q for _, q in short), Decimal(0))
        buy = not boms[sku]
        offer = next((o for o in offers[sku] if o["preferred"]), None) if buy else None
        need_by = short[0][0] if short else None
        order_by = need_by - timedelta(days=offer["lead_time_days"]) if buy and need_by and offer and net else None
        rows[sku] = {
            "level": levels[sku], "action": "BUY" if buy else "MAKE",
            "grossRequirement": sum((q for _, q in gross[sku]), Decimal(0)), "onHand": on_hand,
            "allocated": allocated, "inTransit": transit, "available": on_hand - allocated + transit,
            "netRequirement": net, "needBy": need_by and need_by.isoformat(),
            "suggestedPurchaseQuantity": net if buy else Decimal(0),
            "leadTimeDays": offer and offer["lead_time_days"], "orderBy": order_by and order_by.isoformat(),
            "late": bool(order_by and order_by < today),
            "preferredSupplier": offer and {"supplier": {"code": offer["supplier_code"]}},
        }
    return rows


NUMERIC = ("grossRequirement", "onHand", "allocated", "inTransit", "available", "netRequirement",
           "suggestedPurchaseQuantity")


def answered(requirements):
    rows = {}
    for row in requirements:
        row = dict(row)
        for key in NUMERIC:
            row[key] = Decimal(row[key])
        rows[row.pop("sku")] = row
    return rows


def compare(got, want):
    assert set(got) == set(want)
    for sku in want:
        for key, value in want[sku].items():
            if key in NUMERIC:
                assert got[sku][key] == value.quantize(Decimal("0.01"), ROUND_HALF_UP), (sku, key, got[sku][key], value)
            else:
                assert got[sku][key] == value, (sku, key, got[sku][key], value)


def three_level_with_transit(systems, erp):
    """Level-3 products, those whose tree has stock in transit first."""
    boms = erp["boms"]
    tops = sorted(sku for sku in list(boms) if depth(sku, boms) == 3)
    transit = {line["sku"] for o in systems.get("srm", "/purchase_orders", sku=sorted(tree(tops, boms)), open_only="true")
               for line in o["lines"] if Decimal(line["quantity"]) > Decimal(line["received_quantity"])}
    return sorted(tops, key=lambda sku: (not (tree([sku], boms) & transit), sku)), transit


def test_three_level_bom_netted_against_stock_in_transit(gateway, systems, erp):
    tops, transit = three_level_with_transit(systems, erp)
    sku = tops[0]
    assert depth(sku, erp["boms"]) == 3 and tree([sku], erp["boms"]) & transit
    stock = systems.get("erp", "/stock", skus=[sku])
    free = max(sum(Decimal(r["on_hand"]) - Decimal(r["allocated"]) for r in stock), Decimal(0))
    need_by = erp["anchor"] + timedelta(days=20)
    for extra in (40, 200, 1000, 5000):  # more than the kit's own stock, until in transit is not enough somewhere
        quantity = free + extra
        body = gateway.query(
            f"query($i: [MaterialDemandInput!]) {{ materialRequirements(items: $i) {{ {FIELDS} }} }}",
            {"i": [{"sku": sku, "quantity": str(quantity), "needBy": need_by.isoformat()}]})
        assert "errors" not in body, body["errors"][:3]
        answer = body["data"]["materialRequirements"]
        got = answered(answer["requirements"])
        compare(got, expected(systems, erp, {sku: [(need_by, quantity)]}))
        transit_used = [s for s, row in got.items() if row["inTransit"] > 0
                        and row["grossRequirement"] > max(row["onHand"] - row["allocated"], 0)]
        if transit_used and any(row["suggestedPurchaseQuantity"] > 0 for row in got.values()):
            break
    else:
        pytest.fail(f"{sku}: no quantity needs the stock in transit and a purchase")
    assert {row["level"] for row in got.values()} == {0, 1, 2, 3}
    assert [p["sku"] for p in answer["purchases"]] == [s for s, row in got.items() if row["suggestedPurchaseQuantity"] > 0]
    assert [(r["level"], r["sku"]) for r in answer["requirements"]] == sorted((r["level"], r["sku"]) for r in answer["requirements"])


def test_a_quote_is_netted_like_items_and_calls_do_not_grow_with_them(gateway, systems, erp):
    tops, _ = three_level_with_transit(systems, erp)
    customer = systems.get("crm", "/customers/search", limit=1)[0]["id"]
    counts = []
    for skus in (tops[:2], tops[:6]):
        lines = [{"sku": s, "quantity": "25", "unitPrice": "1000", "requestedDate": (erp["anchor"] + timedelta(days=30)).isoformat()}
                 for s in skus]
        systems.reset_stats()
        body = gateway.query(
            f"query($q: QuoteInput) {{ materialRequirements(quote: $q) {{ {FIELDS} }} }}",
            {"q": {"customerId": customer, "lines": lines, "warehouse": "WH-EU"}})
        counts.append(systems.by_route())
        assert "errors" not in body, body["errors"][:3]
        answer = body["data"]["materialRequirements"]
        assert answer["warehouse"] == "WH-EU"
        want = expected(systems, erp, {s: [(erp["anchor"] + timedelta(days=30), Decimal(25))] for s in skus}, "WH-EU")
        compare(answered(answer["requirements"]), want)
    assert counts[0] == counts[1]
    assert counts[1]["srm"] == {"/purchase_orders": 1, "/supplier_items": 1, "/suppliers": 1}  # preferredSupplier
    assert counts[1]["erp"]["/stock"] == 1 and counts[1]["erp"]["/boms"] == 4  # a level of BOMs per call


def open_orders_with_kits(systems, erp):
    customers = systems.get("crm", "/customers/search", limit=300)
    parties = [c["refs"]["erp"] for c in customers if c["refs"]["erp"]]
    orders = [o for o in systems.get("erp", "/orders", party=parties) if o["status"] in ("CONFIRMED", "PROCESSING")
              and any(erp["boms"][line["sku"]] and Decimal(line["quantity"]) > Decimal(line["shipped_quantity"])
                      for line in o["lines"])]
    return customers, orders


def test_sales_orders_count_their_own_allocation_once(gateway, systems, erp):
    _, orders = open_orders_with_kits(systems, erp)
    assert orders
    chosen = orders[:3]
    demand, own = defaultdict(list), defaultdict(Decimal)
    for order in chosen:
        for line in order["lines"]:
            left = Decimal(line["quantity"]) - Decimal(line["shipped_quantity"])
            if left > 0:
                demand[line["sku"]].append((date.fromisoformat(order["promised_date"]), left))
                own[line["sku"]] += left
    body = gateway.query(f"query($o: [ID!]) {{ materialRequirements(orders: $o) {{ {FIELDS} }} }}",
                         {"o": [o["id"] for o in chosen]})
    assert "errors" not in body, body["errors"][:3]
    got = answered(body["data"]["materialRequirements"]["requirements"])
    compare(got, expected(systems, erp, dict(demand), own=own))
    stock = systems.get("erp", "/stock", skus=list(own))
    for sku, mine in own.items():  # the ERP's allocation includes these orders; the netting leaves them out
        assert got[sku]["allocated"] == sum(Decimal(r["allocated"]) for r in stock if r["sku"] == sku) - mine


def test_a_sales_rep_cannot_net_another_reps_orders(gateway, systems, erp):
    customers, orders = open_orders_with_kits(systems, erp)
    owner = {c["refs"]["erp"]: c["owner_id"] for c in customers}
    order = orders[0]
    rep = owner[order["party_code"]]
    other = next(c["owner_id"] for c in customers if c["owner_id"] != rep)
    query = "query($o: [ID!]) { materialRequirements(orders: $o) { requirements { sku } } }"
    own = gateway.query(query, {"o": [order["id"]]}, headers=bearer("sales_rep", user=rep))
    assert "errors" not in own and own["data"]["materialRequirements"]["requirements"]
    refused = gateway.query(query, {"o": [order["id"]]}, headers=bearer("sales_rep", user=other))
    unknown = gateway.query(query, {"o": ["O999999"]}, headers=bearer("sales_rep", user=other))
    assert refused["data"]["materialRequirements"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == [e["extensions"]["code"] for e in unknown["errors"]]


def test_bad_demand_is_refused(gateway):
    for variables, word in (({}, "demand"), ({"i": [{"sku": "SKU-0001", "quantity": "0"}]}, "positive"),
                            ({"i": [{"sku": "NOPE", "quantity": "1"}]}, "NOPE")):
        body = gateway.query("query($i: [MaterialDemandInput!]) { materialRequirements(items: $i) { date } }", variables)
        assert body["data"]["materialRequirements"] is None and word in body["errors"][0]["message"], body


def test_with_the_srm_down_no_netting_is_guessed(gateway, systems):
    query = '{ materialRequirements(items: [{sku: "SKU-0001", quantity: "5"}]) { requirements { sku } } product(sku: "SKU-0001") { name } }'
    with systems.faults("srm", down=True):
        body = gateway.query(query)
    assert body["data"]["materialRequirements"] is None and body["data"]["product"]["name"]
    assert [(e["extensions"]["code"], e["extensions"].get("source"), e["path"]) for e in body["errors"]] == [
        ("SOURCE_UNAVAILABLE", "SRM", ["materialRequirements"])]
