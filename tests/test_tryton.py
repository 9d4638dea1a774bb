"""Tryton 8.2 as the ERP: the gateway's answers against Tryton's own figures, over real JSON-RPC.

A real trytond runs for this module (installed into `.tryton/venv` from the package index on
first use, its modules-activated database cached in `.tryton/cache/`, seeded afresh for the
run in a temporary directory, on a free loopback port, stopped at the end). The demo CRM,
CLM and DESK run beside it (`systems`), and the gateway process is started with
`erp_kind = "tryton"`. Every expected figure is read from Tryton directly by the small
JSON-RPC client below, which shares no code with `sources/tryton.py`.

Without network access to the package index the module is skipped, saying so; any other
failure to install, seed or start Tryton fails it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bench.harness import GatewayProcess
from conftest import AUTH, LIVE, QUERIES, Gateway

DATES = (0, 3, 5, 7, 10, 14, 30)
QUOTE_SCREEN = (QUERIES / "quote.graphql").read_text()


# --- an independent Tryton client ------------------------------------------------------------


def _hook(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    return obj


def _date(day: dt.date) -> dict[str, Any]:
    return {"__class__": "date", "year": day.year, "month": day.month, "day": day.day}


class TrytonClient:
    """Plain JSON-RPC to Tryton, as the test's own source of truth."""

    def __init__(self, url: str, database: str, user: str, password: str) -> None:
        self.url, self.database = url, database
        self.http = httpx.Client(timeout=30)
        user_id, session, *_ = self.call("common.db.login", [user, {"password": password}, "en"], auth=False)
        self.auth = "Session " + base64.b64encode(f"{user}:{user_id}:{session}".encode()).decode()
        preferences = self.call("model.res.user.get_preferences", [True, {}])
        self.context = {key: preferences[key] for key in ("company", "companies", "employee", "language")}

    def call(self, method: str, params: list, *, auth: bool = True) -> Any:
        headers = {"Authorization": self.auth} if auth else {}
        response = self.http.post(f"{self.url}/{self.database}/rpc/", json={"id": 1, "method": method, "params": params},
                                  headers=headers)
        response.raise_for_status()
        body = json.loads(response.content, object_hook=_hook)
        assert "error" not in body, body["error"]
        return body["result"]

    def read(self, model: str, domain: list, fields: list[str], **context: Any) -> list[dict[str, Any]]:
        return self.call(f"model.{model}.search_read", [domain, 0, None, [["id", "ASC"]], fields,
                                                         {**self.context, **context}])


def q(value: Any) -> Decimal | None:
    """A figure as the gateway prints it (a JSON string), or Tryton's number, as a Decimal."""
    if value is None:
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


# --- fixtures --------------------------------------------------------------------------------


class TrytonRun:
    """The running Tryton of this module, restartable by the outage test."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.ids = server.seed_ids
        self.today = dt.date.fromisoformat(self.ids["today"])

    def settings(self) -> dict[str, str]:
        return self.server.settings()

    def client(self) -> TrytonClient:
        s = self.settings()
        return TrytonClient(s["url"], s["database"], s["user"], s["password"])

    def restart(self) -> None:
        from demo.tryton import TrytonServer

        self.server.stop()
        ids = self.server.seed_ids
        self.server = TrytonServer(self.server.instance)
        self.server.seed_ids = ids


@pytest.fixture(scope="module")
def tryton(tmp_path_factory) -> Any:
    """Install (first time), seed and start Tryton; stop it and wait for its PID at the end."""
    from demo.tryton import TrytonUnavailable, start_tryton

    started = time.monotonic()
    try:
        server = start_tryton(directory=tmp_path_factory.mktemp("tryton"))
    except TrytonUnavailable as exc:
        pytest.skip(f"Tryton cannot be installed on this machine (no access to the package index): {exc}")
    print(f"\nTryton ready in {time.monotonic() - started:.1f} s (pid {server.pid}, {server.url})")
    run = TrytonRun(server)
    try:
        yield run
    finally:
        run.server.stop()
        assert not run.server.running()


@pytest.fixture(scope="module")
def truth(tryton) -> TrytonClient:
    return tryton.client()


@pytest.fixture(scope="module")
def tgw(systems, tryton) -> Any:
    """A gateway on the demo CRM, CLM and DESK with Tryton as its ERP (no cache, no breakers)."""
    with GatewayProcess(systems.urls, erp_kind="tryton", tryton=tryton.settings(), auth=AUTH, **LIVE) as process:
        yield Gateway(process.url)


@pytest.fixture(scope="module")
def seeded(systems, tryton) -> list[dict[str, Any]]:
    """The CRM customers whose ERP ref is a Tryton party, in the CRM's list order."""
    codes = set(tryton.ids["parties"])
    return [c for c in systems.get("crm", "/customers/search", limit=200) if c["refs"]["erp"] in codes]


def by_code(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["code"]: row for row in rows}


# --- the seed and the join -------------------------------------------------------------------


def test_the_seed_joins_up_with_the_demo_crm(tryton, seeded, truth):
    parties = truth.read("party.party", [["code", "in", list(tryton.ids["parties"])]], ["code", "name"])
    assert len(parties) == len(tryton.ids["parties"]) == 50
    assert len(seeded) == 50  # every seeded party is the ERP account of a CRM customer
    names = {c["refs"]["erp"]: c["name"] for c in seeded}
    assert all(names[p["code"]] == p["name"] for p in parties)
    products = truth.read("product.product", [], ["code"])
    assert {"SKU-0001", "SKU-0002", "SKU-0003"} <= {p["code"] for p in products}


# --- receivables, overdue, credit ------------------------------------------------------------

CUSTOMERS = """query($first: Int) { customers(first: $first) { edges { node {
  id refs { erp }
  receivables { currency openBalance overdueBalance creditLimit creditUsed creditAvailable creditBasis uninvoicedOrders
    invoices(openOnly: false) { id number dueDate amount netAmount taxAmount grossAmount paidAmount openAmount status currency }
    openItems { id amount dueDate description } }
  orders(first: 10) { id number status total totalNet totalTax totalGross promisedDate currency
    lines { sku quantity shippedQuantity unitPrice amount netAmount taxAmount grossAmount } }
} } } }"""


@pytest.fixture(scope="module")
def page(tgw, seeded) -> dict[str, dict[str, Any]]:
    """The gateway's answer for the first customers, the seeded ones among them, by ERP ref."""
    body = tgw.query(CUSTOMERS, {"first": 60})
    assert not body.get("errors"), body.get("errors")
    nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
    found = {node["refs"]["erp"]: node for node in nodes if node["refs"]["erp"]}
    assert {c["refs"]["erp"] for c in seeded} <= set(found)
    return found


def gross_exposure(truth: TrytonClient, codes: list[str]) -> dict[str, Decimal]:
    """Per party, from Tryton's records: receivable (gross) + the gross not yet invoiced of its
    confirmed and processing sales (total_amount less its posted and paid invoices' total_amount)."""
    exposure = {code: Decimal(0) for code in codes}
    parties = by_code(truth.read("party.party", [["code", "in", codes]], ["code", "receivable"]))
    sales = truth.read("sale.sale", [["party.code", "in", codes], ["state", "in", ["confirmed", "processing"]]],
                       ["party.code", "total_amount", "invoices.state", "invoices.total_amount"])
    for code in codes:
        exposure[code] += parties[code]["receivable"]
    for sale in sales:
        invoiced = sum((i["total_amount"] for i in sale["invoices."] if i["state"] in ("posted", "paid")), Decimal(0))
        exposure[sale["party."]["code"]] += max(Decimal(0), sale["total_amount"] - invoiced)
    return exposure


def test_receivables_overdue_and_credit_are_trytons(tryton, page, truth):
    """Receivable, overdue and limit are Tryton's; credit used is on one basis, gross, recomputed
    from Tryton's records: Tryton's own credit_amount adds net uninvoiced sales to gross
    receivables, so it is lower by exactly the tax on what is not yet invoiced."""
    codes = list(tryton.ids["parties"])
    parties = by_code(truth.read("party.party", [["code", "in", codes]],
                                 ["code", "receivable", "credit_limit_amount", "credit_amount"]))
    exposure = gross_exposure(truth, codes)
    untaxed_open = truth.read("sale.sale", [["party.code", "in", codes], ["state", "in", ["confirmed", "processing"]]],
                              ["party.code", "untaxed_amount", "tax_amount", "invoices.state"])
    mixed_differs = 0
    overdue = overdue_from_trytons_records(truth, codes, tryton.today)
    for code in codes:
        node, party = page[code], parties[code]
        figures = node["receivables"]
        assert q(figures["openBalance"]) == party["receivable"], code
        assert q(figures["overdueBalance"]) == overdue[code], code
        assert q(figures["creditLimit"]) == party["credit_limit_amount"], code
        assert figures["creditBasis"] == "GROSS"
        assert q(figures["creditUsed"]) == exposure[code], code
        assert q(figures["creditAvailable"]) == party["credit_limit_amount"] - exposure[code], code
        assert q(figures["creditUsed"]) == q(figures["openBalance"]) + q(figures["uninvoicedOrders"]), code
        tax_not_invoiced = sum((s["tax_amount"] for s in untaxed_open if s["party."]["code"] == code
                                and not any(i["state"] in ("posted", "paid") for i in s["invoices."])), Decimal(0))
        assert exposure[code] - party["credit_amount"] == tax_not_invoiced, code
        mixed_differs += tax_not_invoiced > 0
        assert figures["currency"] == "EUR"
    assert mixed_differs >= 1  # the seed has uninvoiced sales, where Tryton's mixed figure is lower
    # The seed's situations are there: overdue (an invoice, an instalment, an opening balance),
    # one over its limit, one partly paid.
    assert sum(1 for code in codes if overdue[code] > 0) == 3
    assert any(parties[c]["credit_amount"] > parties[c]["credit_limit_amount"] for c in codes)
    statuses = {i["status"] for code in codes for i in page[code]["receivables"]["invoices"]}
    assert {"OPEN", "PAID", "PARTIALLY_PAID"} <= statuses


def overdue_from_trytons_records(truth: TrytonClient, codes: list[str], today: dt.date) -> dict[str, Decimal]:
    """Per party: of each posted invoice, its lines to pay with a maturity before today less what
    was paid on it (at most what it still owes); plus the open receivable lines no invoice carries
    that are debits past their maturity date (an opening balance). Credits are never overdue."""
    overdue = {code: Decimal(0) for code in codes}
    invoices = truth.read("account.invoice", [["type", "=", "out"], ["state", "=", "posted"], ["party.code", "in", codes]],
                          ["party.code", "total_amount", "amount_to_pay", "lines_to_pay.maturity_date",
                           "lines_to_pay.debit", "lines_to_pay.credit"])
    for invoice in invoices:
        to_pay = invoice["amount_to_pay"]
        if to_pay <= 0:
            continue
        due = sum((line["debit"] - line["credit"] for line in invoice["lines_to_pay."]
                   if line["maturity_date"] and line["maturity_date"] < today), Decimal(0))
        paid = invoice["total_amount"] - to_pay
        overdue[invoice["party."]["code"]] += min(to_pay, max(Decimal(0), due - paid))
    for line in open_items_of(truth, codes):
        if line["debit"] > line["credit"] and line["maturity_date"] and line["maturity_date"] < today:
            overdue[line["party."]["code"]] += line["debit"] - line["credit"]
    return overdue


def open_items_of(truth: TrytonClient, codes: list[str]) -> list[dict[str, Any]]:
    """Open receivable lines that belong to no invoice's move and pay no invoice."""
    lines = truth.read("account.move.line", [["account.type.receivable", "=", True], ["reconciliation", "=", None],
                                             ["party.code", "in", codes]],
                       ["party.code", "debit", "credit", "maturity_date", "move.origin", "invoice_payment"])
    return [line for line in lines if not line["invoice_payment"]
            and not str(line["move."]["origin"] or "").startswith("account.invoice,")]


def test_credit_notes_instalments_unapplied_payments_and_opening_balances_are_trytons(tryton, page, truth):
    """The cases where finance first sees differences: each customer's balance is Tryton's
    receivable, the open amounts are Tryton's, and entries without an invoice are listed."""
    ids = tryton.ids
    invoices = {row["id"]: row for row in truth.read(
        "account.invoice", [["id", "in", list(ids["invoices"].values())]],
        ["party.code", "total_amount", "amount_to_pay", "currency.code", "lines_to_pay.maturity_date", "lines_to_pay.debit",
         "lines_to_pay.credit"])}
    credit_note = invoices[ids["invoices"]["credit_note"]]
    instalments = invoices[ids["invoices"]["instalments"]]
    assert credit_note["total_amount"] < 0 and len(instalments["lines_to_pay."]) == 2
    assert 0 < instalments["amount_to_pay"] < instalments["total_amount"]  # paid in part, twice
    for name, invoice in ((n, invoices[i]) for n, i in ids["invoices"].items()):
        mine = {i["id"]: i for i in page[invoice["party."]["code"]]["receivables"]["invoices"]}[str(invoice["id"])]
        assert q(mine["openAmount"]) == (invoice["amount_to_pay"] if mine["status"] != "PAID" else 0), name
    codes = {name: invoices[ids["invoices"][name]]["party."]["code"] for name in ("credited", "instalments")}
    parties = by_code(truth.read("party.party", [["id", "in", list(ids["parties"].values())]], ["code", "receivable"]))
    credited = page[codes["credited"]]["receivables"]
    assert q(credited["openBalance"]) == parties[codes["credited"]]["receivable"] > 0
    assert any(q(i["openAmount"]) < 0 for i in credited["invoices"])  # the credit note lowers the balance
    # The first instalment (30 %) fell due two days ago; two payments of 10 % each leave 10 % overdue.
    (first_due,) = [line for line in instalments["lines_to_pay."] if line["maturity_date"] < tryton.today]
    part = page[codes["instalments"]]["receivables"]
    assert q(part["overdueBalance"]) == first_due["debit"] - (instalments["total_amount"] - instalments["amount_to_pay"])
    assert 0 < q(part["overdueBalance"]) < q(part["openBalance"])
    # An invoice in USD: shown in USD, counted in the balance in EUR as Tryton's receivable holds it.
    foreign = invoices[ids["invoices"]["foreign_currency"]]
    assert foreign["currency."]["code"] == "USD"
    figures = page[foreign["party."]["code"]]["receivables"]
    (mine,) = [i for i in figures["invoices"] if i["id"] == str(foreign["id"])]
    assert q(mine["amount"]) == foreign["total_amount"] and q(mine["openAmount"]) == foreign["amount_to_pay"]
    in_eur = sum((line["debit"] - line["credit"] for line in foreign["lines_to_pay."]), Decimal(0))
    assert in_eur != foreign["total_amount"]
    assert q(figures["openBalance"]) == in_eur == parties[foreign["party."]["code"]]["receivable"]
    assert figures["currency"] == "EUR"
    # Entries without an invoice: the unapplied payment and the opening balance.
    items = open_items_of(truth, list(ids["parties"]))
    assert sorted(line["debit"] - line["credit"] for line in items) == [Decimal("-300.00"), Decimal("1250.00")]
    for line in items:
        code = line["party."]["code"]
        figures = page[code]["receivables"]
        assert [(q(x["amount"]), x["dueDate"]) for x in figures["openItems"]] == [
            (line["debit"] - line["credit"], line["maturity_date"] and line["maturity_date"].isoformat())]
        assert q(figures["openBalance"]) == parties[code]["receivable"]
        overdue = line["debit"] - line["credit"] if line["debit"] > 0 else Decimal(0)  # the opening balance is past due
        assert q(figures["overdueBalance"]) == overdue, code


def test_a_customer_without_a_tryton_party_has_no_erp_data(tgw, systems, tryton):
    other = next(c for c in systems.get("crm", "/customers/search", limit=400)
                 if c["refs"]["erp"] and c["refs"]["erp"] not in tryton.ids["parties"])
    body = tgw.query('query($id: ID!) { customer(id: $id) { name receivables { openBalance } orders { id } } }',
                     {"id": other["id"]})
    assert not body.get("errors")
    assert body["data"]["customer"] == {"name": other["name"], "receivables": None, "orders": []}


def test_invoices_are_trytons(tryton, page, truth):
    codes = list(tryton.ids["parties"])
    invoices = truth.read("account.invoice", [["type", "=", "out"], ["party.code", "in", codes],
                                              ["state", "in", ["posted", "paid", "cancelled"]]],
                          ["number", "party.code", "state", "total_amount", "untaxed_amount", "tax_amount", "amount_to_pay",
                           "lines_to_pay.maturity_date"])
    assert len(invoices) == 8
    for invoice in invoices:
        mine = {i["id"]: i for i in page[invoice["party."]["code"]]["receivables"]["invoices"]}[str(invoice["id"])]
        assert mine["number"] == invoice["number"]
        assert q(mine["amount"]) == q(mine["grossAmount"]) == invoice["total_amount"]
        assert q(mine["netAmount"]) == invoice["untaxed_amount"] and q(mine["taxAmount"]) == invoice["tax_amount"]
        assert q(mine["netAmount"]) + q(mine["taxAmount"]) == q(mine["grossAmount"])
        expected_open = invoice["amount_to_pay"] if invoice["state"] == "posted" else Decimal(0)
        assert q(mine["openAmount"]) == expected_open
        assert mine["dueDate"] == min(line["maturity_date"] for line in invoice["lines_to_pay."]).isoformat()
        assert mine["status"] == {"paid": "PAID", "cancelled": "CANCELLED"}.get(
            invoice["state"], "PARTIALLY_PAID" if expected_open < invoice["total_amount"] else "OPEN")


# --- orders ----------------------------------------------------------------------------------

STATUS = {"draft": "DRAFT", "quotation": "DRAFT", "confirmed": "CONFIRMED", "processing": "PROCESSING",
          "done": "DONE", "cancelled": "CANCELLED"}


def test_order_totals_states_and_lines_are_trytons(tryton, page, truth):
    codes = list(tryton.ids["parties"])
    sales = truth.read("sale.sale", [["party.code", "in", codes]], [
        "number", "party.code", "state", "shipment_state", "untaxed_amount", "tax_amount", "total_amount", "shipping_date",
        "lines.product.code", "lines.quantity", "lines.unit_price", "lines.amount", "lines.moves.state",
        "lines.moves.quantity", "lines.taxes.rate"])
    assert len(sales) == len(tryton.ids["sales"])
    for sale in sales:
        orders = {o["id"]: o for o in page[sale["party."]["code"]]["orders"]}
        order = orders[str(sale["id"])]
        status = "SHIPPED" if sale["state"] == "processing" and sale["shipment_state"] == "sent" else STATUS[sale["state"]]
        assert order["status"] == status
        assert q(order["total"]) == q(order["totalNet"]) == sale["untaxed_amount"]
        assert q(order["totalTax"]) == sale["tax_amount"] and q(order["totalGross"]) == sale["total_amount"]
        assert q(order["totalNet"]) + q(order["totalTax"]) == q(order["totalGross"])
        assert order["number"] == (sale["number"] or f"DRAFT-{sale['id']}")
        if sale["shipping_date"]:
            assert order["promisedDate"] == sale["shipping_date"].isoformat()
        assert len(order["lines"]) == len(sale["lines."])
        for line, mine in zip(sale["lines."], order["lines"]):
            assert mine["sku"] == line["product."]["code"]
            assert q(mine["quantity"]) == q(line["quantity"])
            assert q(mine["unitPrice"]) == line["unit_price"]
            assert q(mine["amount"]) == q(mine["netAmount"]) == line["amount"]
            rate = sum((t["rate"] for t in line["taxes."]), Decimal(0))
            assert q(mine["taxAmount"]) == (line["amount"] * rate).quantize(Decimal("0.01"))
            assert q(mine["netAmount"]) + q(mine["taxAmount"]) == q(mine["grossAmount"])
            shipped = sum((q(m["quantity"]) for m in line["moves."] if m["state"] == "done"), Decimal(0))
            assert q(mine["shippedQuantity"]) == shipped
        assert q(order["total"]) == sum((q(line["amount"]) for line in order["lines"]), Decimal(0))
    states = {sale["state"] for sale in sales}
    assert {"quotation", "processing", "cancelled"} <= states


def test_an_order_by_id_and_by_contract_number(tgw, tryton, systems, truth):
    sale_id = tryton.ids["sales"]["overdue"]
    (sale,) = truth.read("sale.sale", [["id", "=", sale_id]], ["number", "reference"])
    body = tgw.query('query($id: ID!) { order(id: $id) { id number status customer { refs { erp } } contract { number } } }',
                     {"id": str(sale_id)})
    assert not body.get("errors"), body["errors"]
    order = body["data"]["order"]
    assert order["number"] == sale["number"] and order["status"] == "SHIPPED"
    if sale["reference"]:  # the CLM contract number of the first customer, when it has one
        assert order["contract"] == {"number": sale["reference"]}


# --- stock, ATP, cost, BOM -------------------------------------------------------------------


class Forecasts:
    """Tryton's forecast_quantity per (warehouse ids, date), for every product, read once each."""

    def __init__(self, truth: TrytonClient, skus: list[str]) -> None:
        self.truth, self.skus, self.rows = truth, skus, {}

    def at(self, locations: tuple[int, ...], day: dt.date) -> dict[str, dict[str, Any]]:
        if (locations, day) not in self.rows:
            self.rows[locations, day] = by_code(self.truth.read(
                "product.product", [["code", "in", self.skus]], ["code", "quantity", "forecast_quantity"],
                locations=list(locations), stock_date_end=_date(day)))
        return self.rows[locations, day]

    def least_from(self, locations: tuple[int, ...], sku: str, day: dt.date, plan_days: list[dt.date]) -> Decimal:
        """ATP at `day`: the least forecast over `day` and every later day Tryton has moves planned for."""
        return min(q(self.at(locations, d)[sku]["forecast_quantity"]) for d in [day, *(p for p in plan_days if p > day)])


def planned_days(truth: TrytonClient, today: dt.date) -> list[dt.date]:
    """The days with pending moves from today on: where Tryton's forecast can change."""
    moves = truth.read("stock.move", [["state", "in", ["draft", "assigned"]], ["planned_date", ">=", _date(today)]],
                       ["planned_date"])
    return sorted({m["planned_date"] for m in moves})


def test_on_hand_and_forecast_per_product_warehouse_and_date_are_trytons(tgw, tryton, truth):
    """`projected` is Tryton's forecast at the date; `available` the least forecast over the date
    and every later planned day (so later planned demand is kept back)."""
    products = truth.read("product.product", [], ["code"])
    skus = [p["code"] for p in products]
    warehouses = truth.read("stock.location", [["type", "=", "warehouse"]], ["code"])
    plans = planned_days(truth, tryton.today)
    forecasts = Forecasts(truth, skus)
    aliases = []
    for warehouse in warehouses:
        for days in DATES:
            day = tryton.today + dt.timedelta(days=days)
            aliases.append((f"{warehouse['code'].replace('-', '_')}_{days}", warehouse, day))
    fields = " ".join(f'{alias}: availability(warehouse: "{w["code"]}", date: "{day.isoformat()}") {{ onHand projected available }}'
                      for alias, w, day in aliases)
    body = tgw.query(f"query($skus: [ID!]!) {{ products(skus: $skus) {{ sku {fields} all: availability {{ onHand projected available }} }} }}",
                     {"skus": skus})
    assert not body.get("errors"), body["errors"]
    answer = {p["sku"]: p for p in body["data"]["products"]}
    compared = kept_back = 0
    for alias, warehouse, day in aliases:
        rows = forecasts.at((warehouse["id"],), day)
        for sku in skus:
            mine = answer[sku][alias]
            assert q(mine["onHand"]) == q(rows[sku]["quantity"]), (sku, alias)
            assert q(mine["projected"]) == q(rows[sku]["forecast_quantity"]), (sku, alias)
            assert q(mine["available"]) == forecasts.least_from((warehouse["id"],), sku, day, plans), (sku, alias)
            kept_back += q(mine["available"]) < q(mine["projected"])
            compared += 1
    # All warehouses together: Tryton sums the listed locations.
    everywhere = tuple(w["id"] for w in warehouses)
    rows = forecasts.at(everywhere, tryton.today)
    for sku in skus:
        assert q(answer[sku]["all"]["onHand"]) == q(rows[sku]["quantity"])
        assert q(answer[sku]["all"]["projected"]) == q(rows[sku]["forecast_quantity"])
        assert q(answer[sku]["all"]["available"]) == forecasts.least_from(everywhere, sku, tryton.today, plans)
    assert compared == len(skus) * len(aliases) >= 17 * 14
    # The seed's plans move the forecast: it differs from on hand somewhere in the horizon,
    # and later planned demand keeps some stock back from what the forecast alone would give.
    assert any(q(answer[s][a]["projected"]) != q(answer[s][a]["onHand"]) for s in skus for a, _, _ in aliases)
    assert kept_back >= 1


def test_stock_that_planned_demand_takes_later_is_not_promised_today(tgw, tryton, truth):
    """The over-promise of a forecast-only ATP (SKU-0047 in WH-EU: what is free today, while the
    planned production consumes part of it later): every such case now waits or is refused."""
    skus = [p["code"] for p in truth.read("product.product", [], ["code"])]
    warehouses = truth.read("stock.location", [["type", "=", "warehouse"]], ["code"])
    plans = planned_days(truth, tryton.today)
    forecasts = Forecasts(truth, skus)
    cases = []
    for warehouse in warehouses:
        today = forecasts.at((warehouse["id"],), tryton.today)
        for sku in skus:
            free_today = q(today[sku]["forecast_quantity"])
            if free_today > 0 and forecasts.least_from((warehouse["id"],), sku, tryton.today, plans) < free_today:
                cases.append((sku, warehouse, free_today))
    assert cases and any(sku == "SKU-0047" and w["code"] == "WH-EU" for sku, w, _ in cases), cases
    for sku, warehouse, quantity in cases:
        body = tgw.query('query($sku: ID!, $qty: Decimal!, $wh: ID) { atp(sku: $sku, quantity: $qty, warehouse: $wh) '
                         '{ projected available canPromise promiseDate } }',
                         {"sku": sku, "qty": str(quantity), "wh": warehouse["code"]})
        assert not body.get("errors"), body["errors"]
        got = body["data"]["atp"]
        assert q(got["projected"]) == quantity and got["canPromise"] is False, (sku, warehouse["code"], got)
        assert got["promiseDate"] is None or dt.date.fromisoformat(got["promiseDate"]) > tryton.today
        if got["promiseDate"] is not None:  # from then on, no later planned day needs it
            promised = dt.date.fromisoformat(got["promiseDate"])
            assert forecasts.least_from((warehouse["id"],), sku, promised, plans) >= quantity


def test_atp_promise_date_follows_trytons_incoming_supply(tgw, tryton, truth):
    # The sub-assembly is produced (+10) in 7 days: its forecast jumps then.
    sku = tryton.ids["production"]["product"]
    (warehouse,) = [w for w in truth.read("stock.location", [["type", "=", "warehouse"]], ["code"])
                    if w["code"] == "WH-EU"]
    before = tryton.today + dt.timedelta(days=6)
    after = tryton.today + dt.timedelta(days=7)
    forecasts = {}
    for day in (before, after):
        (row,) = truth.read("product.product", [["code", "=", sku]], ["forecast_quantity"],
                            locations=[warehouse["id"]], stock_date_end=_date(day))
        forecasts[day] = q(row["forecast_quantity"])
    wanted = forecasts[after]
    assert wanted > forecasts[before]
    body = tgw.query('query($sku: ID!, $qty: Decimal!) { atp(sku: $sku, quantity: $qty, warehouse: "WH-EU") '
                     '{ canPromise promiseDate } }', {"sku": sku, "qty": str(wanted)})
    assert not body.get("errors"), body["errors"]
    assert body["data"]["atp"] == {"canPromise": False, "promiseDate": after.isoformat()}


def test_cost_list_price_and_bom_are_trytons(tgw, tryton, truth):
    products = by_code(truth.read("product.product", [], ["code", "cost_price", "list_price_used", "default_uom.symbol"]))
    inputs = truth.read("production.bom.input", [], ["bom", "product.code", "quantity"])
    outputs = truth.read("production.bom.output", [], ["bom", "product.code", "quantity"])
    bom_of = {o["product."]["code"]: o["bom"] for o in outputs}
    components = {sku: [(i["product."]["code"], q(i["quantity"])) for i in inputs if i["bom"] == bom]
                  for sku, bom in bom_of.items()}

    def rolled(sku: str) -> Decimal:
        if sku not in components:
            return products[sku]["cost_price"]
        return sum((qty * rolled(c) for c, qty in components[sku]), Decimal(0))

    skus = list(products)
    body = tgw.query("query($skus: [ID!]!) { products(skus: $skus) { sku name uom listPrice standardCost rolledUpCost "
                     "bom { quantity component { sku } } } }", {"skus": skus})
    assert not body.get("errors"), body["errors"]
    for product in body["data"]["products"]:
        tryton_product = products[product["sku"]]
        assert q(product["standardCost"]) == tryton_product["cost_price"]
        assert q(product["listPrice"]) == tryton_product["list_price_used"]
        assert q(product["rolledUpCost"]) == rolled(product["sku"]).quantize(Decimal("0.01"))
        mine = sorted((line["component"]["sku"], q(line["quantity"])) for line in product["bom"])
        assert mine == sorted(components.get(product["sku"], []))
    assert sum(1 for p in body["data"]["products"] if p["bom"]) == 2


# --- the 360 page and the quote --------------------------------------------------------------


def calls_of(body: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in body["extensions"]["trace"]["calls"]:
        counts[call["source"]] = counts.get(call["source"], 0) + 1
    return counts


def test_the_360_page_with_tryton_and_calls_constant_in_page_size(tgw, tryton, page_query):
    trace = {"X-Isthmus-Trace": "1"}
    tgw.query(page_query, {"first": 5}, headers=trace)  # the session is made once, before counting
    small = tgw.query(page_query, {"first": 20}, headers=trace)
    large = tgw.query(page_query, {"first": 50}, headers=trace)
    for body in (small, large):
        assert not body.get("errors"), body.get("errors")
    nodes = [edge["node"] for edge in large["data"]["customers"]["edges"]]
    assert len(nodes) == 50
    with_orders = [n for n in nodes if n["orders"]]
    assert with_orders and any(line["product"]["availability"] for n in with_orders for o in n["orders"] for line in o["lines"])
    assert any(n["receivables"] and Decimal(n["receivables"]["overdueBalance"]) > 0 for n in nodes)
    assert any(n["contracts"] for n in nodes) and any(n["tickets"] for n in nodes)
    assert calls_of(small) == calls_of(large), (calls_of(small), calls_of(large))
    erp = [c for c in large["extensions"]["trace"]["calls"] if c["source"] == "ERP"]
    assert erp and all(c["outcome"] == "ok" for c in erp)
    assert not any(c["method"] == "login" for c in erp)  # the session is reused


def test_the_quote_screen_prices_against_tryton(tgw, tryton, seeded, truth):
    customer = seeded[0]
    skus = ["SKU-0004", tryton.ids["production"]["product"]]
    products = by_code(truth.read("product.product", [["code", "in", skus]], ["code", "list_price_used", "quantity"],
                                  locations=list(tryton.ids["warehouses"].values())))
    taxes = by_code(truth.read("product.product", [["code", "in", skus]], ["code", "account_category.customer_taxes_used.rate"]))
    (party,) = truth.read("party.party", [["code", "=", customer["refs"]["erp"]]], ["credit_limit_amount", "credit_amount"])
    lines = [{"sku": sku, "quantity": "2", "unitPrice": str(products[sku]["list_price_used"])} for sku in skus]
    body = tgw.query(QUOTE_SCREEN.replace("total ", "total totalNet totalTax totalGross ", 1).replace(
        "exceededBy ok", "exceededBy ok creditUsedWithQuote", 1),
                     {"input": {"customerId": customer["id"], "currency": "EUR", "lines": lines}})
    assert not body.get("errors"), body["errors"]
    quote = body["data"]["quote"]
    assert quote["customer"]["id"] == customer["id"]
    assert q(quote["credit"]["creditLimit"]) == party["credit_limit_amount"]
    assert q(quote["credit"]["creditUsed"]) == gross_exposure(truth, [customer["refs"]["erp"]])[customer["refs"]["erp"]]
    net = sum((2 * products[s]["list_price_used"] for s in skus), Decimal(0))
    tax = sum(((2 * products[s]["list_price_used"] * sum(
        (t["rate"] for t in taxes[s]["account_category."]["customer_taxes_used."]), Decimal(0))).quantize(Decimal("0.01"))
        for s in skus), Decimal(0))
    assert q(quote["total"]) == q(quote["totalNet"]) == net
    assert q(quote["totalTax"]) == tax > 0 and q(quote["totalGross"]) == net + tax
    assert q(quote["credit"]["creditUsedWithQuote"]) == q(quote["credit"]["creditUsed"]) + net + tax
    for line in quote["lines"]:
        assert q(line["availability"]["onHand"]) == q(products[line["sku"]]["quantity"])


# --- outage ----------------------------------------------------------------------------------


def test_tryton_down_is_source_unavailable_and_the_other_systems_stand(tgw, tryton, seeded):
    customer = seeded[0]
    query = ('query($id: ID!) { customer(id: $id) { name owner { name } contracts { number } tickets { id } '
             'receivables { openBalance } orders { id } } }')
    tryton.server.stop()
    assert not tryton.server.running()
    try:
        body = tgw.query(query, {"id": customer["id"]})
        node = body["data"]["customer"]
        assert node["name"] == customer["name"] and node["owner"]["name"]  # CRM
        assert node["contracts"] is not None and node["tickets"] is not None  # CLM, DESK
        assert node["receivables"] is None and node["orders"] is None
        erp = [e for e in body["errors"] if e["extensions"].get("source") == "ERP"]
        assert erp and {e["extensions"]["code"] for e in erp} == {"SOURCE_UNAVAILABLE"}
        assert all("admin" not in e["message"] and "Session" not in e["message"] for e in body["errors"])
    finally:
        tryton.restart()
    body = tgw.query(query, {"id": customer["id"]})  # back: the same session works again
    assert not body.get("errors"), body["errors"]
    assert body["data"]["customer"]["receivables"] is not None


# --- the client without a server: post_json, session, errors, typed values ---------------------


def fake_backend(handler) -> Any:
    from sources.http import BackendClient

    client = BackendClient("ERP", "http://tryton.invalid", transport="httpx", retries=2)
    client._client = httpx.AsyncClient(base_url=client.base_url, transport=httpx.MockTransport(handler))
    return client


async def test_post_json_retries_only_when_the_call_is_idempotent():
    from sources.errors import SourceUnavailable

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(503) if len(seen) % 2 else httpx.Response(200, json={"ok": True})

    client = fake_backend(handler)
    assert json.loads(await client.post_json("read", "/db/rpc/", {"n": 1}, idempotent=True)) == {"ok": True}
    assert len(seen) == 2 and seen[0] == {"n": 1}
    with pytest.raises(SourceUnavailable):
        await client.post_json("login", "/db/rpc/", {"n": 2}, idempotent=False)
    assert len(seen) == 3  # no second attempt
    await client.aclose()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_a_refused_connection_is_unavailable_not_a_timeout(transport):
    """httpx-aiohttp reports a refused connection as ConnectTimeout; the gateway must not."""
    from bench.harness import free_port
    from sources.errors import SourceUnavailable
    from sources.http import BackendClient

    client = BackendClient("ERP", f"http://127.0.0.1:{free_port()}", transport=transport, retries=0)
    with pytest.raises(SourceUnavailable):
        await client.post_json("read", "/db/rpc/", {}, idempotent=True)
    await client.aclose()


async def test_post_json_401_is_unauthorized_and_does_not_open_the_circuit():
    from sources.errors import SourceBadResponse, SourceUnauthorized

    client = fake_backend(lambda request: httpx.Response(401))
    for _ in range(8):
        with pytest.raises(SourceUnauthorized) as caught:
            await client.post_json("read", "/db/rpc/", {}, idempotent=True)
    assert isinstance(caught.value, SourceBadResponse) and client.breaker.allow()
    await client.aclose()


class FakeTryton:
    """Just enough of Tryton's JSON-RPC: login, preferences, the company, one search_read."""

    def __init__(self) -> None:
        self.logins = 0
        self.valid: set[str] = set()
        self.refuse_login = False
        self.error: Any = None
        self.calls: list[str] = []
        self.party: dict[str, Any] = {
            "id": 3, "code": "P00001", "name": "Acme", "credit_limit_amount": {"__class__": "Decimal", "decimal": "2500"}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method, params = body["method"], body["params"]
        self.calls.append(method)
        if method == "common.db.login":
            if self.refuse_login or params[1]["password"] != "s3cret":
                return httpx.Response(401)
            self.logins += 1
            token = f"token{self.logins}"
            self.valid = {token}
            return httpx.Response(200, json={"id": body["id"], "result": [7, token, None]})
        user, _, token = base64.b64decode(request.headers["Authorization"].split()[1]).decode().split(":")
        if token not in self.valid or user != "gateway":
            return httpx.Response(401)
        if method == "model.res.user.get_preferences":
            return httpx.Response(200, json={"id": 1, "result": {"company": 1, "companies": [1], "language": "en",
                                                                "actions": [1, 2]}})
        if method == "model.company.company.read":
            return httpx.Response(200, json={"id": 1, "result": [{"id": 1, "currency.": {"id": 1, "code": "EUR"}}]})
        assert params[-1]["company"] == 1 and "actions" not in params[-1]  # the context rides last
        if self.error is not None:
            return httpx.Response(200, json={"id": 1, "error": self.error})
        return httpx.Response(200, json={"id": 1, "result": [self.party]})


def fake_source(tryton: FakeTryton) -> Any:
    from sources.tryton import TrytonSource

    return TrytonSource(fake_backend(tryton), None, database="demo", user="gateway", password="s3cret")


async def test_one_login_a_reused_session_and_a_new_login_after_a_401():
    tryton = FakeTryton()
    source = fake_source(tryton)
    (party,) = await source.parties(["P00001"])
    assert party.credit_limit == Decimal("2500.00") and party.currency == "EUR"
    await source.parties(["P00001"])
    assert tryton.logins == 1
    tryton.valid = set()  # the session expires (or the server restarted without it)
    (party,) = await source.parties(["P00001"])
    assert party.name == "Acme" and tryton.logins == 2
    await source.aclose()


async def test_a_refused_login_backs_off_instead_of_hammering_trytons_rate_limit():
    from sources.errors import SourceUnavailable

    tryton = FakeTryton()
    tryton.refuse_login = True
    source = fake_source(tryton)
    for _ in range(3):
        with pytest.raises(SourceUnavailable) as caught:
            await source.parties(["P00001"])
    assert tryton.calls.count("common.db.login") == 1  # the next two waited out the back-off
    assert "s3cret" not in repr(source.rpc) and "s3cret" not in str(caught.value)
    await source.aclose()


async def test_a_tryton_that_was_down_is_logged_into_as_soon_as_it_is_back():
    from sources.errors import SourceUnavailable

    tryton = FakeTryton()
    down = True

    def handler(request: httpx.Request) -> httpx.Response:
        if down:
            raise httpx.ConnectError("connection refused")
        return tryton(request)

    source = fake_source(tryton)
    source.http._client = httpx.AsyncClient(base_url=source.http.base_url, transport=httpx.MockTransport(handler))
    with pytest.raises(SourceUnavailable):
        await source.parties(["P00001"])
    down = False
    (party,) = await source.parties(["P00001"])  # no back-off: only refused logins wait
    assert party.name == "Acme" and tryton.logins == 1
    await source.aclose()


@pytest.mark.parametrize(("error", "code", "attempts"), [
    (["UserError", ["You are trying to read records that don't exist.", "", None]], "SOURCE_BAD_RESPONSE", 1),
    (["'no_such_field'", ""], "SOURCE_BAD_RESPONSE", 1),
    (["DatabaseOperationalError", ["database is locked"]], "SOURCE_UNAVAILABLE", 2),
])
async def test_tryton_errors_map_onto_the_gateways_codes(error, code, attempts):
    from sources.errors import SourceError

    tryton = FakeTryton()
    tryton.error = error
    source = fake_source(tryton)
    with pytest.raises(SourceError) as caught:
        await source.parties(["P00001"])
    assert caught.value.code == code
    assert tryton.calls.count("model.party.party.search_read") == attempts  # a transient error is tried once more
    await source.aclose()


@pytest.mark.parametrize("field", [
    {"name": 42},
    {"name": ["Acme"]},
    {"credit_limit_amount": {"__class__": "Decimal", "decimal": "NaN"}},
])
async def test_a_tryton_row_that_does_not_fit_its_record_is_a_bad_response(field):
    """Tryton's records are built field by field, not decoded: they are checked all the same."""
    from sources.errors import SourceBadResponse

    tryton = FakeTryton()
    tryton.party.update(field)
    source = fake_source(tryton)
    with pytest.raises(SourceBadResponse) as caught:
        await source.parties(["P00001"])
    assert caught.value.method == "parties"
    await source.aclose()


def test_typed_json_both_ways():
    from sources.tryton import decode, encode

    values = {"d": Decimal("1490.40"), "day": dt.date(2026, 11, 25), "when": dt.datetime(2026, 11, 25, 8, 30),
              "span": dt.timedelta(days=1), "raw": b"\x00\x01", "nested": [[Decimal("1")]]}
    wire = json.dumps(encode(values)).encode()
    assert json.loads(wire)["d"] == {"__class__": "Decimal", "decimal": "1490.40"}
    assert json.loads(wire)["day"] == {"__class__": "date", "year": 2026, "month": 11, "day": 25}
    back = decode(wire)
    assert back["d"] == Decimal("1490.40") and back["day"] == dt.date(2026, 11, 25)
    assert back["span"] == dt.timedelta(days=1) and back["raw"] == b"\x00\x01"
    assert back["when"].replace(tzinfo=None) == values["when"]


def test_settings_select_tryton_and_keep_its_password_secret(monkeypatch):
    from server.wiring import build_backends
    from server.settings import Settings
    from sources.tryton import TrytonSource

    monkeypatch.setenv("ISTHMUS_ERP_KIND", "tryton")
    monkeypatch.setenv("ISTHMUS_TRYTON__PASSWORD", "hunter2-secret")
    monkeypatch.setenv("ISTHMUS_TRYTON__URL", "http://127.0.0.1:8010")
    settings = Settings.load(None)
    assert settings.erp_kind == "tryton"
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in settings.model_dump_json()
    backends = build_backends(settings)
    assert isinstance(backends.erp, TrytonSource) and "hunter2-secret" not in repr(backends.erp.rpc)
    asyncio.run(backends.aclose())


def test_only_an_unreachable_package_index_makes_the_install_impossible():
    from demo.tryton.runtime import _looks_offline

    assert _looks_offline("ERROR: Could not find a version that satisfies the requirement trytond==8.2.* "
                          "(from versions: none)")
    assert _looks_offline("WARNING: Retrying ... NewConnectionError('Failed to establish a new connection')")
    assert not _looks_offline("ERROR: Could not find a version that satisfies the requirement trytond==8.2.* "
                              "(from versions: 7.0.1, 7.4.2)")
    assert not _looks_offline("error: subprocess-exited-with-error: building wheel for lxml failed")


# --- writes: an order placed through the gateway is a sale in Tryton (last: it adds a sale) -----

PLACE = """mutation Place($input: PlaceOrderInput!, $key: String!) {
  placeOrder(input: $input, idempotencyKey: $key) { status order { id status total lines { sku quantity unitPrice } }
    approval { level } steps { name done errorCode } }
}"""
APPROVE = "mutation($id: ID!, $key: String!) { approveOrder(orderId: $id, idempotencyKey: $key) { status order { status } } }"


def test_an_order_placed_through_the_gateway_is_a_sale_in_tryton_with_its_lines(tgw, seeded, truth):
    promisable = [sku for sku in ("SKU-0001", "SKU-0002", "SKU-0003", "SKU-0004", "SKU-0005")
                  if tgw.query('query($s: ID!) { atp(sku: $s, quantity: "2") { canPromise } }', {"s": sku})
                  ["data"]["atp"]["canPromise"]][:2]
    assert promisable, "no product in stock in the seeded Tryton"
    lines = [{"sku": sku, "quantity": "2", "unitPrice": f"{250 + 10 * i}.50"} for i, sku in enumerate(promisable)]
    customer = seeded[3]
    variables = {"input": {"customerId": customer["id"], "lines": lines}, "key": "tryton-write-1"}
    body = tgw.query(PLACE, variables)
    assert not body.get("errors"), body
    placed = body["data"]["placeOrder"]
    if placed["status"] == "PENDING_APPROVAL":  # the rules asked for approval: the sale waits as a quotation
        sale_id = int(placed["order"]["id"])
        (waiting,) = truth.read("sale.sale", [["id", "=", sale_id]], ["state"])
        assert waiting["state"] == "quotation"
        approved = tgw.query(APPROVE, {"id": placed["order"]["id"], "key": "tryton-approve-1"})
        assert not approved.get("errors"), approved
        assert approved["data"]["approveOrder"]["order"]["status"] in ("CONFIRMED", "PROCESSING")
    else:
        assert placed["status"] == "PLACED", body
    (sale,) = truth.read("sale.sale", [["id", "=", int(placed["order"]["id"])]],
                         ["state", "party.code", "untaxed_amount", "lines.product.code", "lines.quantity",
                          "lines.unit_price"])
    assert sale["state"] in ("confirmed", "processing")
    assert sale["party."]["code"] == customer["refs"]["erp"]
    assert sorted((line["product."]["code"], q(line["quantity"]), line["unit_price"]) for line in sale["lines."]) == sorted(
        (line["sku"], Decimal(line["quantity"]), Decimal(line["unitPrice"])) for line in lines
    )
    assert sale["untaxed_amount"] == sum(Decimal(line["quantity"]) * Decimal(line["unitPrice"]) for line in lines)
    # the same key again: the same sale, and no other (a sale made through the gateway carries its step's key)
    again = tgw.query(PLACE, variables)
    assert again["data"]["placeOrder"]["order"]["id"] == placed["order"]["id"]
    made = truth.read("sale.sale", [["comment", "like", "%isthmus-idempotency-key: %"],
                                    ["party.code", "=", customer["refs"]["erp"]]], ["id"])
    assert [row["id"] for row in made] == [int(placed["order"]["id"])]
