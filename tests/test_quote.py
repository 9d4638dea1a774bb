"""The quote screen: figures a person computes from the systems' REST data, approval rules from
the policy file (reloaded without restart), input rules, and a call pattern that does not grow
with the number of lines.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tomllib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from conftest import LIVE, QUERIES, in_process_with
from expected import TODAY, ZERO, assert_availability, atp, cents, credit, d, day, line_tax, risk

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "policies" / "approvals.toml"
QUOTE_SCREEN = (QUERIES / "quote.graphql").read_text()
FIGURES = """query($input: QuoteInput!) { quote(input: $input) {
  currency invalidLines total totalNet totalTax totalGross cost margin marginPct earliestCompleteDate
  customer { id name }
  credit { currency creditLimit creditUsed creditAvailable creditUsedWithQuote exceededBy ok basis quoteAmount }
  approval { required level reasons }
  lines { sku amount netAmount taxAmount grossAmount unitCost marginPct product { sku }
          availability { available canPromise promiseDate } }
} }"""


# --- the data the tests choose from --------------------------------------------------------------


@pytest.fixture(scope="module")
def crm_customers(systems):
    return systems.get("crm", "/customers/search", limit=200)


@pytest.fixture(scope="module")
def rules():
    return tomllib.loads(RULES_FILE.read_text())


def free(stock, sku, warehouse=None) -> Decimal:
    return sum((d(r["on_hand"]) - d(r["allocated"]) for r in stock[sku] if warehouse in (None, r["warehouse"])), ZERO)


def plentiful(catalogue, stock, depth=0, count=1, min_cost=Decimal(10), warehouse=None):
    """SKUs of a BOM depth with plenty of free stock (in the warehouse, else all together) and a cost that is not tiny."""
    found = [
        sku for sku in catalogue.of_depth(depth)
        if free(stock, sku, warehouse) >= 50 and catalogue.unit_cost(sku) >= min_cost
    ]
    assert len(found) >= count, (depth, len(found))
    return found[:count]


def stock_out_with_receipt(stock, catalogue):
    """A SKU and warehouse with nothing free today but a receipt that covers one later, in a
    warehouse where some three-level product is in stock: (sku, warehouse, that day, the product)."""
    for sku in sorted(stock):
        for row in stock[sku]:
            warehouse = row["warehouse"]
            expected = atp(stock[sku], Decimal(1), warehouse)
            deep = [s for s in catalogue.of_depth(3) if free(stock, s, warehouse) >= 2]
            if expected["promiseDate"] and day(expected["promiseDate"]) > TODAY and deep:
                return sku, warehouse, day(expected["promiseDate"]), deep[0]
    pytest.fail("no SKU is out of stock with a later receipt")


def never_covered(stock):
    """A SKU and a quantity no stock or receipt covers."""
    sku = sorted(stock)[0]
    everything = sum((d(r["on_hand"]) - d(r["allocated"]) + sum((d(x["quantity"]) for x in r["receipts"]), ZERO) for r in stock[sku]), ZERO)
    return sku, everything + 1


class CustomerFinder:
    def __init__(self, systems, customers, rules):
        self.systems = systems
        self.customers = customers
        self.rules = rules
        self._facts = {}

    def facts(self, customer):
        if customer["id"] not in self._facts:
            figures = credit(self.systems, customer["refs"]["erp"]) if customer["refs"]["erp"] else None
            self._facts[customer["id"]] = (figures, risk(self.systems, customer))
        return self._facts[customer["id"]]

    def find(self, accept):
        for customer in self.customers:
            figures, level = self.facts(customer)
            if accept(customer, figures, level):
                return customer
        pytest.fail("no customer in the demo data fits")

    def quiet(self, headroom=Decimal(5000)):
        """No rule but margin applies: a credit limit with room, a risk that needs nobody."""
        return self.find(
            lambda c, f, r: f is not None and f["limit"] is not None and f["limit"] - f["used"] > headroom
            and r not in self.rules.get("risk", {})
        )


@pytest.fixture(scope="module")
def finder(systems, crm_customers, rules):
    return CustomerFinder(systems, crm_customers, rules)


# --- expected figures ----------------------------------------------------------------------------


def line(sku, quantity, price, requested=None):
    entry = {"sku": sku, "quantity": str(quantity), "unitPrice": str(price)}
    if requested is not None:
        entry["requestedDate"] = requested.isoformat()
    return entry


def expected_quote(catalogue, stock, finder, customer, lines, warehouse=None):
    evaluated = []
    for entry in lines:
        sku = entry["sku"]
        if sku not in catalogue.products:
            evaluated.append(None)
            continue
        quantity, price = d(entry["quantity"]), d(entry["unitPrice"])
        amount = cents(quantity * price)
        unit_cost = catalogue.unit_cost(sku)
        cost = cents(unit_cost * quantity)
        on = day(entry["requestedDate"]) if entry.get("requestedDate") else None
        evaluated.append({
            "amount": amount,
            "tax": line_tax(catalogue.products[sku], amount),
            "unitCost": unit_cost,
            "cost": cost,
            "margin": amount - cost,
            "marginPct": float((amount - cost) * 100 / amount),
            "availability": atp(stock[sku], quantity, warehouse, on),
        })
    valid = [e for e in evaluated if e is not None]
    total = sum((e["amount"] for e in valid), ZERO)
    tax = sum((e["tax"] for e in valid), ZERO)
    gross = total + tax  # the credit check's basis: gross, like the receivables and the limit
    cost = sum((e["cost"] for e in valid), ZERO)
    dates = [e["availability"]["promiseDate"] for e in valid]
    figures, customer_risk = finder.facts(customer)
    if figures is None:
        check = {"creditLimit": None, "creditUsed": ZERO, "creditAvailable": None, "exceededBy": None, "ok": False}
    else:
        exceeded = max(ZERO, figures["used"] + gross - figures["limit"])
        check = {
            "creditLimit": figures["limit"],
            "creditUsed": figures["used"],
            "creditAvailable": figures["limit"] - figures["used"],
            "exceededBy": exceeded,
            "ok": exceeded == 0,
        }
    check["creditUsedWithQuote"] = check["creditUsed"] + gross
    check["quoteAmount"] = gross
    return {
        "lines": evaluated,
        "invalidLines": [n for n, e in enumerate(evaluated) if e is None],
        "total": total,
        "totalTax": tax,
        "totalGross": gross,
        "cost": cost,
        "margin": total - cost,
        "marginPct": float((total - cost) * 100 / total),
        "earliestCompleteDate": None if None in dates else max(dates),
        "credit": check,
        "risk": customer_risk,
    }


def expected_level(rules, margin_pct: Decimal, credit_check: dict, customer_risk: str) -> tuple[str | None, int]:
    """(the level, how many rules apply) under `rules`, for a quote whose figures are all known."""
    order = [level["id"] for level in rules["levels"]]
    applying = []
    margin_rule = next((r for r in sorted(rules["margin"], key=lambda r: r["below_pct"]) if margin_pct < Decimal(str(r["below_pct"]))), None)
    if margin_rule:
        applying.append(margin_rule["level"])
    if credit_check["creditLimit"] is None:
        applying.append(rules["credit"]["no_limit"])
    elif credit_check["exceededBy"] > 0:
        applying.append(rules["credit"]["exceeded"])
    if customer_risk in rules.get("risk", {}):
        applying.append(rules["risk"][customer_risk])
    return (max(applying, key=order.index) if applying else None), len(applying)


def quote(gateway, customer_id, lines, warehouse=None, query=FIGURES, currency=None, **kwargs):
    variables = {"input": {"customerId": customer_id, "lines": lines, "warehouse": warehouse, "currency": currency}}
    return gateway.query(query, variables, **kwargs)


def assert_figures(got, expected, rules):
    assert got["invalidLines"] == expected["invalidLines"]
    assert d(got["total"]) == d(got["totalNet"]) == expected["total"]
    assert d(got["totalTax"]) == expected["totalTax"]
    assert d(got["totalGross"]) == expected["totalGross"] == d(got["totalNet"]) + d(got["totalTax"])
    assert got["credit"]["basis"] == "GROSS"
    assert d(got["cost"]) == expected["cost"]
    assert d(got["margin"]) == expected["margin"]
    assert got["marginPct"] == pytest.approx(expected["marginPct"], abs=0.006)
    assert got["earliestCompleteDate"] == expected["earliestCompleteDate"]
    for key, value in expected["credit"].items():
        assert (got["credit"][key] if isinstance(value, bool) else d(got["credit"][key])) == value, key
    for got_line, want in zip(got["lines"], expected["lines"]):
        if want is None:
            assert got_line["product"] is None and got_line["unitCost"] is None and got_line["availability"] is None
            continue
        assert d(got_line["amount"]) == d(got_line["netAmount"]) == want["amount"]
        assert d(got_line["taxAmount"]) == want["tax"]
        assert d(got_line["grossAmount"]) == d(got_line["netAmount"]) + d(got_line["taxAmount"])
        assert d(got_line["unitCost"]) == want["unitCost"], got_line["sku"]
        assert got_line["marginPct"] == pytest.approx(want["marginPct"], abs=0.006)
        for key in ("available", "canPromise", "promiseDate"):
            value = want["availability"][key]
            assert (d(got_line["availability"][key]) if key == "available" else got_line["availability"][key]) == value, key
    margin_pct = expected["margin"] * 100 / expected["total"]
    level, count = expected_level(rules, margin_pct, expected["credit"], expected["risk"])
    assert got["approval"]["level"] == level, got["approval"]
    assert got["approval"]["required"] is (level is not None)
    assert len(got["approval"]["reasons"]) == count, got["approval"]


# --- figures ----------------------------------------------------------------------------------


def test_the_quote_screen_query_prices_a_quote_live(systems, gateway, catalogue, stock, finder):
    """The front-end's own query, every figure checked against the REST data."""
    customer = finder.quiet(headroom=Decimal(50000))  # room for the quote's gross, tax included
    short, warehouse, covered_on, deep = stock_out_with_receipt(stock, catalogue)
    bought = plentiful(catalogue, stock, warehouse=warehouse)[0]
    lines = [
        line(deep, 2, cents(catalogue.unit_cost(deep) * Decimal("1.4"))),
        line(bought, 10, cents(catalogue.unit_cost(bought) * Decimal("1.6")), requested=TODAY + dt.timedelta(days=30)),
        line(short, 1, cents(catalogue.unit_cost(short) * 2)),
    ]
    body = quote(gateway, customer["id"], lines, warehouse=warehouse, query=QUOTE_SCREEN)
    assert "errors" not in body, body["errors"][:3]
    got = body["data"]["quote"]
    expected = expected_quote(catalogue, stock, finder, customer, lines, warehouse)
    assert got["customer"]["id"] == customer["id"] and got["customer"]["name"] == customer["name"]
    assert got["customer"]["tier"] == customer["tier"] and got["customer"]["risk"] == expected["risk"]
    assert d(got["total"]) == expected["total"]
    assert d(got["cost"]) == expected["cost"]
    assert d(got["margin"]) == expected["margin"]
    assert got["marginPct"] == pytest.approx(expected["marginPct"], abs=0.006)
    # the stock-out line is the last to be complete: the quote is complete on its receipt's day
    assert got["earliestCompleteDate"] == expected["earliestCompleteDate"] == covered_on.isoformat()
    for key in ("creditLimit", "creditUsed", "creditAvailable", "exceededBy"):
        assert d(got["credit"][key]) == expected["credit"][key], key
    assert got["credit"]["ok"] is True
    assert got["approval"] == {"required": False, "level": None, "reasons": []}
    for got_line, entry, want in zip(got["lines"], lines, expected["lines"]):
        assert got_line["sku"] == entry["sku"]
        assert d(got_line["quantity"]) == d(entry["quantity"]) and d(got_line["unitPrice"]) == d(entry["unitPrice"])
        assert d(got_line["amount"]) == want["amount"]
        assert d(got_line["unitCost"]) == want["unitCost"]
        assert got_line["marginPct"] == pytest.approx(want["marginPct"], abs=0.006)
        assert got_line["product"]["name"] == catalogue.products[entry["sku"]]["name"]
        assert_availability(got_line["availability"], want["availability"])


@pytest.mark.parametrize("warehouse", [None, "WH-EU", "WH-US"])
def test_figures_for_several_customers_and_warehouses(gateway, catalogue, stock, finder, rules, warehouse):
    over = finder.find(lambda c, f, r: f is not None and f["used"] > f["limit"])
    no_account = finder.find(lambda c, f, r: f is None)
    high = finder.find(lambda c, f, r: r == "HIGH")
    skus = catalogue.of_depth(3)[1:3] + catalogue.of_depth(2)[:2] + catalogue.of_depth(1)[:2] + plentiful(catalogue, stock, count=3)
    lines = [line(sku, n % 4 + 1, cents(catalogue.unit_cost(sku) * Decimal(1 + n % 5 / 10))) for n, sku in enumerate(skus)]
    for customer in (finder.quiet(), over, no_account, high):
        body = quote(gateway, customer["id"], lines, warehouse=warehouse)
        assert "errors" not in body, body["errors"][:3]
        assert_figures(body["data"]["quote"], expected_quote(catalogue, stock, finder, customer, lines, warehouse), rules)


def test_a_line_nothing_covers_leaves_the_quote_without_a_complete_date(gateway, catalogue, stock, finder):
    sku, quantity = never_covered(stock)
    bought = plentiful(catalogue, stock)[0]
    lines = [line(bought, 1, 100), line(sku, quantity, 100)]
    got = quote(gateway, finder.quiet(headroom=quantity * 100 + 1000)["id"], lines)["data"]["quote"]
    assert got["lines"][0]["availability"]["promiseDate"] == TODAY.isoformat()
    assert got["lines"][1]["availability"]["promiseDate"] is None
    assert got["lines"][1]["availability"]["canPromise"] is False
    assert got["earliestCompleteDate"] is None


def test_the_quote_returns_the_crm_customer(gateway, systems, finder):
    customer = finder.quiet()
    body = quote(gateway, customer["id"], [line("SKU-0001", 1, 1)],
                 query="query($input: QuoteInput!) { quote(input: $input) { customer { id name taxId region refs { erp clm desk } } } }")
    crm = systems.get("crm", "/customers", ids=customer["id"])[0]
    got = body["data"]["quote"]["customer"]
    assert got["id"] == crm["id"] and got["name"] == crm["name"] and got["taxId"] == crm["tax_id"]
    assert got["refs"] == {"erp": crm["refs"]["erp"], "clm": crm["refs"]["clm"], "desk": crm["refs"]["desk"]}


# --- approvals -------------------------------------------------------------------------------


def priced_for_margin(catalogue, sku, margin_pct: Decimal) -> Decimal:
    """A unit price giving about `margin_pct` % margin on this SKU."""
    return cents(catalogue.unit_cost(sku) / (1 - margin_pct / 100))


def shown(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def margin_of(got) -> Decimal:
    return d(got["margin"]) * 100 / d(got["total"])


def test_a_low_margin_needs_the_sales_manager(gateway, catalogue, stock, finder):
    sku = plentiful(catalogue, stock)[0]
    body = quote(gateway, finder.quiet()["id"], [line(sku, 10, priced_for_margin(catalogue, sku, Decimal(10)))])
    got = body["data"]["quote"]
    assert got["approval"] == {
        "required": True,
        "level": "SALES_MANAGER",
        "reasons": [f"Margin {shown(margin_of(got))} % is below 15 %: sales manager approval"],
    }


def test_a_very_low_margin_needs_the_executive_and_says_only_the_strictest_threshold(gateway, catalogue, stock, finder):
    sku = plentiful(catalogue, stock)[0]
    body = quote(gateway, finder.quiet()["id"], [line(sku, 10, priced_for_margin(catalogue, sku, Decimal(2)))])
    got = body["data"]["quote"]
    assert got["approval"] == {
        "required": True,
        "level": "EXECUTIVE",
        "reasons": [f"Margin {shown(margin_of(got))} % is below 5 %: executive approval"],
    }


def test_a_sale_below_cost_needs_the_executive(gateway, catalogue, stock, finder):
    sku = plentiful(catalogue, stock)[0]
    got = quote(gateway, finder.quiet()["id"], [line(sku, 10, cents(catalogue.unit_cost(sku) * Decimal("0.8")))])["data"]["quote"]
    assert got["marginPct"] < 0
    assert got["approval"]["level"] == "EXECUTIVE"
    assert got["approval"]["reasons"][0].startswith(f"Margin -{shown(-margin_of(got))} % is below 5 %")


def test_a_healthy_quote_needs_no_approval(gateway, catalogue, stock, finder):
    sku = plentiful(catalogue, stock)[0]
    got = quote(gateway, finder.quiet()["id"], [line(sku, 10, priced_for_margin(catalogue, sku, Decimal(30)))])["data"]["quote"]
    assert got["approval"] == {"required": False, "level": None, "reasons": []}
    assert got["credit"]["ok"] is True


def test_exceeding_the_credit_limit_needs_finance(gateway, catalogue, stock, finder):
    customer = finder.quiet()
    figures, _ = finder.facts(customer)
    sku = plentiful(catalogue, stock)[0]
    price = priced_for_margin(catalogue, sku, Decimal(40))
    quantity = int((figures["limit"] - figures["used"]) / price) + 10  # just over the room left
    got = quote(gateway, customer["id"], [line(sku, quantity, price)])["data"]["quote"]
    total = d(got["totalGross"])  # on the credit basis: gross, like the limit and the receivables
    assert total == d(got["total"]) + line_tax(catalogue.products[sku], d(got["total"]))
    exceeded = figures["used"] + total - figures["limit"]
    assert exceeded > 0
    assert d(got["credit"]["exceededBy"]) == exceeded and got["credit"]["ok"] is False
    assert got["approval"] == {
        "required": True,
        "level": "FINANCE",
        "reasons": [
            f"Credit limit {figures['limit']} EUR exceeded by {cents(exceeded)} EUR "
            f"(credit used {cents(figures['used'])} + this quote {total}, gross): finance approval"
        ],
    }


def test_a_customer_already_over_the_limit_needs_finance_for_any_quote(gateway, catalogue, finder):
    customer = finder.find(lambda c, f, r: f is not None and f["used"] > f["limit"] and r != "HIGH")
    figures, _ = finder.facts(customer)
    got = quote(gateway, customer["id"], [line("SKU-0001", 1, 100)])["data"]["quote"]
    gross = 100 + line_tax(catalogue.products["SKU-0001"], Decimal(100))
    assert got["credit"]["ok"] is False
    assert d(got["credit"]["creditAvailable"]) < 0
    assert d(got["credit"]["exceededBy"]) == figures["used"] + gross - figures["limit"]
    assert got["approval"]["level"] == "FINANCE"
    assert any(reason.startswith(f"Credit limit {figures['limit']} EUR exceeded by") for reason in got["approval"]["reasons"])


def test_a_high_risk_customer_needs_finance(gateway, finder):
    customer = finder.find(lambda c, f, r: r == "HIGH")
    got = quote(gateway, customer["id"], [line("SKU-0001", 1, 100)])["data"]["quote"]
    assert "Customer risk is HIGH: finance approval" in got["approval"]["reasons"]
    assert got["approval"]["level"] in ("FINANCE", "EXECUTIVE")


def test_a_customer_without_an_erp_account_needs_finance(gateway, catalogue, finder):
    customer = finder.find(lambda c, f, r: f is None and r not in ("HIGH",))
    got = quote(gateway, customer["id"], [line("SKU-0001", 1, 100)])["data"]["quote"]
    gross = cents(100 + line_tax(catalogue.products["SKU-0001"], Decimal(100)))
    assert got["credit"] == {
        "currency": "EUR", "creditLimit": None, "creditUsed": "0.00", "creditAvailable": None,
        "creditUsedWithQuote": str(gross), "exceededBy": None, "ok": False, "basis": "GROSS", "quoteAmount": str(gross),
    }
    assert got["approval"]["reasons"] == [f"Customer {customer['id']} has no account in the ERP: finance approval"]


def test_every_reason_is_listed_and_the_level_is_the_highest(gateway, catalogue, stock, finder):
    customer = finder.find(lambda c, f, r: f is not None and f["used"] > f["limit"])
    _, customer_risk = finder.facts(customer)
    sku = plentiful(catalogue, stock)[0]
    got = quote(gateway, customer["id"], [line(sku, 10, priced_for_margin(catalogue, sku, Decimal(10)))])["data"]["quote"]
    reasons = got["approval"]["reasons"]
    assert reasons[0].startswith("Margin ") and reasons[0].endswith("is below 15 %: sales manager approval")
    assert reasons[1].startswith("Credit limit ") and reasons[1].endswith(": finance approval")
    assert reasons[2:] == (["Customer risk is HIGH: finance approval"] if customer_risk == "HIGH" else [])
    assert got["approval"]["level"] == "FINANCE"  # finance outranks the sales manager


def write_rules(path: Path, text: str) -> None:
    """Write the rules and make sure the modification time moves, however coarse the clock."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_editing_the_rules_file_changes_the_outcome_without_a_restart(catalogue, stock, finder, tmp_path):
    rules_file = tmp_path / "approvals.toml"
    shutil.copy(RULES_FILE, rules_file)
    sku = plentiful(catalogue, stock)[0]
    lines = [line(sku, 10, priced_for_margin(catalogue, sku, Decimal(10)))]
    customer = finder.quiet()
    original = RULES_FILE.read_text()
    # A gateway of its own on these rules (`approval_rules`), in this process: what is tested is its reloading.
    with in_process_with(approval_rules=str(rules_file), **LIVE) as own:
        def approval():
            body = own.query(
                "query($input: QuoteInput!) { quote(input: $input) { approval { required level reasons } } }",
                {"input": {"customerId": customer["id"], "lines": lines}},
            )
            assert "errors" not in body, body["errors"]
            return body["data"]["quote"]["approval"]

        assert approval()["level"] == "SALES_MANAGER"

        write_rules(rules_file, original.replace("below_pct = 15", "below_pct = 8"))
        assert approval() == {"required": False, "level": None, "reasons": []}

        write_rules(rules_file, original.replace("below_pct = 15\nlevel = \"SALES_MANAGER\"", "below_pct = 12\nlevel = \"FINANCE\""))
        third = approval()
        assert third["level"] == "FINANCE"
        assert third["reasons"][0].endswith("is below 12 %: finance approval")

        # An edit that breaks the file keeps the last valid rules in force (and is logged).
        write_rules(rules_file, original + "\n[margin\n")
        assert approval() == third
        write_rules(rules_file, original.replace('HIGH = "FINANCE"', 'HIGH = "CFO"'))
        assert approval() == third

        write_rules(rules_file, original)
        assert approval()["level"] == "SALES_MANAGER"


# --- input rules ---------------------------------------------------------------------------------


def assert_bad_input(body, code="BAD_USER_INPUT", mentions=None):
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["path"] == ["quote"]
    if mentions:
        assert mentions.lower() in error["message"].lower(), error["message"]
    return error


@pytest.mark.parametrize(
    "field, value, mentions",
    [
        ("quantity", "0", "lines[1].quantity must be a positive number, got 0"),
        ("quantity", "-3", "lines[1].quantity must be a positive number, got -3"),
        ("unitPrice", "0", "lines[1].unitPrice must be a positive number, got 0"),
        ("unitPrice", "-0.01", "lines[1].unitPrice must be a positive number"),
        ("quantity", "1e10", "lines[1].quantity must be at most"),
        # NaN, Infinity and 1e30 never reach the quote: the Decimal scalar refuses them (test_http_exposure.py)
    ],
)
def test_quantities_and_prices_must_be_positive(gateway, field, value, mentions):
    lines = [line("SKU-0001", 1, 1), {**line("SKU-0002", 1, 1), field: value}]
    assert_bad_input(quote(gateway, "C00001", lines), mentions=mentions)


def test_every_broken_line_is_named(gateway):
    lines = [line("SKU-0001", 0, 1), line("SKU-0002", 1, 1), line("SKU-0003", 1, -1)]
    error = assert_bad_input(quote(gateway, "C00001", lines))
    assert "lines[0].quantity" in error["message"] and "lines[2].unitPrice" in error["message"]
    assert "lines[1]" not in error["message"]


def test_at_most_200_lines(gateway, catalogue, finder):
    skus = sorted(catalogue.products)
    customer = finder.quiet()
    body = quote(gateway, customer["id"], [line(skus[n % len(skus)], 1, 1000) for n in range(200)], query=QUOTE_SCREEN)
    assert "errors" not in body, body["errors"][:3]
    assert len(body["data"]["quote"]["lines"]) == 200
    assert_bad_input(quote(gateway, customer["id"], [line("SKU-0001", 1, 1)] * 201), mentions="at most 200 lines, got 201")
    assert_bad_input(quote(gateway, customer["id"], []), mentions="at least one line")


def test_a_requested_date_in_the_past_is_refused(gateway):
    lines = [line("SKU-0001", 1, 1, requested=TODAY - dt.timedelta(days=1))]
    assert_bad_input(quote(gateway, "C00001", lines), mentions="lines[0].requestedDate")


def test_another_currency_is_refused_because_the_gateway_does_not_convert(gateway, finder):
    customer = finder.quiet()
    assert_bad_input(quote(gateway, customer["id"], [line("SKU-0001", 1, 1)], currency="USD"), mentions="'USD' is not supported")
    for accepted in ("EUR", "eur", None):
        body = quote(gateway, customer["id"], [line("SKU-0001", 1, 1)], currency=accepted)
        assert "errors" not in body and body["data"]["quote"]["currency"] == "EUR"


def test_an_unknown_sku_fails_its_own_line_and_the_others_are_evaluated(gateway, catalogue, stock, finder, rules):
    customer = finder.quiet()
    good = plentiful(catalogue, stock, count=2)
    lines = [line(good[0], 2, 100), line("SKU-NOPE-1", 5, 1000), line(good[1], 3, 50)]
    body = quote(gateway, customer["id"], lines, query=QUOTE_SCREEN.replace("earliestCompleteDate", "earliestCompleteDate invalidLines"))
    got = body["data"]["quote"]
    assert got["invalidLines"] == [1]
    assert d(got["total"]) == Decimal("350.00")  # the unknown line's 5000.00 is left out
    assert d(got["lines"][1]["amount"]) == Decimal("5000.00")  # still shown, from the input
    errors = {tuple(error["path"]): error for error in body["errors"]}
    for field in ("unitCost", "marginPct", "product", "availability"):
        error = errors.pop(("quote", "lines", 1, field))
        assert error["extensions"]["code"] == "NOT_FOUND" and "SKU-NOPE-1" in error["message"]
    assert errors == {}
    assert got["lines"][1]["product"] is None and got["lines"][1]["availability"] is None
    for n in (0, 2):
        assert got["lines"][n]["product"]["name"] == catalogue.products[lines[n]["sku"]]["name"]
        assert got["lines"][n]["availability"]["canPromise"] is True
    expected = expected_quote(catalogue, stock, finder, customer, lines)
    full = quote(gateway, customer["id"], lines)["data"]["quote"]
    assert_figures(full, expected, rules)


def test_an_unknown_customer_is_not_found(gateway):
    assert_bad_input(quote(gateway, "C-NOPE-9", [line("SKU-0001", 1, 1)]), code="NOT_FOUND", mentions="C-NOPE-9")


def test_an_unknown_warehouse_is_bad_input(gateway, finder):
    assert_bad_input(quote(gateway, finder.quiet()["id"], [line("SKU-0001", 1, 1)], warehouse="WH-ATLANTIS"), mentions="WH-ATLANTIS")


# --- backend calls --------------------------------------------------------------------------------


def twenty_lines(catalogue, stock):
    skus = catalogue.of_depth(3)[:5] + catalogue.of_depth(2)[:5] + catalogue.of_depth(1)[:5] + plentiful(catalogue, stock, count=5)
    return [line(sku, 1 + n % 3, cents(catalogue.unit_cost(sku) * Decimal("1.3"))) for n, sku in enumerate(skus)]


def routes_for(systems, gateway, customer, lines):
    systems.reset_stats()
    body = quote(gateway, customer["id"], lines, query=QUOTE_SCREEN)
    assert "errors" not in body, body["errors"][:3]
    return systems.calls(), systems.by_route()


def test_backend_calls_do_not_grow_with_the_number_of_lines(systems, gateway, catalogue, stock, finder):
    customer = finder.find(lambda c, f, r: f is not None and c["refs"]["desk"])
    lines = twenty_lines(catalogue, stock)
    two = [lines[0], lines[-1]]  # a three-level BOM and a bought item: as many BOM levels as the twenty
    small, small_routes = routes_for(systems, gateway, customer, two)
    large, large_routes = routes_for(systems, gateway, customer, lines)
    # The receipts' dates (SRM purchase orders, MES production orders): one call each at most, made
    # only when the lines' stock has receipts those systems date.
    supply = {"srm": {"/purchase_orders": 1}, "mes": {"/production_orders": 1}}
    for system, routes in supply.items():
        assert set(small_routes.pop(system)) <= set(routes)
        assert large_routes.pop(system) == routes
    assert {k: v for k, v in small.items() if k not in ("srm", "mes")} == {
        k: v for k, v in large.items() if k not in ("srm", "mes")
    }, (small_routes, large_routes)
    assert small_routes == large_routes
    erp = large_routes["erp"]
    # one call per source method per level: four BOM levels, one of stock, one each for credit
    assert erp == {"/products": 4, "/boms": 4, "/stock": 1, "/parties": 1, "/invoices": 1, "/open_items": 1, "/orders": 1}
    assert large_routes["crm"] == {"/customers": 1}
    assert large_routes["desk"] == {"/tickets": 1}
    assert large_routes["clm"] == {}


def test_line_loads_run_concurrently_with_the_customer_and_credit_loads(systems, gateway, catalogue, stock, finder):
    customer = finder.find(lambda c, f, r: f is not None and c["refs"]["desk"])
    with systems.faults("crm", latency_ms=300):
        body = quote(gateway, customer["id"], twenty_lines(catalogue, stock), query=QUOTE_SCREEN, headers={"X-Isthmus-Trace": "1"})
    assert "errors" not in body, body["errors"][:3]
    calls = body["extensions"]["trace"]["calls"]
    [crm] = [c for c in calls if c["source"] == "CRM"]
    crm_done = crm["start_ms"] + crm["duration_ms"]
    first = {}
    for call in calls:
        first.setdefault((call["source"], call["method"]), call)
    for method in ("stock", "products", "boms"):
        assert first[("ERP", method)]["start_ms"] < crm_done, (method, first[("ERP", method)], crm)
    # the whole BOM explosion (four levels) fits into the customer's round trip
    assert all(c["start_ms"] < crm_done for c in calls if c["method"] in ("boms", "products"))
    # credit and risk need the customer's refs: they follow it, all together
    follow = [first[key] for key in (("ERP", "parties"), ("ERP", "invoices_by_party"), ("ERP", "open_items_by_party"),
                                     ("ERP", "orders_by_party"), ("DESK", "tickets_by_org"))]
    assert all(c["start_ms"] >= crm_done - 1 for c in follow)
    assert max(c["start_ms"] for c in follow) - min(c["start_ms"] for c in follow) < 50


# --- a backend down: the rest of the quote stands ------------------------------------------------------


def test_with_the_desk_down_the_risk_is_unknown_and_the_quote_needs_finance(systems, gateway, catalogue, stock, finder):
    customer = finder.find(lambda c, f, r: f is not None and c["refs"]["desk"] and f["limit"] - f["used"] > 5000 and r != "HIGH")
    sku = plentiful(catalogue, stock)[0]
    with systems.faults("desk", down=True):
        body = quote(gateway, customer["id"], [line(sku, 10, priced_for_margin(catalogue, sku, Decimal(40)))], query=QUOTE_SCREEN)
    got = body["data"]["quote"]
    assert got["customer"]["risk"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"SOURCE_UNAVAILABLE"}
    assert got["approval"] == {
        "required": True, "level": "FINANCE",
        "reasons": ["Customer risk could not be assessed (DESK unavailable): finance approval"],
    }
    assert got["credit"]["ok"] is True and got["lines"][0]["availability"] is not None


def test_with_the_erp_down_lines_and_credit_fail_and_the_customer_stands(systems, gateway, finder):
    customer = finder.find(lambda c, f, r: f is not None)
    with systems.faults("erp", down=True):
        body = quote(gateway, customer["id"], [line("SKU-0001", 2, 10), line("SKU-0002", 1, 5)], query=QUOTE_SCREEN)
    got = body["data"]["quote"]
    assert got["customer"]["id"] == customer["id"]
    assert d(got["total"]) == Decimal("25.00")  # from the input: no line is known to be invalid
    assert got["cost"] is None and got["credit"] is None and got["earliestCompleteDate"] is None
    assert all(entry["product"] is None and entry["availability"] is None for entry in got["lines"])
    assert {e["extensions"]["code"] for e in body["errors"]} == {"SOURCE_UNAVAILABLE"}
    assert {e["extensions"]["source"] for e in body["errors"]} == {"ERP"}
    reasons = got["approval"]["reasons"]
    assert got["approval"]["required"] and got["approval"]["level"] == "FINANCE"
    assert any(r.startswith("Margin unknown (the cost of SKU-0001 is unknown: ERP unavailable)") for r in reasons)
    assert "Credit could not be checked (ERP unavailable): finance approval" in reasons
