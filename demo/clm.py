"""CLM: contracts (sales, purchase, service) per counterparty, with milestones; purchase contracts
name their supplier (its SRM code) and their purchase orders."""

from __future__ import annotations

from fastapi import FastAPI

from demo.common import IN_KEYS, key_param, keys, money, one_selector, system_app

DOCUMENTS = {
    "contracts": f"""SELECT c.rowid, json_object(
        'id', c.id, 'number', c.number, 'title', c.title, 'kind', c.kind, 'status', c.status,
        'counterparty_id', c.counterparty_id, 'signed_at', c.signed_at, 'start_date', c.start_date,
        'end_date', c.end_date, 'amount', {money('c.amount')}, 'currency', c.currency,
        'payment_terms', c.payment_terms, 'supplier_code', c.supplier_code,
        'purchase_orders', json(c.purchase_orders),
        'milestones', (SELECT json_group_array(json(milestone)) FROM (
            SELECT json_object('id', m.id, 'name', m.name, 'due_date', m.due_date, 'done_at', m.done_at,
                               'status', m.status) AS milestone
            FROM milestones m WHERE m.contract_id = c.id ORDER BY m.due_date, m.id)))
        FROM contracts c""",
    "counterparties": "SELECT rowid, json_object('id', id, 'name', name, 'tax_id', tax_id) FROM counterparties",
}
CONTRACT_KEY = {"counterparty": "counterparty_id", "ids": "id", "numbers": "number"}


def create_app(data_dir=None, faults: dict | None = None) -> FastAPI:
    app, db = system_app("clm", __doc__, DOCUMENTS, data_dir, faults)

    @app.get("/contracts")
    async def contracts(counterparty: str | None = None, ids: str | None = None, numbers: str | None = None):
        """Contracts with milestones embedded, by id. Give exactly one of counterparty, ids, numbers."""
        name, wanted = one_selector(counterparty=counterparty, ids=ids, numbers=numbers)
        return db.items("contracts", f"SELECT rowid FROM contracts WHERE {CONTRACT_KEY[name]} {IN_KEYS} ORDER BY id",
                        key_param(wanted))

    @app.get("/counterparties")
    async def counterparties(ids: str):
        return db.items("counterparties", f"SELECT rowid FROM counterparties WHERE id {IN_KEYS} ORDER BY id",
                        key_param(keys(ids)))

    return app
