"""SRM (procurement platform): suppliers and what they sell, purchase requisitions, purchase orders with
lines (promised and latest confirmed dates, received quantity), receipts with incoming inspection,
supplier invoices and payments, budgets per category."""

from __future__ import annotations

from fastapi import FastAPI, Query

from demo.common import IN_KEYS, key_param, keys, money, one_selector, system_app

DOCUMENTS = {
    "suppliers": """SELECT rowid, json_object('code', code, 'name', name, 'tax_id', tax_id, 'clm_ref', clm_ref,
        'currency', currency, 'payment_terms', payment_terms) FROM suppliers""",
    "supplier_items": f"""SELECT rowid, json_object('supplier_code', supplier_code, 'sku', sku, 'category', category,
        'unit_price', {money('unit_price')}, 'lead_time_days', lead_time_days, 'preferred', json(CASE preferred
        WHEN 1 THEN 'true' ELSE 'false' END)) FROM supplier_items""",
    "requisitions": f"""SELECT rowid, json_object('id', id, 'sku', sku, 'warehouse', warehouse,
        'quantity', {money('quantity')}, 'needed_by', needed_by, 'status', status, 'po_number', po_number)
        FROM requisitions""",
    "purchase_orders": f"""SELECT o.rowid, json_object(
        'number', o.number, 'supplier_code', o.supplier_code, 'contract_number', o.contract_number,
        'status', o.status, 'ordered_at', o.ordered_at, 'currency', o.currency,
        'lines', (SELECT json_group_array(json(line)) FROM (
            SELECT json_object('line_no', l.line_no, 'sku', l.sku, 'category', l.category, 'warehouse', l.warehouse,
                'quantity', {money('l.quantity')}, 'unit_price', {money('l.unit_price')},
                'promised_date', l.promised_date, 'confirmed_date', l.confirmed_date,
                'received_quantity', {money('l.received_quantity')}) AS line
            FROM po_lines l WHERE l.po_number = o.number ORDER BY l.line_no)))
        FROM purchase_orders o""",
    "receipts": f"""SELECT rowid, json_object('id', id, 'po_number', po_number, 'line_no', line_no,
        'supplier_code', supplier_code, 'sku', sku, 'received_at', received_at, 'quantity', {money('quantity')},
        'accepted_quantity', {money('accepted_quantity')}, 'rejected_quantity', {money('rejected_quantity')},
        'defect_codes', json(defect_codes)) FROM receipts""",
    "invoices": f"""SELECT rowid, json_object('id', id, 'number', number, 'supplier_code', supplier_code,
        'po_number', po_number, 'issued_at', issued_at, 'due_date', due_date, 'amount', {money('amount')},
        'status', status, 'currency', currency) FROM invoices""",
    "payments": f"""SELECT rowid, json_object('id', id, 'invoice_id', invoice_id, 'paid_at', paid_at,
        'amount', {money('amount')}) FROM payments""",
    "budgets": f"""SELECT rowid, json_object('category', category, 'year', year, 'amount', {money('amount')},
        'committed', {money('committed')}, 'spent', {money('spent')}) FROM budgets""",
}
ORDER_KEY = {
    "numbers": "number {keys}",
    "supplier": "supplier_code {keys}",
    "contract": "contract_number {keys}",
    "sku": "number IN (SELECT po_number FROM po_lines WHERE sku {keys})",
}
ITEM_KEY = {"skus": "sku", "supplier": "supplier_code"}
RECEIPT_KEY = {"po": "po_number", "supplier": "supplier_code"}
INVOICE_KEY = {"po": "po_number", "supplier": "supplier_code", "ids": "id"}


def create_app(data_dir=None, faults: dict | None = None, events: tuple[str, str] | None = None) -> FastAPI:
    """`events`: where change events would go; this system sends none yet (the launcher passes it to every system)."""
    app, db = system_app("srm", __doc__, DOCUMENTS, data_dir, faults, events=events)

    @app.get("/suppliers")
    async def suppliers(codes: str | None = None):
        """Suppliers by code (the same codes as the ERP's supplier parties); all without `codes`."""
        if codes is None:
            return db.items("suppliers", "SELECT rowid FROM suppliers ORDER BY code")
        return db.items("suppliers", f"SELECT rowid FROM suppliers WHERE code {IN_KEYS} ORDER BY code",
                        key_param(keys(codes)))

    @app.get("/supplier_items")
    async def supplier_items(skus: str | None = None, supplier: str | None = None):
        """Who sells which SKU at what price and lead time; the preferred supplier first. Give one of skus, supplier."""
        name, wanted = one_selector(skus=skus, supplier=supplier)
        return db.items("supplier_items", f"SELECT rowid FROM supplier_items WHERE {ITEM_KEY[name]} {IN_KEYS} "
                        "ORDER BY sku, preferred DESC, supplier_code", key_param(wanted))

    @app.get("/purchase_orders")
    async def purchase_orders(numbers: str | None = None, supplier: str | None = None, contract: str | None = None,
                              sku: str | None = None,
                              open_only: bool = Query(False, description="only OPEN and PARTIALLY_RECEIVED")):
        """Purchase orders with lines embedded, oldest first. Give exactly one of numbers, supplier, contract, sku
        (orders with a line of one of the SKUs)."""
        name, wanted = one_selector(numbers=numbers, supplier=supplier, contract=contract, sku=sku)
        status = "AND status IN ('OPEN', 'PARTIALLY_RECEIVED')" if open_only else ""
        where = ORDER_KEY[name].format(keys=IN_KEYS)
        return db.items("purchase_orders", f"SELECT rowid FROM purchase_orders WHERE {where} {status} "
                        "ORDER BY ordered_at, number", key_param(wanted))

    @app.get("/requisitions")
    async def requisitions(skus: str):
        return db.items("requisitions", f"SELECT rowid FROM requisitions WHERE sku {IN_KEYS} ORDER BY id",
                        key_param(keys(skus)))

    @app.get("/receipts")
    async def receipts(po: str | None = None, supplier: str | None = None):
        """Goods receipts with their incoming inspection, oldest first. Give one of po, supplier."""
        name, wanted = one_selector(po=po, supplier=supplier)
        return db.items("receipts", f"SELECT rowid FROM receipts WHERE {RECEIPT_KEY[name]} {IN_KEYS} "
                        "ORDER BY received_at, id", key_param(wanted))

    @app.get("/invoices")
    async def invoices(po: str | None = None, supplier: str | None = None, ids: str | None = None):
        """Supplier invoices (net amounts), oldest first. Give one of po, supplier, ids."""
        name, wanted = one_selector(po=po, supplier=supplier, ids=ids)
        return db.items("invoices", f"SELECT rowid FROM invoices WHERE {INVOICE_KEY[name]} {IN_KEYS} "
                        "ORDER BY issued_at, id", key_param(wanted))

    @app.get("/payments")
    async def payments(invoice: str):
        return db.items("payments", f"SELECT rowid FROM payments WHERE invoice_id {IN_KEYS} ORDER BY paid_at, id",
                        key_param(keys(invoice)))

    @app.get("/budgets")
    async def budgets(categories: str | None = None):
        """This year's budget per purchasing category with what is committed (open orders) and spent; all without
        `categories`."""
        if categories is None:
            return db.items("budgets", "SELECT rowid FROM budgets ORDER BY category")
        return db.items("budgets", f"SELECT rowid FROM budgets WHERE category {IN_KEYS} ORDER BY category",
                        key_param(keys(categories)))

    return app
