"""DESK: service tickets per organisation."""

from __future__ import annotations

from fastapi import FastAPI, Query

from demo.common import IN_KEYS, key_param, keys, one_selector, system_app

DOCUMENTS = {
    "tickets": """SELECT rowid, json_object(
        'id', id, 'org_id', org_id, 'subject', subject, 'kind', kind, 'status', status, 'priority', priority,
        'opened_at', opened_at, 'resolved_at', resolved_at, 'sla_due_at', sla_due_at,
        'contract_number', contract_number, 'order_id', order_id) FROM tickets""",
    "orgs": "SELECT rowid, json_object('id', id, 'name', name) FROM orgs",
}
TICKET_KEY = {"org": "org_id", "ids": "id", "contract": "contract_number", "order": "order_id"}


def create_app(data_dir=None, faults: dict | None = None) -> FastAPI:
    app, db = system_app("desk", __doc__, DOCUMENTS, data_dir, faults)

    @app.get("/tickets")
    async def tickets(org: str | None = None, ids: str | None = None, contract: str | None = None,
                      order: str | None = None,
                      status: str | None = Query(None, description="e.g. OPEN,IN_PROGRESS")):
        """Tickets, newest first. Give exactly one of org, ids, contract, order."""
        name, wanted = one_selector(org=org, ids=ids, contract=contract, order=order)
        sql, params = f"SELECT rowid FROM tickets WHERE {TICKET_KEY[name]} {IN_KEYS}", [key_param(wanted)]
        if status:
            sql += f" AND status {IN_KEYS}"
            params.append(key_param(keys(status)))
        return db.items("tickets", sql + " ORDER BY opened_at DESC, id DESC", *params)

    @app.get("/orgs")
    async def orgs(ids: str):
        return db.items("orgs", f"SELECT rowid FROM orgs WHERE id {IN_KEYS} ORDER BY id", key_param(keys(ids)))

    return app
