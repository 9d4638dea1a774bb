"""Kitting analysis: buildable quantity and shortages equal a person's count from the ERP's BOMs and stock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from expected import TODAY, d, day, kitting

KITTING = """query($sku: ID!, $q: Decimal!, $w: ID, $date: Date) { buildable(sku: $sku, quantity: $q, warehouse: $w, date: $date) {
  sku quantity warehouse date buildableQuantity complete product { sku name }
  shortages { component { sku } quantityPerKit required available missing }
  components { component { sku } quantityPerKit required available missing buildableQuantity }
} }"""

WAREHOUSES = (None, "WH-EU", "WH-US", "WH-SG", "WH-BR")


def analyse(gateway, sku, quantity, warehouse=None, on=None):
    return gateway.query(KITTING, {"sku": sku, "q": str(quantity), "w": warehouse, "date": on.isoformat() if on else None})


def assert_analysis(got, expected, catalogue, sku):
    assert d(got["buildableQuantity"]) == expected["buildable"]
    assert got["complete"] is expected["complete"]
    direct = {line["component_sku"] for line in catalogue.boms[sku]}
    assert {c["component"]["sku"] for c in got["components"]} == direct  # one level: no grandchildren
    for entry in got["components"]:
        want = expected["components"][entry["component"]["sku"]]
        assert d(entry["required"]) == want["required"]
        assert d(entry["available"]) == want["available"]
        assert d(entry["missing"]) == want["missing"]
        assert d(entry["buildableQuantity"]) == want["kits"]
    assert {s["component"]["sku"]: d(s["missing"]) for s in got["shortages"]} == {
        component: want["missing"] for component, want in expected["shortages"].items()
    }


def kits(catalogue):
    return [sku for sku in sorted(catalogue.boms) if catalogue.boms[sku]]


def test_buildable_quantity_and_shortages_for_many_kits_and_warehouses(gateway, catalogue, stock):
    checked = {"complete": 0, "short": 0, "backorder": 0, "fractional": 0}
    for n, sku in enumerate(kits(catalogue)[::6]):
        warehouse = WAREHOUSES[n % len(WAREHOUSES)]
        can = kitting(catalogue, stock, sku, 1, warehouse)["buildable"]
        for quantity in {1, int(can) or 1, int(can) + 1, int(can) * 3 + 7}:
            expected = kitting(catalogue, stock, sku, quantity, warehouse)
            body = analyse(gateway, sku, quantity, warehouse)
            assert "errors" not in body, body["errors"]
            got = body["data"]["buildable"]
            assert_analysis(got, expected, catalogue, sku)
            assert got["product"]["name"] == catalogue.products[sku]["name"]
            checked["complete" if expected["complete"] else "short"] += 1
            checked["backorder"] += any(c["available"] < 0 for c in expected["components"].values())
            checked["fractional"] += any(c["required"] != c["required"].to_integral_value() for c in expected["components"].values())
    assert all(checked.values()), checked


def test_exactly_buildable_is_complete_and_one_more_is_short(gateway, catalogue, stock):
    sku = next(s for s in kits(catalogue) if kitting(catalogue, stock, s, 1)["buildable"] >= 2)
    can = int(kitting(catalogue, stock, sku, 1)["buildable"])
    exact = analyse(gateway, sku, can)["data"]["buildable"]
    assert exact["complete"] is True and exact["shortages"] == []
    assert d(exact["buildableQuantity"]) == can
    more = analyse(gateway, sku, can + 1)["data"]["buildable"]
    assert more["complete"] is False and more["shortages"]
    limiting = [s for s in more["shortages"]]
    assert all(d(s["missing"]) == d(s["required"]) - d(s["available"]) for s in limiting)
    assert all(Decimal(0) < d(s["missing"]) <= d(s["quantityPerKit"]) for s in limiting if d(s["available"]) >= 0)


def test_a_component_short_for_open_orders_needs_their_backlog_too(gateway, catalogue, stock):
    """available < 0: open orders already need more than there is; missing covers them and the kits."""
    for sku in kits(catalogue):
        for warehouse in WAREHOUSES[1:]:
            expected = kitting(catalogue, stock, sku, 1, warehouse)
            negative = [c for c, v in expected["components"].items() if v["available"] < 0]
            if negative:
                got = analyse(gateway, sku, 1, warehouse)["data"]["buildable"]
                assert_analysis(got, expected, catalogue, sku)
                assert d(got["buildableQuantity"]) == 0 and got["complete"] is False
                shortage = next(s for s in got["shortages"] if s["component"]["sku"] == negative[0])
                assert d(shortage["missing"]) == d(shortage["required"]) - d(shortage["available"]) > d(shortage["required"])
                return
    pytest.fail("no kit has a component with negative availability")


def test_receipts_by_the_date_count(gateway, catalogue, stock):
    """A later date counts the components' receipts expected by then."""
    for sku in kits(catalogue):
        for warehouse in WAREHOUSES:
            rows = [r for c in catalogue.boms[sku] for r in stock[c["component_sku"]] if warehouse in (None, r["warehouse"])]
            dates = sorted({day(x["expected_date"]) for r in rows for x in r["receipts"] if day(x["expected_date"]) > TODAY})
            if not dates:
                continue
            later = dates[-1]
            now, then = (kitting(catalogue, stock, sku, 1, warehouse, on) for on in (None, later))
            if then["buildable"] > now["buildable"]:
                for on, expected in ((None, now), (later, then)):
                    got = analyse(gateway, sku, 1, warehouse, on)["data"]["buildable"]
                    assert_analysis(got, expected, catalogue, sku)
                    assert got["date"] == (on or TODAY).isoformat()
                return
    pytest.fail("no kit becomes more buildable with later receipts")


def test_a_three_level_kit_counts_its_direct_components_only(gateway, catalogue, stock):
    sku = catalogue.of_depth(3)[0]
    got = analyse(gateway, sku, 2)["data"]["buildable"]
    assert_analysis(got, kitting(catalogue, stock, sku, 2), catalogue, sku)
    assert any(catalogue.depth(c["component"]["sku"]) == 2 for c in got["components"])  # a sub-assembly, with its own stock


def test_one_call_per_source_method_per_level(systems, gateway, catalogue):
    sku = max(kits(catalogue), key=lambda s: len(catalogue.boms[s]))
    systems.reset_stats()
    body = analyse(gateway, sku, 3, "WH-EU")
    assert "errors" not in body
    assert systems.by_route()["erp"] == {"/products": 2, "/boms": 1, "/stock": 1, "/warehouses": 1}


def test_a_sku_without_a_bom_is_not_built_from_components(gateway, catalogue):
    bought = catalogue.of_depth(0)[0]
    body = analyse(gateway, bought, 1)
    assert body["data"] == {"buildable": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"{bought} ({catalogue.products[bought]['name']}) is not built from components" in error["message"]


@pytest.mark.parametrize(
    "sku, quantity, code, mentions",
    [
        ("SKU-DOES-NOT-EXIST", "1", "NOT_FOUND", "SKU-DOES-NOT-EXIST"),
        (None, "0", "BAD_USER_INPUT", "positive"),
        (None, "-2", "BAD_USER_INPUT", "positive"),
        (None, "1.5", "BAD_USER_INPUT", "whole number of kits"),
    ],
)
def test_bad_asks(gateway, catalogue, sku, quantity, code, mentions):
    body = analyse(gateway, sku or kits(catalogue)[0], quantity)
    assert body["data"] == {"buildable": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == code and mentions in error["message"]


def test_an_unknown_warehouse(gateway, catalogue):
    body = analyse(gateway, kits(catalogue)[0], 1, "WH-NOWHERE")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "WH-NOWHERE" in body["errors"][0]["message"]


def test_a_date_is_honoured(gateway, catalogue):
    on = TODAY + dt.timedelta(days=10)
    got = analyse(gateway, kits(catalogue)[0], 1, None, on)["data"]["buildable"]
    assert got["date"] == on.isoformat()
