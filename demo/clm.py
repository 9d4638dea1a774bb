"""CLM: contracts (sales, purchase, service) per counterparty, with milestones; purchase contracts
name their supplier (its SRM code) and their purchase orders.

Change events (demo/webhooks.py), made on demand through `POST /_events`: `contract_status` (a
contract moved to `status`: `contract.status_changed`) and `milestone` (a milestone done, or its
due date moved `days` into the past and not done: `contract.milestone_changed`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from demo.common import IN_KEYS, announce, json_response, key_param, keys, money, now_instant, one_selector, system_app
from demo.worklist import Filter, List, Summary

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
IN = "IN (SELECT value FROM json_each({v}))"
CONTRACTS = List(
    kind="contracts",
    table="contracts",
    filters={
        "counterparty": Filter(f"t.counterparty_id {IN}"),
        "status": Filter(f"t.status {IN}", "enum", ("DRAFT", "IN_APPROVAL", "ACTIVE", "COMPLETED", "TERMINATED")),
        "kind": Filter(f"t.kind {IN}", "enum", ("SALES", "PURCHASE", "SERVICE")),
        # Not yet ended, ending on or before the date.
        "expiring_before": Filter("t.end_date >= :today AND t.end_date <= {v}", "date"),
        "end_from": Filter("t.end_date >= {v}", "date"),
        "end_to": Filter("t.end_date <= {v}", "date"),
        "start_from": Filter("t.start_date >= {v}", "date"),
        "start_to": Filter("t.start_date <= {v}", "date"),
        "min_amount": Filter("t.amount >= {v}", "money"),
        "max_amount": Filter("t.amount <= {v}", "money"),
    },
    sorts={
        "end_date": "coalesce(t.end_date, '')",
        "start_date": "coalesce(t.start_date, '')",
        "amount": "coalesce(t.amount, 0)",
        "number": "t.number",
    },
    default_sort="number",
    per={"counterparty": "t.counterparty_id"},
    summary=Summary(sums={"amount": "coalesce(t.amount, 0)"}, groups={"status": "t.status", "kind": "t.kind"},
                    amount="coalesce(t.amount, 0)"),
)
CONTRACT_KEY = {"counterparty": "counterparty_id", "ids": "id", "numbers": "number", "supplier": "supplier_code"}


class Change(BaseModel):
    """A change `/_events` makes and announces; `wait`: answer once the gateway has the event."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["contract_status", "milestone"]
    contract_id: str
    status: Literal["DRAFT", "IN_APPROVAL", "ACTIVE", "COMPLETED", "TERMINATED"] | None = None
    milestone_id: str | None = None
    done: bool = False
    days: int = Field(1, ge=1)
    wait: bool = True


def create_app(data_dir=None, faults: dict | None = None, events: tuple[str, str] | None = None) -> FastAPI:
    app, db = system_app("clm", __doc__, DOCUMENTS, data_dir, faults, writable=True, events=events)
    outbox = app.state.outbox

    @app.get("/contracts")
    async def contracts(counterparty: str | None = None, ids: str | None = None, numbers: str | None = None,
                        supplier: str | None = None):
        """Contracts with milestones embedded, by id. Give exactly one of counterparty, ids, numbers, supplier (the
        purchase contracts naming one of these SRM supplier codes)."""
        name, wanted = one_selector(counterparty=counterparty, ids=ids, numbers=numbers, supplier=supplier)
        return db.items("contracts", f"SELECT rowid FROM contracts WHERE {CONTRACT_KEY[name]} {IN_KEYS} ORDER BY id",
                        key_param(wanted))

    @app.get("/contracts/search")
    async def search_contracts(request: Request):
        """Contracts by filters, sorted, counted and paged by keyset (see demo/worklist.py): `counterparty`,
        `status`, `kind`, `expiring_before`, `end_from`, `end_to`, `start_from`, `start_to`, `min_amount`,
        `max_amount`; `sort` one of end_date, start_date, amount, number; `after`, `limit`, `today`, `summary`."""
        if "per" in request.query_params:
            return CONTRACTS.grouped(db, request.query_params)
        return CONTRACTS.answer(db, request.query_params)

    @app.get("/counterparties")
    async def counterparties(ids: str):
        return db.items("counterparties", f"SELECT rowid FROM counterparties WHERE id {IN_KEYS} ORDER BY id",
                        key_param(keys(ids)))

    @app.post("/_events", tags=["control"])
    async def change(change: Change):
        """Make a change and announce it to the gateway (see the module's docstring)."""
        found = db.con.execute("SELECT rowid, number, counterparty_id, supplier_code FROM contracts WHERE id = ?",
                               (change.contract_id,)).fetchone()
        if found is None:
            raise HTTPException(404, f"no contract {change.contract_id!r}")
        rowid, number, counterparty, supplier = found
        data = {"contract_id": change.contract_id, "contract_number": number, "counterparty_id": counterparty,
                "supplier_code": supplier}
        with db.con:
            if change.action == "contract_status":
                if change.status is None:
                    raise HTTPException(422, "contract_status needs a status")
                db.con.execute("UPDATE contracts SET status = ? WHERE id = ?", (change.status, change.contract_id))
                kind, data = "contract.status_changed", {**data, "status": change.status}
            else:
                milestone = change.milestone_id or db.scalar(
                    "SELECT id FROM milestones WHERE contract_id = ? ORDER BY due_date, id LIMIT 1", change.contract_id)
                if milestone is None:
                    raise HTTPException(404, f"contract {change.contract_id!r} has no milestone")
                if change.done:
                    db.con.execute("UPDATE milestones SET done_at = ?, status = 'DONE' WHERE id = ?",
                                   (now_instant()[:10], milestone))
                else:
                    due = date.fromordinal(date.today().toordinal() - change.days).isoformat()
                    db.con.execute("UPDATE milestones SET due_date = ?, done_at = NULL, status = 'PENDING' WHERE id = ?",
                                   (due, milestone))
                kind, data = "contract.milestone_changed", {**data, "milestone_id": milestone}
        db.render("contracts", [rowid])
        return json_response(await announce(outbox, kind, data, wait=change.wait))

    return app
