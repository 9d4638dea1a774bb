"""ERP: parties and credit limits, products, BOMs, warehouses, stock and receipts,
sales orders with lines, shipments, invoices, payments, open receivable items, stock movements.

Writes: `POST /orders` creates a sales order (CONFIRMED, or DRAFT with an approval request
when a rule needs one) and `POST /orders/{id}/confirm` confirms an approved draft; both take
an `Idempotency-Key`. The ERP prices the lines itself from the quantities and unit prices
sent: amounts, its own tax rates, totals.

Change events (demo/webhooks.py): `order.created` and `order.status_changed` after those writes;
`POST /_events` makes changes on demand and announces them: `invoice_overdue` (an invoice's due
date moved `days` into the past), `payment` (a payment of `amount`, by default what is open,
settling the invoice and its order's paid figures), `order_status` (an order moved to `status`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import orjson
from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from demo.common import (
    IN_KEYS,
    Idempotency,
    announce,
    cents,
    invalid,
    json_response,
    key_param,
    keys,
    money,
    next_id,
    now_instant,
    one_selector,
    rate,
    system_app,
)
from demo.generate import line_tax
from demo.worklist import Filter, List, Summary

# --- worklists: filtered, sorted, counted lists with keyset paging (demo/worklist.py) ---------

IN = "IN (SELECT value FROM json_each({v}))"
OPEN_INVOICE = "t.status IN ('OPEN', 'PARTIALLY_PAID')"
OPEN_AMOUNT = f"(CASE WHEN {OPEN_INVOICE} THEN t.amount - t.paid_amount ELSE 0 END)"
OVERDUE = f"({OPEN_INVOICE} AND t.amount - t.paid_amount > 0 AND t.due_date < :today)"
DAYS_OVERDUE = f"(CASE WHEN {OVERDUE} THEN CAST(julianday(:today) - julianday(t.due_date) AS INTEGER) ELSE 0 END)"
AGING = (f"(CASE WHEN {OPEN_AMOUNT} = 0 THEN 'closed' WHEN {DAYS_OVERDUE} = 0 THEN 'current' "
         f"WHEN {DAYS_OVERDUE} <= 30 THEN 'd1to30' WHEN {DAYS_OVERDUE} <= 60 THEN 'd31to60' "
         f"WHEN {DAYS_OVERDUE} <= 90 THEN 'd61to90' ELSE 'over90' END)")
RECENT = "(t.issued_at >= date(:today, '-90 days') AND t.issued_at < :today)"
INVOICE_STATUSES = ("OPEN", "PARTIALLY_PAID", "PAID", "CANCELLED")
ORDER_STATUSES = ("DRAFT", "CONFIRMED", "PROCESSING", "SHIPPED", "DONE", "CANCELLED")

INVOICES = List(
    kind="invoices",
    table="invoices",
    filters={
        "party": Filter(f"t.party_code {IN}"),
        "order": Filter(f"t.order_id {IN}"),
        "status": Filter(f"t.status {IN}", "enum", INVOICE_STATUSES),
        "overdue": Filter(OVERDUE, "bool"),
        "min_days_overdue": Filter(f"{DAYS_OVERDUE} >= {{v}}", "int"),
        "max_days_overdue": Filter(f"{DAYS_OVERDUE} <= {{v}}", "int"),
        "due_from": Filter("t.due_date >= {v}", "date"),
        "due_to": Filter("t.due_date <= {v}", "date"),
        "issued_from": Filter("t.issued_at >= {v}", "date"),
        "issued_to": Filter("t.issued_at <= {v}", "date"),
        "min_amount": Filter("t.amount >= {v}", "money"),
        "max_amount": Filter("t.amount <= {v}", "money"),
        "min_open": Filter(f"{OPEN_AMOUNT} >= {{v}}", "money"),
        "max_open": Filter(f"{OPEN_AMOUNT} <= {{v}}", "money"),
    },
    sorts={
        "due_date": "coalesce(t.due_date, '')",
        "issued_at": "coalesce(t.issued_at, '')",
        "amount": "t.amount",
        "open_amount": OPEN_AMOUNT,
        "days_overdue": DAYS_OVERDUE,
        "number": "t.number",
    },
    default_sort="-issued_at",
    per={"party": "t.party_code", "order": "t.order_id"},
    summary=Summary(
        sums={"amount": "t.amount", "open": OPEN_AMOUNT, "overdue": f"(CASE WHEN {OVERDUE} THEN {OPEN_AMOUNT} ELSE 0 END)"},
        groups={"aging": AGING, "status": "t.status"},
        amount=OPEN_AMOUNT,
        # DSO: what is open now / what was billed in the last 90 days x 90 (null without billing).
        metrics={"dso": f"CASE WHEN sum(CASE WHEN {RECENT} THEN t.amount ELSE 0 END) > 0 THEN round(sum({OPEN_AMOUNT}) "
                        f"* 90.0 / sum(CASE WHEN {RECENT} THEN t.amount ELSE 0 END), 1) END"},
    ),
)

LAST_SHIPPED = "(SELECT max(substr(s.shipped_at, 1, 10)) FROM shipments s WHERE s.order_id = t.id)"
DELIVERED = "(t.status IN ('SHIPPED', 'DONE') AND t.promised_date IS NOT NULL)"
ORDERS = List(
    kind="orders",
    table="orders",
    filters={
        "party": Filter(f"t.party_code {IN}"),
        "contract": Filter(f"t.contract_number {IN}"),
        "status": Filter(f"t.status {IN}", "enum", ORDER_STATUSES),
        "ordered_from": Filter("substr(t.ordered_at, 1, 10) >= {v}", "date"),
        "ordered_to": Filter("substr(t.ordered_at, 1, 10) <= {v}", "date"),
        "promised_from": Filter("t.promised_date >= {v}", "date"),
        "promised_to": Filter("t.promised_date <= {v}", "date"),
        "min_total": Filter("t.total >= {v}", "money"),
        "max_total": Filter("t.total <= {v}", "money"),
        "late": Filter("(t.status IN ('CONFIRMED', 'PROCESSING') AND t.promised_date < :today)", "bool"),
    },
    sorts={
        "ordered_at": "coalesce(t.ordered_at, '')",
        "promised_date": "coalesce(t.promised_date, '')",
        "total": "t.total",
        "number": "t.number",
    },
    default_sort="-ordered_at",
    per={"party": "t.party_code", "contract": "t.contract_number"},
    summary=Summary(
        sums={"total": "t.total", "uninvoiced": "max(0, t.total - t.invoiced_amount)"},
        groups={"status": "t.status"},
        amount="t.total",
        # On-time delivery: delivered (SHIPPED or DONE with a promised date) whose last shipment left
        # by the promised date, over all delivered.
        metrics={
            "delivered": f"sum(CASE WHEN {DELIVERED} THEN 1 ELSE 0 END)",
            "on_time": f"sum(CASE WHEN {DELIVERED} AND {LAST_SHIPPED} <= t.promised_date THEN 1 ELSE 0 END)",
        },
    ),
)

# A party's credit used, gross: open invoices + open items + the uninvoiced part (tax included) of
# confirmed, processing and shipped orders; what the gateway's receivables compute. One grouped
# pass over each table, not three look-ups per party.
PARTY_CREDIT = """(SELECT p.rowid AS rowid, p.code AS id, p.code AS code, p.credit_limit AS credit_limit,
    coalesce(i.open, 0) + coalesce(o.open, 0) + coalesce(r.uninvoiced, 0) AS credit_used
  FROM parties p
  LEFT JOIN (SELECT party_code, sum(amount - paid_amount) AS open FROM invoices
             WHERE status IN ('OPEN', 'PARTIALLY_PAID') GROUP BY party_code) i ON i.party_code = p.code
  LEFT JOIN (SELECT party_code, sum(amount) AS open FROM open_items GROUP BY party_code) o ON o.party_code = p.code
  LEFT JOIN (SELECT party_code, sum(max(0, (total + tax_amount) - (invoiced_amount + invoiced_tax_amount))) AS uninvoiced
             FROM orders WHERE status IN ('CONFIRMED', 'PROCESSING', 'SHIPPED') GROUP BY party_code) r
    ON r.party_code = p.code)"""
PARTIES = List(
    kind="parties",
    table=PARTY_CREDIT,
    filters={
        "party": Filter(f"t.code {IN}"),
        "credit_exceeded": Filter("(t.credit_limit IS NOT NULL AND t.credit_used > t.credit_limit)", "bool"),
        "overdue": Filter(
            "(EXISTS (SELECT 1 FROM invoices i WHERE i.party_code = t.code AND i.status IN ('OPEN', 'PARTIALLY_PAID') "
            "AND i.amount - i.paid_amount > 0 AND i.due_date < :today) OR EXISTS (SELECT 1 FROM open_items o "
            "WHERE o.party_code = t.code AND o.amount > 0 AND o.due_date < :today))",
            "bool",
        ),
    },
    sorts={"code": "t.code"},
    default_sort="code",
)

DOCUMENTS = {
    "parties": f"""SELECT rowid, json_object('code', code, 'name', name, 'credit_limit', {money('credit_limit')},
        'currency', currency, 'payment_terms', payment_terms) FROM parties""",
    "products": f"""SELECT rowid, json_object('sku', sku, 'name', name, 'name_local', name_local, 'uom', uom,
        'list_price', {money('list_price')}, 'standard_cost', {money('standard_cost')},
        'assembly_cost', {money('assembly_cost')}, 'currency', currency, 'kind', kind,
        'tax_category', tax_category, 'tax_rate', {rate('tax_rate')}) FROM products""",
    "boms": f"""SELECT rowid, json_object('parent_sku', parent_sku, 'component_sku', component_sku,
        'quantity', {money('quantity')}) FROM bom_lines""",
    "warehouses": "SELECT rowid, json_object('id', id, 'name', name, 'region', region) FROM warehouses",
    "orders": f"""SELECT o.rowid, json_object(
        'id', o.id, 'number', o.number, 'party_code', o.party_code, 'contract_number', o.contract_number,
        'status', o.status, 'ordered_at', o.ordered_at, 'promised_date', o.promised_date,
        'warehouse', o.warehouse, 'currency', o.currency, 'total', {money('o.total')},
        'shipped_amount', {money('o.shipped_amount')}, 'invoiced_amount', {money('o.invoiced_amount')},
        'paid_amount', {money('o.paid_amount')}, 'tax_amount', {money('o.tax_amount')},
        'invoiced_tax_amount', {money('o.invoiced_tax_amount')}, 'paid_tax_amount', {money('o.paid_tax_amount')},
        'lines', (SELECT json_group_array(json(line)) FROM (
            SELECT json_object('line_no', l.line_no, 'sku', l.sku, 'quantity', {money('l.quantity')},
                'shipped_quantity', {money('l.shipped_quantity')}, 'unit_price', {money('l.unit_price')},
                'amount', {money('l.amount')}, 'unit_cost', {money('l.unit_cost')},
                'tax_rate', {rate('l.tax_rate')}, 'tax_amount', {money('l.tax_amount')}) AS line
            FROM order_lines l WHERE l.order_id = o.id ORDER BY l.line_no)))
        FROM orders o""",
    "shipments": f"""SELECT s.rowid, json_object(
        'id', s.id, 'order_id', s.order_id, 'shipped_at', s.shipped_at, 'warehouse', s.warehouse,
        'lines', (SELECT json_group_array(json_object('sku', p.sku, 'quantity', {money('p.quantity')}))
                  FROM shipment_lines p WHERE p.shipment_id = s.id))
        FROM shipments s""",
    "invoices": f"""SELECT rowid, json_object(
        'id', id, 'number', number, 'party_code', party_code, 'order_id', order_id, 'issued_at', issued_at,
        'due_date', due_date, 'amount', {money('amount')}, 'paid_amount', {money('paid_amount')},
        'status', status, 'currency', currency, 'net_amount', {money('net_amount')},
        'tax_amount', {money('tax_amount')}) FROM invoices""",
    "payments": f"""SELECT rowid, json_object('id', id, 'invoice_id', invoice_id, 'paid_at', paid_at,
        'amount', {money('amount')}) FROM payments""",
    "stock_moves": f"""SELECT rowid, json_object('id', id, 'sku', sku, 'warehouse', warehouse, 'date', date,
        'kind', kind, 'quantity', {money('quantity')}, 'document', document) FROM stock_moves""",
    "open_items": f"""SELECT rowid, json_object('id', id, 'party_code', party_code, 'date', date, 'due_date', due_date,
        'amount', {money('amount')}, 'description', description, 'currency', currency) FROM open_items""",
}

# Stock without `allocated`, which is never cached: see OPEN_DEMAND.
STOCK_STATIC = f"""SELECT json_object(
    'sku', s.sku, 'warehouse', s.warehouse, 'on_hand', {money('s.on_hand')},
    'receipts', (SELECT json_group_array(json(receipt)) FROM (
        SELECT json_object('id', r.id, 'kind', r.kind, 'expected_date', r.expected_date,
                           'quantity', {money('r.quantity')}, 'document', r.document) AS receipt
        FROM receipts r WHERE r.sku = s.sku AND r.warehouse = s.warehouse ORDER BY r.expected_date, r.id)))
    FROM stock s ORDER BY s.sku, s.warehouse"""

# Allocated is summed from the open order lines at request time, so it cannot drift from them.
# The plan starts from the few open orders (covering indexes on both tables); `+l.sku` keeps
# SQLite from probing every order once per wanted SKU.
OPEN_DEMAND = f"""
SELECT l.sku, o.warehouse, {money('SUM(l.quantity - l.shipped_quantity)')}
FROM orders o CROSS JOIN order_lines l ON l.order_id = o.id
WHERE o.status IN ('CONFIRMED', 'PROCESSING') AND +l.sku IN (SELECT value FROM json_each(?))
GROUP BY l.sku, o.warehouse"""

ORDER_KEY = {"party": "party_code", "ids": "id", "contract": "contract_number"}
INVOICE_KEY = {"party": "party_code", "order": "order_id", "ids": "id"}

# Approval requests of draft orders: not in the generated world, so made empty at start.
APPROVALS = """CREATE TABLE order_approvals (order_id TEXT PRIMARY KEY, level TEXT, reasons TEXT,
    requested_by TEXT, requested_at TEXT, status TEXT, decided_by TEXT, decided_at TEXT)"""
APPROVAL_DOCUMENT = """SELECT json_object('order_id', order_id, 'level', level, 'reasons', json(reasons),
    'requested_by', requested_by, 'requested_at', requested_at, 'status', status, 'decided_by', decided_by,
    'decided_at', decided_at) FROM order_approvals"""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewLine(Body):
    sku: str = Field(min_length=1)
    quantity: str
    unit_price: str


class ApprovalRequest(Body):
    level: str = Field(min_length=1)
    reasons: list[str]
    requested_by: str = Field(min_length=1)


class NewOrder(Body):
    party_code: str = Field(min_length=1)
    status: Literal["CONFIRMED", "DRAFT"] = "CONFIRMED"
    warehouse: str | None = None
    contract_number: str | None = None
    promised_date: date | None = None
    lines: list[NewLine] = Field(min_length=1, max_length=200)
    approval: ApprovalRequest | None = None


class Confirmation(Body):
    approved_by: str = Field(min_length=1)


class Change(Body):
    """A change `/_events` makes and announces; `wait`: answer once the gateway has the event."""

    action: Literal["invoice_overdue", "payment", "order_status"]
    invoice_id: str | None = None
    order_id: str | None = None
    days: int = Field(1, ge=1)
    amount: str | None = None
    status: Literal["DRAFT", "CONFIRMED", "PROCESSING", "SHIPPED", "DONE", "CANCELLED"] | None = None
    wait: bool = True


def order_event(db, order_id: str) -> dict:
    """What an order event tells: the order, its party and contract, its status and SKUs."""
    party, contract, status = db.con.execute(
        "SELECT party_code, contract_number, status FROM orders WHERE id = ?", (order_id,)).fetchone()
    skus = [sku for (sku,) in db.con.execute("SELECT DISTINCT sku FROM order_lines WHERE order_id = ? ORDER BY sku",
                                             (order_id,))]
    return {"order_id": order_id, "party_code": party, "contract_number": contract, "status": status, "skus": skus}


def create_app(data_dir=None, faults: dict | None = None, events: tuple[str, str] | None = None) -> FastAPI:
    app, db = system_app("erp", __doc__, DOCUMENTS, data_dir, faults, writable=True, events=events)
    outbox = app.state.outbox
    db.con.execute(APPROVALS)
    idempotency = Idempotency()
    stock_by_sku: dict[str, list[dict]] = {}
    for (doc,) in db.con.execute(STOCK_STATIC):
        row = orjson.loads(doc)
        stock_by_sku.setdefault(row["sku"], []).append(row)

    @app.get("/parties")
    async def parties(codes: str):
        return db.items("parties", f"SELECT rowid FROM parties WHERE code {IN_KEYS} ORDER BY code",
                        key_param(keys(codes)))

    @app.get("/products")
    async def products(skus: str | None = None):
        """Products by SKU; all of them without `skus`."""
        if skus is None:
            return db.items("products", "SELECT rowid FROM products ORDER BY sku")
        return db.items("products", f"SELECT rowid FROM products WHERE sku {IN_KEYS} ORDER BY sku",
                        key_param(keys(skus)))

    @app.get("/boms")
    async def boms(skus: str):
        """Single-level BOM lines of the given parents; walk down for the multi-level structure."""
        return db.items("boms", f"SELECT rowid FROM bom_lines WHERE parent_sku {IN_KEYS} "
                        "ORDER BY parent_sku, component_sku", key_param(keys(skus)))

    @app.get("/warehouses")
    async def warehouses():
        return db.items("warehouses", "SELECT rowid FROM warehouses ORDER BY id")

    @app.get("/stock")
    async def stock(skus: str | None = None):
        """One row per SKU and warehouse, in the order of `skus`; all SKUs without `skus`."""
        wanted = list(stock_by_sku) if skus is None else keys(skus)
        demand = {(sku, warehouse): allocated
                  for sku, warehouse, allocated in db.con.execute(OPEN_DEMAND, (key_param(wanted),))}
        return json_response({"items": [{**row, "allocated": demand.get((sku, row["warehouse"]), "0.00")}
                                        for sku in wanted for row in stock_by_sku.get(sku, ())]})

    @app.get("/orders")
    async def orders(party: str | None = None, ids: str | None = None, contract: str | None = None):
        """Orders with lines embedded, newest first. Give exactly one of party, ids, contract."""
        name, wanted = one_selector(party=party, ids=ids, contract=contract)
        return db.items("orders", f"SELECT rowid FROM orders WHERE {ORDER_KEY[name]} {IN_KEYS} "
                        "ORDER BY ordered_at DESC, id DESC", key_param(wanted))

    @app.get("/invoices/search")
    async def search_invoices(request: Request):
        """Invoices by filters, sorted, counted and paged by keyset (see demo/worklist.py): `party`, `order`,
        `status`, `overdue`, `min_days_overdue`, `max_days_overdue`, `due_from`, `due_to`, `issued_from`,
        `issued_to`, `min_amount`, `max_amount`, `min_open`, `max_open`; `sort` one of due_date, issued_at,
        amount, open_amount, days_overdue, number ('-' first: descending); `after`, `limit`, `today`, `summary`."""
        if "per" in request.query_params:
            return INVOICES.grouped(db, request.query_params)
        return INVOICES.answer(db, request.query_params)

    @app.get("/orders/search")
    async def search_orders(request: Request):
        """Orders by filters, sorted, counted and paged by keyset: `party`, `contract`, `status`, `ordered_from`,
        `ordered_to`, `promised_from`, `promised_to`, `min_total`, `max_total`, `late`; `sort` one of
        ordered_at, promised_date, total, number; `after`, `limit`, `today`, `summary`."""
        if "per" in request.query_params:
            return ORDERS.grouped(db, request.query_params)
        return ORDERS.answer(db, request.query_params)

    @app.get("/parties/keys")
    async def party_keys(request: Request):
        """`{"keys": [...]}`: the codes of the parties (of `party`, if given) with `overdue` receivables
        (an open invoice or open item past due on `today`) or `credit_exceeded` (credit used, gross, above the limit)."""
        return PARTIES.distinct(db, "t.code", request.query_params)

    @app.get("/shipments")
    async def shipments(order: str):
        return db.items("shipments", f"SELECT rowid FROM shipments WHERE order_id {IN_KEYS} ORDER BY shipped_at, id",
                        key_param(keys(order)))

    @app.get("/invoices")
    async def invoices(party: str | None = None, order: str | None = None, ids: str | None = None,
                       open_only: bool = Query(False, description="only OPEN and PARTIALLY_PAID")):
        """Invoices, newest first. Give exactly one of party, order, ids."""
        name, wanted = one_selector(party=party, order=order, ids=ids)
        status = "AND status IN ('OPEN', 'PARTIALLY_PAID')" if open_only else ""
        return db.items("invoices", f"SELECT rowid FROM invoices WHERE {INVOICE_KEY[name]} {IN_KEYS} {status} "
                        "ORDER BY issued_at DESC, id DESC", key_param(wanted))

    @app.get("/open_items")
    async def open_items(party: str):
        """Open receivable entries without an invoice (opening balances +, unapplied payments -), oldest first."""
        return db.items("open_items", f"SELECT rowid FROM open_items WHERE party_code {IN_KEYS} ORDER BY date, id",
                        key_param(keys(party)))

    @app.get("/stock_moves")
    async def stock_moves(skus: str, since: str | None = Query(None, description="YYYY-MM-DD: moves on or after")):
        """Stock movements of the given SKUs (issues negative, receipts positive), oldest first."""
        return db.items("stock_moves", f"SELECT rowid FROM stock_moves WHERE sku {IN_KEYS} AND date >= ? "
                        "ORDER BY date, id", key_param(keys(skus)), since or "")

    @app.get("/stock_moves/last_issue")
    async def last_issues(skus: str | None = None):
        """Per SKU and warehouse holding stock, the day of its last issue (null: none in the history);
        every SKU without `skus`."""
        wanted = list(stock_by_sku) if skus is None else keys(skus)
        last = {(sku, warehouse): day for sku, warehouse, day in db.con.execute(
            f"SELECT sku, warehouse, MAX(date) FROM stock_moves WHERE kind = 'ISSUE' AND sku {IN_KEYS} "
            "GROUP BY sku, warehouse", (key_param(wanted),))}
        return json_response({"items": [
            {"sku": sku, "warehouse": row["warehouse"], "last_issue_date": last.get((sku, row["warehouse"]))}
            for sku in wanted for row in stock_by_sku.get(sku, ())]})

    @app.get("/payments")
    async def payments(invoice: str):
        return db.items("payments", f"SELECT rowid FROM payments WHERE invoice_id {IN_KEYS} ORDER BY paid_at, id",
                        key_param(keys(invoice)))

    @app.get("/approvals")
    async def approvals(orders: str):
        """The approval requests of these orders (a draft waiting for approval, or one decided)."""
        rows = db.con.execute(f"{APPROVAL_DOCUMENT} WHERE order_id {IN_KEYS} ORDER BY order_id",
                              (key_param(keys(orders)),))
        return json_response({"items": [orjson.loads(doc) for (doc,) in rows]})

    @app.post("/orders", status_code=201)
    async def create_order(order: NewOrder, request: Request):
        """A sales order from lines of SKU, quantity and unit price (EUR); the ERP works out amounts and tax.
        DRAFT needs an `approval` request and reserves no stock until it is confirmed."""
        payload = order.model_dump(mode="json")
        replayed = idempotency.replay(request, payload)
        if replayed is not None:
            return replayed
        if (order.status == "DRAFT") != (order.approval is not None):
            raise invalid("approval", "a DRAFT order needs an approval request, a CONFIRMED one none")
        if db.scalar("SELECT count(*) FROM parties WHERE code = ?", order.party_code) == 0:
            raise invalid("party_code", f"unknown party {order.party_code!r}")
        if order.warehouse is not None and db.scalar("SELECT count(*) FROM warehouses WHERE id = ?", order.warehouse) == 0:
            raise invalid("warehouse", f"unknown warehouse {order.warehouse!r}")
        lines = []
        for index, line in enumerate(order.lines):
            product = db.con.execute("SELECT standard_cost, tax_rate FROM products WHERE sku = ?", (line.sku,)).fetchone()
            if product is None:
                raise invalid(f"lines.{index}.sku", f"unknown product {line.sku!r}")
            quantity = cents(line.quantity, f"lines.{index}.quantity")
            unit_price = cents(line.unit_price, f"lines.{index}.unit_price")
            amount = (quantity * unit_price + 50) // 100
            lines.append((line.sku, quantity, unit_price, amount, product[0], product[1], line_tax(amount, product[1])))
        # Without a warehouse the ERP ships from the one holding most of the first line's product.
        warehouse = order.warehouse or db.scalar(
            "SELECT warehouse FROM stock WHERE sku = ? ORDER BY on_hand DESC, warehouse LIMIT 1", order.lines[0].sku)
        order_id = next_id(db, "orders", "O", 6)
        number = f"SO-{date.today().year}-{order_id[1:]}"
        with db.con:
            cursor = db.con.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'EUR', ?, 0, 0, 0, ?, 0, 0)",
                (order_id, number, order.party_code, order.contract_number, order.status, now_instant(),
                 order.promised_date.isoformat() if order.promised_date else None, warehouse,
                 sum(line[3] for line in lines), sum(line[6] for line in lines)))
            rowid = cursor.lastrowid
            db.con.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                               [(order_id, n, *line) for n, line in enumerate(lines, start=1)])
            if order.approval is not None:
                db.con.execute("INSERT INTO order_approvals VALUES (?, ?, ?, ?, ?, 'PENDING', NULL, NULL)",
                               (order_id, order.approval.level, orjson.dumps(order.approval.reasons).decode(),
                                order.approval.requested_by, now_instant()))
        db.render("orders", [rowid])
        outbox.emit("order.created", order_event(db, order_id))
        return idempotency.remember(request, payload, 201, db.document("orders", rowid))

    @app.post("/orders/{order_id}/confirm")
    async def confirm_order(order_id: str, confirmation: Confirmation, request: Request):
        """Confirm a DRAFT order whose approval is pending: it is approved by `approved_by`.
        Confirming it again answers the order as it is; an order without a pending approval is 409."""
        payload = {"order": order_id, **confirmation.model_dump(mode="json")}
        replayed = idempotency.replay(request, payload)
        if replayed is not None:
            return replayed
        found = db.con.execute("SELECT o.rowid, o.status, a.status FROM orders o LEFT JOIN order_approvals a "
                               "ON a.order_id = o.id WHERE o.id = ?", (order_id,)).fetchone()
        if found is None:
            raise HTTPException(404, f"no order {order_id!r}")
        rowid, status, approval = found
        if approval == "APPROVED":
            return idempotency.remember(request, payload, 200, db.document("orders", rowid))
        if status != "DRAFT" or approval != "PENDING":
            raise HTTPException(409, f"order {order_id!r} is {status} with no pending approval")
        with db.con:
            db.con.execute("UPDATE orders SET status = 'CONFIRMED' WHERE id = ?", (order_id,))
            db.con.execute("UPDATE order_approvals SET status = 'APPROVED', decided_by = ?, decided_at = ? "
                           "WHERE order_id = ?", (confirmation.approved_by, now_instant(), order_id))
        db.render("orders", [rowid])
        outbox.emit("order.status_changed", order_event(db, order_id))
        return idempotency.remember(request, payload, 200, db.document("orders", rowid))

    @app.post("/_events", tags=["control"])
    async def change(change: Change):
        """Make a change and announce it to the gateway (see the module's docstring)."""
        if change.action == "order_status":
            if change.order_id is None or change.status is None:
                raise invalid("order_id", "order_status needs order_id and status")
            row = db.con.execute("SELECT rowid FROM orders WHERE id = ?", (change.order_id,)).fetchone()
            if row is None:
                raise HTTPException(404, f"no order {change.order_id!r}")
            with db.con:
                db.con.execute("UPDATE orders SET status = ? WHERE id = ?", (change.status, change.order_id))
            db.render("orders", [row[0]])
            return json_response(await announce(outbox, "order.status_changed", order_event(db, change.order_id),
                                                wait=change.wait))
        if change.invoice_id is None:
            raise invalid("invoice_id", f"{change.action} needs invoice_id")
        found = db.con.execute("SELECT rowid, party_code, order_id, amount, paid_amount, status FROM invoices "
                               "WHERE id = ?", (change.invoice_id,)).fetchone()
        if found is None:
            raise HTTPException(404, f"no invoice {change.invoice_id!r}")
        rowid, party, order_id, amount, paid, status = found
        data = {"invoice_id": change.invoice_id, "party_code": party, "order_id": order_id}
        if change.action == "invoice_overdue":
            due = date.fromordinal(date.today().toordinal() - change.days).isoformat()
            with db.con:
                db.con.execute("UPDATE invoices SET due_date = ? WHERE id = ?", (due, change.invoice_id))
            db.render("invoices", [rowid])
            return json_response(await announce(outbox, "invoice.overdue", {**data, "due_date": due},
                                                wait=change.wait))
        if status in ("PAID", "CANCELLED"):
            raise HTTPException(409, f"invoice {change.invoice_id!r} is {status}")
        paying = cents(change.amount, "amount") if change.amount is not None else amount - paid
        if paying > amount - paid:
            raise invalid("amount", f"more than the {amount - paid} cents open")
        payment_id = next_id(db, "payments", "PM", 6)
        with db.con:
            payment_row = db.con.execute("INSERT INTO payments VALUES (?, ?, ?, ?)",
                                         (payment_id, change.invoice_id, now_instant(), paying)).lastrowid
            settled = paid + paying == amount
            db.con.execute("UPDATE invoices SET paid_amount = ?, status = ? WHERE id = ?",
                           (paid + paying, "PAID" if settled else "PARTIALLY_PAID", change.invoice_id))
            order_row = settle_order(db, order_id)
        db.render("invoices", [rowid])
        db.render("payments", [payment_row])
        if order_row is not None:
            db.render("orders", [order_row])
        return json_response(await announce(outbox, "payment.received", {**data, "payment_id": payment_id,
                                                                          "amount": f"{paying / 100:.2f}"},
                                            wait=change.wait))

    return app


def settle_order(db, order_id: str | None) -> int | None:
    """An order's paid figures again from its invoices: net paid is each invoice's paid share of its net,
    half up, as the generator computes it; the rest of what was paid is tax. The order's rowid."""
    if order_id is None:
        return None
    paid_net = paid_tax = 0
    for amount, paid, net in db.con.execute("SELECT amount, paid_amount, net_amount FROM invoices "
                                            "WHERE order_id = ? AND status != 'CANCELLED'", (order_id,)):
        share = (2 * net * paid + amount) // (2 * amount) if amount else 0
        paid_net += share
        paid_tax += paid - share
    db.con.execute("UPDATE orders SET paid_amount = ?, paid_tax_amount = ? WHERE id = ?", (paid_net, paid_tax, order_id))
    row = db.con.execute("SELECT rowid FROM orders WHERE id = ?", (order_id,)).fetchone()
    return row[0] if row else None
