"""Derived figures equal what a person would compute from the systems' own REST data."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

CENT = Decimal("0.01")
TODAY = dt.datetime.now(dt.UTC).date()

RECEIVABLES = """query($id: ID!) { customer(id: $id) { refs { erp } receivables {
  currency openBalance overdueBalance creditLimit creditUsed creditAvailable
  aging { current d1to30 d31to60 d61to90 over90 }
  invoices { number openAmount daysOverdue status }
  all: invoices(openOnly: false) { number }
} } }"""


def d(value):
    return Decimal(value) if value is not None else None


def customers_with_erp(systems, count=400):
    return [c for c in systems.get("crm", "/customers/search", limit=count) if c["refs"]["erp"]]


def expected_receivables(systems, party_code):
    invoices = systems.get("erp", "/invoices", party=party_code)
    orders = systems.get("erp", "/orders", party=party_code)
    party = systems.get("erp", "/parties", codes=party_code)[0]
    open_invoices = [i for i in invoices if i["status"] in ("OPEN", "PARTIALLY_PAID")]
    aging = defaultdict(Decimal)
    overdue = Decimal(0)
    for invoice in open_invoices:
        amount = d(invoice["amount"]) - d(invoice["paid_amount"])
        days = (TODAY - dt.date.fromisoformat(invoice["due_date"])).days
        bucket = "current" if days <= 0 else "d1to30" if days <= 30 else "d31to60" if days <= 60 else "d61to90" if days <= 90 else "over90"
        aging[bucket] += amount
        if days > 0:
            overdue += amount
    open_balance = sum((d(i["amount"]) - d(i["paid_amount"]) for i in open_invoices), Decimal(0))
    uninvoiced = sum(
        (max(Decimal(0), d(o["total"]) - d(o["invoiced_amount"])) for o in orders if o["status"] in ("CONFIRMED", "PROCESSING", "SHIPPED")),
        Decimal(0),
    )
    used = open_balance + uninvoiced
    limit = d(party["credit_limit"])
    return {
        "open": open_balance,
        "overdue": overdue,
        "aging": aging,
        "used": used,
        "limit": limit,
        "available": limit - used,
        "open_numbers": {i["number"] for i in open_invoices},
        "all_numbers": {i["number"] for i in invoices},
    }


def test_receivables_balances_aging_and_credit(systems, gateway):
    candidates = customers_with_erp(systems)
    # Some with overdue money, some over their limit, some clean: a spread of cases.
    chosen = candidates[:6]
    for customer in candidates:
        expected = expected_receivables(systems, customer["refs"]["erp"])
        if expected["overdue"] > 0 and len(chosen) < 10:
            chosen.append(customer)
        if expected["used"] > expected["limit"] and len(chosen) < 14:
            chosen.append(customer)
    assert len(chosen) >= 12
    for customer in chosen:
        expected = expected_receivables(systems, customer["refs"]["erp"])
        got = gateway.query(RECEIVABLES, {"id": customer["id"]})["data"]["customer"]["receivables"]
        assert d(got["openBalance"]) == expected["open"]
        assert d(got["overdueBalance"]) == expected["overdue"]
        assert d(got["creditLimit"]) == expected["limit"]
        assert d(got["creditUsed"]) == expected["used"]
        assert d(got["creditAvailable"]) == expected["available"]
        for bucket in ("current", "d1to30", "d31to60", "d61to90", "over90"):
            assert d(got["aging"][bucket]) == expected["aging"][bucket], bucket
        assert {i["number"] for i in got["invoices"]} == expected["open_numbers"]
        assert {i["number"] for i in got["all"]} == expected["all_numbers"]


def test_a_customer_over_its_credit_limit_gets_an_alert(systems, gateway):
    for customer in customers_with_erp(systems):
        expected = expected_receivables(systems, customer["refs"]["erp"])
        if expected["used"] > expected["limit"]:
            break
    else:
        pytest.fail("the demo data has no customer over its credit limit")
    body = gateway.query('query($id: ID!) { customer(id: $id) { receivables { creditAvailable } alerts { kind severity message } } }', {"id": customer["id"]})
    data = body["data"]["customer"]
    assert d(data["receivables"]["creditAvailable"]) < 0
    alert = next(a for a in data["alerts"] if a["kind"] == "CREDIT_LIMIT")
    assert alert["severity"] == "HIGH"
    assert str(expected["used"] - expected["limit"]) in alert["message"]


def test_contract_fulfilment_from_orders_shipments_invoices_and_payments(systems, gateway):
    contracts = systems.get("clm", "/contracts", counterparty=[c["refs"]["clm"] for c in systems.get("crm", "/customers/search", limit=200) if c["refs"]["clm"]])
    numbers = [c["number"] for c in contracts if c["kind"] == "SALES"]
    orders = systems.get("erp", "/orders", contract=numbers)
    with_orders = sorted({o["contract_number"] for o in orders})[:8]
    assert with_orders, "no sales contract has orders"
    by_number = {c["number"]: c for c in contracts}
    for number in with_orders:
        contract = by_number[number]
        mine = [o for o in orders if o["contract_number"] == number and o["status"] != "CANCELLED"]
        lines_shipped = sum((d(l["shipped_quantity"]) * d(l["unit_price"]) for o in mine for l in o["lines"]), Decimal(0))
        invoices = systems.get("erp", "/invoices", order=[o["id"] for o in mine])
        live_invoices = [i for i in invoices if i["status"] != "CANCELLED"]
        payments = systems.get("erp", "/payments", invoice=[i["id"] for i in live_invoices]) if live_invoices else []
        got = gateway.query(
            'query($id: ID!) { contract(id: $id) { amount fulfilment { orderedAmount shippedAmount invoicedAmount paidAmount progress } } }',
            {"id": contract["id"]},
        )["data"]["contract"]["fulfilment"]
        assert d(got["orderedAmount"]) == sum((d(o["total"]) for o in mine), Decimal(0))
        assert d(got["shippedAmount"]) == lines_shipped.quantize(CENT)
        assert d(got["invoicedAmount"]) == sum((d(i["amount"]) for i in live_invoices), Decimal(0))
        assert d(got["paidAmount"]) == sum((d(p["amount"]) for p in payments), Decimal(0))
        basis = d(contract["amount"]) or d(got["orderedAmount"])
        assert got["progress"] == pytest.approx(min(1.0, float(lines_shipped / basis)), abs=1e-4)


def test_order_totals_are_the_sum_of_their_lines(systems, gateway):
    customer = customers_with_erp(systems, 50)[0]
    body = gateway.query(
        'query($id: ID!) { customer(id: $id) { orders(first: 50) { id number total lines { quantity unitPrice amount } } } }',
        {"id": customer["id"]},
    )
    orders = body["data"]["customer"]["orders"]
    rest = {o["id"]: o for o in systems.get("erp", "/orders", party=customer["refs"]["erp"])}
    assert [o["id"] for o in orders] == list(rest)[:50]
    for order in orders:
        assert d(order["total"]) == d(rest[order["id"]]["total"])
        assert d(order["total"]) == sum((d(line["amount"]) for line in order["lines"]), Decimal(0))
        for line in order["lines"]:
            assert d(line["amount"]) == (d(line["quantity"]) * d(line["unitPrice"])).quantize(CENT)


def test_availability_from_stock_allocations_and_receipts(systems, gateway):
    stock = systems.get("erp", "/stock", skus=[f"SKU-{n:04d}" for n in range(1, 60)])
    by_sku = defaultdict(list)
    for row in stock:
        by_sku[row["sku"]].append(row)
    horizon = TODAY + dt.timedelta(days=30)
    for sku, rows in list(by_sku.items())[:25]:
        on_hand = sum(d(r["on_hand"]) for r in rows)
        allocated = sum(d(r["allocated"]) for r in rows)
        incoming = sum(d(x["quantity"]) for r in rows for x in r["receipts"] if dt.date.fromisoformat(x["expected_date"]) <= horizon)
        got = gateway.query(
            'query($s: ID!, $d: Date) { product(sku: $s) { availability(date: $d) { onHand allocated incoming available } } }',
            {"s": sku, "d": horizon.isoformat()},
        )["data"]["product"]["availability"]
        assert d(got["onHand"]) == on_hand
        assert d(got["allocated"]) == allocated
        assert d(got["incoming"]) == incoming
        assert d(got["available"]) == on_hand - allocated + incoming
