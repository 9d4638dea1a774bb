"""ATP and promise dates equal what a person computes from the ERP's stock, allocations and receipts.

Edge cases are found by scanning the ERP's REST data, never hard-coded: a stock-out covered
by a later receipt, a stock-out with no receipt, exactly enough, a late receipt, one SKU in
several warehouses.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from expected import TODAY, ZERO, assert_availability, atp, d, day

FIELDS = "onHand allocated incoming available canPromise promiseDate"


def free(row) -> Decimal:
    return d(row["on_hand"]) - d(row["allocated"])


def future(row) -> list[dict]:
    return [x for x in row["receipts"] if day(x["expected_date"]) > TODAY]


def rows(stock):
    return [row for sku_rows in stock.values() for row in sku_rows]


def find_cases(stock) -> dict[str, list[tuple[str, str | None, Decimal, dt.date | None]]]:
    """(sku, warehouse, quantity, date) per kind of case, a few of each."""
    cases: dict[str, list] = {name: [] for name in (
        "stock-out, later receipt", "stock-out, no receipt", "exactly enough now",
        "one more than on hand, no receipt", "exactly covered by a receipt", "late receipt",
        "by a date before the receipt", "multi-warehouse",
    )}
    for row in rows(stock):
        sku, warehouse, now = row["sku"], row["warehouse"], free(row)
        arrivals = sorted(row["receipts"], key=lambda x: x["expected_date"])
        if now <= 0 and future(row) and now + sum(d(x["quantity"]) for x in arrivals) >= 1:
            cases["stock-out, later receipt"].append((sku, warehouse, Decimal(1), None))
        if now <= 0 and not row["receipts"]:
            cases["stock-out, no receipt"].append((sku, warehouse, Decimal(1), None))
        if now > 0:
            cases["exactly enough now"].append((sku, warehouse, now, None))
            if not row["receipts"]:
                cases["one more than on hand, no receipt"].append((sku, warehouse, now + 1, None))
        if now >= 0 and future(row) and all(day(x["expected_date"]) > TODAY for x in arrivals):
            first = arrivals[0]
            quantity = now + d(first["quantity"])
            cases["exactly covered by a receipt"].append((sku, warehouse, quantity, day(first["expected_date"])))
            cases["by a date before the receipt"].append(
                (sku, warehouse, quantity, day(first["expected_date"]) - dt.timedelta(days=1))
            )
        if any(day(x["expected_date"]) < TODAY for x in row["receipts"]):
            cases["late receipt"].append((sku, warehouse, max(Decimal(1), now + 1), TODAY))
    for sku, sku_rows in stock.items():
        frees = [free(row) for row in sku_rows]
        total = sum(frees, ZERO)
        # Some warehouse alone cannot give what all of them together can.
        if len(sku_rows) > 1 and total > 0 and min(frees) < total:
            quantity = max(Decimal(1), min(total, max(frees) + 1))
            cases["multi-warehouse"].append((sku, None, quantity, None))
            for row in sku_rows:
                cases["multi-warehouse"].append((sku, row["warehouse"], quantity, None))
    return cases


def ask(gateway, cases):
    """All cases in one request, one aliased `atp` each."""
    fields = []
    variables = {}
    for n, (sku, warehouse, quantity, on) in enumerate(cases):
        fields.append(f"a{n}: atp(sku: $s{n}, quantity: $q{n}, warehouse: $w{n}, date: $d{n}) {{ {FIELDS} }}")
        variables.update({f"s{n}": sku, f"q{n}": str(quantity), f"w{n}": warehouse, f"d{n}": on.isoformat() if on else None})
    params = ", ".join(f"$s{n}: ID!, $q{n}: Decimal!, $w{n}: ID, $d{n}: Date" for n in range(len(cases)))
    body = gateway.query(f"query({params}) {{ {' '.join(fields)} }}", variables)
    assert "errors" not in body, body["errors"][:3]
    return [body["data"][f"a{n}"] for n in range(len(cases))]


def test_the_data_has_every_kind_of_case(stock):
    cases = find_cases(stock)
    assert {name: len(found) for name, found in cases.items() if not found} == {}


def test_atp_and_promise_date_for_every_kind_of_case(systems, gateway, stock):
    chosen = [case for found in find_cases(stock).values() for case in found[:4]]
    for (sku, warehouse, quantity, on), got in zip(chosen, ask(gateway, chosen)):
        expected = atp(stock[sku], quantity, warehouse, on)
        assert_availability(got, expected)


def test_a_stock_out_is_promised_on_the_day_of_the_receipt_that_covers_it(gateway, stock):
    cases = find_cases(stock)["stock-out, later receipt"][:5]
    for (sku, warehouse, quantity, _), got in zip(cases, ask(gateway, cases)):
        assert got["promiseDate"] is not None and day(got["promiseDate"]) > TODAY
        assert got["canPromise"] is False  # not today
        arrival_days = {max(day(x["expected_date"]), TODAY).isoformat() for r in stock[sku] if r["warehouse"] == warehouse for x in r["receipts"]}
        assert got["promiseDate"] in arrival_days
    # Asked for that day, it can be promised.
    later = [(sku, wh, q, day(got["promiseDate"])) for (sku, wh, q, _), got in zip(cases, ask(gateway, cases))]
    assert all(got["canPromise"] for got in ask(gateway, later))


def test_no_receipt_means_no_promise_date(gateway, stock):
    cases = find_cases(stock)["stock-out, no receipt"][:4] + find_cases(stock)["one more than on hand, no receipt"][:4]
    for got in ask(gateway, cases):
        assert got["promiseDate"] is None
        assert got["canPromise"] is False


def test_exactly_enough_is_enough(gateway, stock):
    cases = find_cases(stock)["exactly enough now"][:4]
    for got in ask(gateway, cases):
        assert got["canPromise"] is True
        assert got["promiseDate"] == TODAY.isoformat()
    covered = find_cases(stock)["exactly covered by a receipt"][:4]
    for (sku, warehouse, quantity, on), got in zip(covered, ask(gateway, covered)):
        assert got["canPromise"] is True
        assert got["promiseDate"] == on.isoformat()
        assert d(got["available"]) == quantity


def test_all_warehouses_add_up_and_each_answers_for_itself(gateway, stock):
    cases = find_cases(stock)["multi-warehouse"][:15]
    answers = dict(zip(cases, ask(gateway, cases)))
    for (sku, warehouse, quantity, on), got in answers.items():
        if warehouse is None:
            per_warehouse = [a for (s, w, q, _), a in answers.items() if s == sku and w is not None and q == quantity]
            assert d(got["available"]) == sum((d(a["available"]) for a in per_warehouse), ZERO)
            assert d(got["onHand"]) == sum((d(a["onHand"]) for a in per_warehouse), ZERO)
            assert got["canPromise"] is True
            assert any(a["canPromise"] is False for a in per_warehouse)


def test_product_availability_and_a_quote_line_answer_like_atp(systems, gateway, stock):
    customer = systems.get("crm", "/customers/search", limit=1)[0]
    cases = [found[0] for found in find_cases(stock).values()]
    for sku, warehouse, quantity, on in cases:
        expected = atp(stock[sku], quantity, warehouse, on)
        product = gateway.query(
            f"query($s: ID!, $w: ID, $d: Date, $q: Decimal) {{ product(sku: $s) {{ availability(warehouse: $w, date: $d, quantity: $q) {{ {FIELDS} }} }} }}",
            {"s": sku, "w": warehouse, "d": on.isoformat() if on else None, "q": str(quantity)},
        )["data"]["product"]["availability"]
        assert_availability(product, expected)
        line = {"sku": sku, "quantity": str(quantity), "unitPrice": "1.00"}
        if on is not None and on >= TODAY:
            line["requestedDate"] = on.isoformat()
        elif on is not None:
            continue  # a quote refuses a requested date in the past
        body = gateway.query(
            f"query($i: QuoteInput!) {{ quote(input: $i) {{ lines {{ requestedDate availability {{ {FIELDS} }} }} }} }}",
            {"i": {"customerId": customer["id"], "warehouse": warehouse, "lines": [line]}},
        )
        assert "errors" not in body, body["errors"]
        assert_availability(body["data"]["quote"]["lines"][0]["availability"], expected)
        assert body["data"]["quote"]["lines"][0]["requestedDate"] == (on or TODAY).isoformat()
