"""Derived figures equal what a person would compute from the systems' own REST data."""

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

CENT = Decimal("0.01")
TODAY = dt.datetime.now(dt.UTC).date()

RECEIVABLES = """query($id: ID!) { customer(id: $id) { refs { erp } receivables {
  currency openBalance overdueBalance creditLimit creditUsed creditAvailable
  aging { current d1to30 d31to60 d61to90 over90 }
  openItems { id amount dueDate daysOverdue }
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
    items = systems.get("erp", "/open_items", party=party_code)
    open_invoices = [i for i in invoices if i["status"] in ("OPEN", "PARTIALLY_PAID")]
    aging = defaultdict(Decimal)
    overdue = Decimal(0)
    # Open items (no invoice): opening balances are due, unapplied payments (no due date) are credits.
    entries = [(d(i["amount"]) - d(i["paid_amount"]), i["due_date"]) for i in open_invoices]
    entries += [(d(x["amount"]), x["due_date"]) for x in items]
    for amount, due in entries:
        # Credits (credit notes, unapplied payments) lower the balance but are never overdue.
        days = (TODAY - dt.date.fromisoformat(due)).days if due and amount > 0 else 0
        bucket = "current" if days <= 0 else "d1to30" if days <= 30 else "d31to60" if days <= 60 else "d61to90" if days <= 90 else "over90"
        aging[bucket] += amount
        if days > 0:
            overdue += amount
    open_balance = sum((amount for amount, _ in entries), Decimal(0))
    # Credit used on one basis, gross: open invoices (gross) + the gross not yet invoiced of open orders.
    uninvoiced = sum(
        (max(Decimal(0), d(o["total"]) + d(o["tax_amount"]) - d(o["invoiced_amount"]) - d(o["invoiced_tax_amount"]))
         for o in orders if o["status"] in ("CONFIRMED", "PROCESSING", "SHIPPED")),
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
        "items": {x["id"]: d(x["amount"]) for x in items},
        "all_numbers": {i["number"] for i in invoices},
    }


def test_receivables_balances_aging_and_credit(systems, gateway):
    candidates = customers_with_erp(systems)
    # Some with overdue money, some over their limit, some clean: a spread of cases.
    chosen = candidates[:6]
    with_items = {x["party_code"]: x for x in systems.get("erp", "/open_items", party=[c["refs"]["erp"] for c in candidates])}
    opening = [c for c in candidates if c["refs"]["erp"] in with_items and d(with_items[c["refs"]["erp"]]["amount"]) > 0]
    unapplied = [c for c in candidates if c["refs"]["erp"] in with_items and d(with_items[c["refs"]["erp"]]["amount"]) < 0]
    assert opening and unapplied, "the demo ERP has opening balances and unapplied payments"
    credited = [c for c in candidates if any(d(i["amount"]) < 0 and i["status"] == "OPEN" for i in
                                             systems.get("erp", "/invoices", party=c["refs"]["erp"]))][:2]
    assert credited, "the demo ERP has open credit notes"
    chosen += opening[:2] + unapplied[:2] + credited
    for customer in candidates:
        if len(chosen) >= 18:
            break  # nothing more would be added: the rest need not be recomputed
        expected = expected_receivables(systems, customer["refs"]["erp"])
        if expected["overdue"] > 0 and len(chosen) < 14:
            chosen.append(customer)
        if expected["used"] > expected["limit"] and len(chosen) < 18:
            chosen.append(customer)
    assert len(chosen) >= 16
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
        assert {x["id"]: d(x["amount"]) for x in got["openItems"]} == expected["items"]
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
            'query($id: ID!) { contract(id: $id) { amount fulfilment { orderedAmount shippedAmount invoicedAmount paidAmount progress '
            'orderedTax orderedGross invoicedTax invoicedGross paidTax paidGross currency } } }',
            {"id": contract["id"]},
        )["data"]["contract"]["fulfilment"]
        ordered_tax = sum((d(l["tax_amount"]) for o in mine for l in o["lines"]), Decimal(0))
        paid_net = sum((net_share(i) for i in live_invoices), Decimal(0))
        assert d(got["orderedAmount"]) == sum((d(o["total"]) for o in mine), Decimal(0))
        assert d(got["orderedTax"]) == ordered_tax
        assert d(got["shippedAmount"]) == lines_shipped.quantize(CENT)
        # Net, like the orders; gross as the invoices and the receivables show it.
        assert d(got["invoicedAmount"]) == sum((d(i["net_amount"]) for i in live_invoices), Decimal(0))
        assert d(got["invoicedTax"]) == sum((d(i["tax_amount"]) for i in live_invoices), Decimal(0))
        assert d(got["invoicedGross"]) == sum((d(i["amount"]) for i in live_invoices), Decimal(0))
        assert d(got["paidGross"]) == sum((d(p["amount"]) for p in payments), Decimal(0))
        assert d(got["paidAmount"]) == paid_net
        for net, tax, gross in (("orderedAmount", "orderedTax", "orderedGross"), ("invoicedAmount", "invoicedTax", "invoicedGross"),
                                ("paidAmount", "paidTax", "paidGross")):
            assert d(got[net]) + d(got[tax]) == d(got[gross]), net
        assert got["currency"] == contract["currency"]
        basis = d(contract["amount"]) or d(got["orderedAmount"])
        assert got["progress"] == pytest.approx(min(1.0, float(lines_shipped / basis)), abs=1e-4)


def net_share(invoice) -> Decimal:
    """The net part of what was paid on an invoice: paid x net / gross, to the cent (half up)."""
    return (d(invoice["paid_amount"]) * d(invoice["net_amount"]) / d(invoice["amount"])).quantize(CENT, ROUND_HALF_UP)


def test_net_tax_and_gross_on_orders_lines_and_invoices(systems, gateway):
    """Orders are net, invoices gross; each says so and carries the other two, with the ERP's tax."""
    products = {p["sku"]: p for p in systems.get("erp", "/products")}
    body = gateway.query(
        '{ customers(first: 15) { edges { node { refs { erp } orders(first: 100) { id currency total totalNet totalTax totalGross '
        'lines { sku amount netAmount taxAmount grossAmount } } '
        'receivables { invoices(openOnly: false) { number currency amount netAmount taxAmount grossAmount paidAmount openAmount } } } } } }'
    )
    assert "errors" not in body, body["errors"][:3]
    customers = [edge["node"] for edge in body["data"]["customers"]["edges"] if edge["node"]["refs"]["erp"]]
    taxed = 0
    for customer in customers:
        party = customer["refs"]["erp"]
        rest_orders = {o["id"]: o for o in systems.get("erp", "/orders", party=party)}
        rest_invoices = {i["number"]: i for i in systems.get("erp", "/invoices", party=party)}
        for order in customer["orders"]:
            rest = rest_orders[order["id"]]
            assert d(order["total"]) == d(order["totalNet"]) == d(rest["total"])
            assert d(order["totalTax"]) == d(rest["tax_amount"]) == sum((d(l["tax_amount"]) for l in rest["lines"]), Decimal(0))
            assert d(order["totalGross"]) == d(order["totalNet"]) + d(order["totalTax"])
            assert order["currency"] == rest["currency"]
            for line, rest_line in zip(order["lines"], rest["lines"]):
                rate = d(products[line["sku"]]["tax_rate"])
                assert d(line["amount"]) == d(line["netAmount"]) == d(rest_line["amount"])
                assert d(line["taxAmount"]) == (d(rest_line["amount"]) * rate).quantize(CENT, ROUND_HALF_UP)
                assert d(line["grossAmount"]) == d(line["netAmount"]) + d(line["taxAmount"])
            taxed += d(order["totalTax"]) > 0
        for invoice in customer["receivables"]["invoices"]:
            rest = rest_invoices[invoice["number"]]
            assert d(invoice["amount"]) == d(invoice["grossAmount"]) == d(rest["amount"])
            assert d(invoice["netAmount"]) == d(rest["net_amount"]) and d(invoice["taxAmount"]) == d(rest["tax_amount"])
            assert d(invoice["netAmount"]) + d(invoice["taxAmount"]) == d(invoice["grossAmount"])
            assert invoice["currency"] == rest["currency"]
    assert taxed >= 10, "the demo ERP charges tax, so net and gross differ"


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
    """`projected` is on hand - allocated + planned movements by the date; `available` keeps back
    what any later planned demand takes (the least projected quantity from the date on)."""
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
            'query($s: ID!, $d: Date) { product(sku: $s) { availability(date: $d) { onHand allocated incoming projected available } } }',
            {"s": sku, "d": horizon.isoformat()},
        )["data"]["product"]["availability"]
        later = [max(dt.date.fromisoformat(x["expected_date"]), TODAY) for r in rows for x in r["receipts"]]
        projected = lambda t: on_hand - allocated + sum(
            (d(x["quantity"]) for r in rows for x in r["receipts"] if max(dt.date.fromisoformat(x["expected_date"]), TODAY) <= t), Decimal(0))
        assert d(got["onHand"]) == on_hand
        assert d(got["allocated"]) == allocated
        assert d(got["incoming"]) == incoming
        assert d(got["projected"]) == on_hand - allocated + incoming == projected(horizon)
        assert d(got["available"]) == min([projected(horizon)] + [projected(t) for t in later if t > horizon])


def test_credit_used_does_not_jump_when_an_order_is_invoiced():
    """One basis: an order of 1,000 net + 190 tax uses 1,190 of credit before and after its invoice."""
    from resolvers.receivables import summarise
    from sources.records import Invoice, InvoiceStatus, Order, OrderStatus

    def order(invoiced: bool) -> Order:
        return Order(id="O1", number="SO-1", party_code="P1", status=OrderStatus.SHIPPED, total=Decimal("1000.00"),
                     tax_amount=Decimal("190.00"), invoiced_amount=Decimal("1000.00" if invoiced else "0"),
                     invoiced_tax_amount=Decimal("190.00" if invoiced else "0"))

    invoice = Invoice(id="I1", number="INV-1", party_code="P1", order_id="O1", issued_at=TODAY, due_date=TODAY,
                      amount=Decimal("1190.00"), paid_amount=Decimal("0"), status=InvoiceStatus.OPEN,
                      net_amount=Decimal("1000.00"), tax_amount=Decimal("190.00"))
    for basis, used in (("gross", Decimal("1190.00")), ("net", Decimal("1000.00"))):
        before = summarise([], [order(False)], Decimal("5000"), "EUR", TODAY, basis)
        after = summarise([invoice], [order(True)], Decimal("5000"), "EUR", TODAY, basis)
        assert before.credit_used == after.credit_used == used, basis
        assert after.open_balance == Decimal("1190.00")  # what the customer owes is gross either way


def test_credit_used_on_the_net_basis_when_configured(systems):
    """`credit_basis = "net"`: open invoices' net share + the net not yet invoiced, as recomputed.
    A setting's effect: a gateway of its own over the same systems the expected figures read
    (not the in-process demo apps, which other tests' orders may have changed)."""
    from bench.harness import GatewayProcess
    from conftest import AUTH, LIVE, Gateway
    from expected import credit

    customers = customers_with_erp(systems, 200)
    with GatewayProcess(systems.urls, auth=AUTH, credit_basis="net", **LIVE) as process:
        net_gateway = Gateway(process.url)
        checked = 0
        for customer in customers[:40]:
            expected_net, expected_gross = credit(systems, customer["refs"]["erp"], "net"), credit(systems, customer["refs"]["erp"])
            got = net_gateway.query('query($id: ID!) { customer(id: $id) { receivables { creditUsed creditBasis openBalance } } }',
                                    {"id": customer["id"]})["data"]["customer"]["receivables"]
            assert got["creditBasis"] == "NET"
            assert d(got["creditUsed"]) == expected_net["used"], customer["id"]
            checked += expected_net["used"] != expected_gross["used"]
        assert checked >= 5  # the two bases differ where something is open
