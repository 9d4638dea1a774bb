"""MES (shop floor and quality): production orders with their operations and progress (make-to-order
ones carry their sales order), lots produced and received, and quality records (incoming, in-process,
final) tied to lots; lots tied to the shipments that carried them."""

from __future__ import annotations

from fastapi import FastAPI, Query

from demo.common import IN_KEYS, key_param, money, one_selector, system_app

DOCUMENTS = {
    "production_orders": f"""SELECT p.rowid, json_object(
        'id', p.id, 'sku', p.sku, 'warehouse', p.warehouse, 'quantity', {money('p.quantity')}, 'status', p.status,
        'sales_order_id', p.sales_order_id, 'due_date', p.due_date, 'planned_start', p.planned_start,
        'planned_end', p.planned_end, 'finished_at', p.finished_at,
        'operations', (SELECT json_group_array(json(operation)) FROM (
            SELECT json_object('seq', o.seq, 'name', o.name, 'work_center', o.work_center, 'status', o.status,
                'progress', printf('%.2f', o.progress / 100.0)) AS operation
            FROM operations o WHERE o.production_order_id = p.id ORDER BY o.seq)))
        FROM production_orders p""",
    "lots": f"""SELECT rowid, json_object('id', id, 'sku', sku, 'quantity', {money('quantity')},
        'production_order_id', production_order_id, 'receipt_id', receipt_id, 'produced_at', produced_at,
        'shipment_id', shipment_id, 'sales_order_id', sales_order_id) FROM lots""",
    "quality_records": """SELECT rowid, json_object('id', id, 'kind', kind, 'lot_id', lot_id,
        'production_order_id', production_order_id, 'sku', sku, 'sales_order_id', sales_order_id,
        'inspected_at', inspected_at, 'result', result, 'defects', json(defects), 'disposition', disposition)
        FROM quality_records""",
}
ORDER_KEY = {"ids": "id", "sales_order": "sales_order_id", "skus": "sku"}
LOT_KEY = {"ids": "id", "shipment": "shipment_id", "sales_order": "sales_order_id"}
QUALITY_KEY = {"ids": "id", "lot": "lot_id", "sales_order": "sales_order_id"}


def create_app(data_dir=None, faults: dict | None = None, events: tuple[str, str] | None = None) -> FastAPI:
    """`events`: where change events would go; this system sends none yet (the launcher passes it to every system)."""
    app, db = system_app("mes", __doc__, DOCUMENTS, data_dir, faults, events=events)

    @app.get("/production_orders")
    async def production_orders(ids: str | None = None, sales_order: str | None = None, skus: str | None = None,
                                open_only: bool = Query(False, description="only PLANNED, RELEASED and IN_PROGRESS")):
        """Production orders with their operations, by planned end. Give exactly one of ids, sales_order, skus."""
        name, wanted = one_selector(ids=ids, sales_order=sales_order, skus=skus)
        status = "AND status != 'DONE'" if open_only else ""
        return db.items("production_orders", f"SELECT rowid FROM production_orders WHERE {ORDER_KEY[name]} "
                        f"{IN_KEYS} {status} ORDER BY planned_end, id", key_param(wanted))

    @app.get("/lots")
    async def lots(ids: str | None = None, shipment: str | None = None, sales_order: str | None = None):
        """Lots by id, by the shipment that carried them, or by sales order. Give exactly one."""
        name, wanted = one_selector(ids=ids, shipment=shipment, sales_order=sales_order)
        return db.items("lots", f"SELECT rowid FROM lots WHERE {LOT_KEY[name]} {IN_KEYS} ORDER BY id",
                        key_param(wanted))

    @app.get("/quality_records")
    async def quality_records(ids: str | None = None, lot: str | None = None, sales_order: str | None = None):
        """Quality records by id, lot or sales order (its lots and make-to-order production), oldest first."""
        name, wanted = one_selector(ids=ids, lot=lot, sales_order=sales_order)
        return db.items("quality_records", f"SELECT rowid FROM quality_records WHERE {QUALITY_KEY[name]} {IN_KEYS} "
                        "ORDER BY inspected_at, id", key_param(wanted))

    return app
