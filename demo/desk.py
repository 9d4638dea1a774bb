"""DESK: service tickets per organisation.

Writes (with an `Idempotency-Key`): `POST /tickets` opens a ticket for an organisation,
optionally tied to an order or a contract, its SLA due by its priority;
`PATCH /tickets/{id}` moves it along OPEN -> IN_PROGRESS -> RESOLVED -> CLOSED (or back
to IN_PROGRESS from RESOLVED) with a note, kept in the ticket's notes. Each is announced to
the gateway (`ticket.created`, `ticket.updated`, demo/webhooks.py); `POST /_events` with
`sla_breach` moves a ticket's SLA due time `hours` into the past and announces it.
"""

from __future__ import annotations

import time
from typing import Literal

import orjson
from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from demo.common import (
    IN_KEYS,
    Idempotency,
    announce,
    invalid,
    json_response,
    key_param,
    keys,
    next_id,
    now_instant,
    one_selector,
    system_app,
)
from demo.generate import SLA_HOURS
from demo.worklist import Filter, List, Summary

DOCUMENTS = {
    "tickets": """SELECT rowid, json_object(
        'id', id, 'org_id', org_id, 'subject', subject, 'kind', kind, 'status', status, 'priority', priority,
        'opened_at', opened_at, 'resolved_at', resolved_at, 'sla_due_at', sla_due_at,
        'contract_number', contract_number, 'order_id', order_id) FROM tickets""",
    "orgs": "SELECT rowid, json_object('id', id, 'name', name) FROM orgs",
}
IN = "IN (SELECT value FROM json_each({v}))"
# Resolved after its SLA due time, or still unresolved past it (`now`), as the gateway's `slaBreached`.
BREACHED = "(t.sla_due_at IS NOT NULL AND coalesce(t.resolved_at, :now) > t.sla_due_at)"
TICKETS = List(
    kind="tickets",
    table="tickets",
    filters={
        "org": Filter(f"t.org_id {IN}"),
        "order": Filter(f"t.order_id {IN}"),
        "contract": Filter(f"t.contract_number {IN}"),
        "status": Filter(f"t.status {IN}", "enum", ("OPEN", "IN_PROGRESS", "RESOLVED", "CLOSED")),
        "priority": Filter(f"t.priority {IN}", "enum", ("P1", "P2", "P3", "P4")),
        "kind": Filter(f"t.kind {IN}", "enum", ("INQUIRY", "COMPLAINT", "RETURN", "REPAIR")),
        "sla_breached": Filter(BREACHED, "bool"),
        "opened_from": Filter("substr(t.opened_at, 1, 10) >= {v}", "date"),
        "opened_to": Filter("substr(t.opened_at, 1, 10) <= {v}", "date"),
    },
    sorts={
        "opened_at": "coalesce(t.opened_at, '')",
        "sla_due_at": "coalesce(t.sla_due_at, '')",
        "priority": "t.priority",
    },
    default_sort="-opened_at",
    per={"org": "t.org_id", "order": "t.order_id", "contract": "t.contract_number"},
    summary=Summary(
        groups={"status": "t.status", "priority": "t.priority"},
        metrics={"breached": f"coalesce(sum(CASE WHEN {BREACHED} THEN 1 ELSE 0 END), 0)"},
    ),
)
TICKET_KEY = {"org": "org_id", "ids": "id", "contract": "contract_number", "order": "order_id"}
# Where a ticket may go from each status.
MOVES = {"OPEN": {"IN_PROGRESS", "RESOLVED", "CLOSED"}, "IN_PROGRESS": {"RESOLVED", "CLOSED"},
         "RESOLVED": {"IN_PROGRESS", "CLOSED"}, "CLOSED": set()}
NOTES = "CREATE TABLE ticket_notes (ticket_id TEXT, at TEXT, status TEXT, note TEXT, by TEXT)"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewTicket(Body):
    org_id: str = Field(min_length=1)
    subject: str = Field(min_length=1, max_length=200)
    kind: Literal["COMPLAINT", "REPAIR", "RETURN", "INQUIRY"]
    priority: Literal["P1", "P2", "P3", "P4"] = "P3"
    order_id: str | None = None
    contract_number: str | None = None


class TicketUpdate(Body):
    status: Literal["OPEN", "IN_PROGRESS", "RESOLVED", "CLOSED"]
    note: str = Field(min_length=1, max_length=2000)
    by: str | None = None


def instant(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Change(Body):
    """A change `/_events` makes and announces; `wait`: answer once the gateway has the event."""

    action: Literal["sla_breach"]
    ticket_id: str
    hours: int = Field(1, ge=1)
    wait: bool = True


def ticket_event(db, ticket_id: str) -> dict:
    """What a ticket event tells: the ticket, its organisation, order and contract, its status."""
    org, order, contract, status = db.con.execute(
        "SELECT org_id, order_id, contract_number, status FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return {"ticket_id": ticket_id, "org_id": org, "order_id": order, "contract_number": contract, "status": status}


def create_app(data_dir=None, faults: dict | None = None, events: tuple[str, str] | None = None) -> FastAPI:
    app, db = system_app("desk", __doc__, DOCUMENTS, data_dir, faults, writable=True, events=events)
    outbox = app.state.outbox
    db.con.execute(NOTES)
    idempotency = Idempotency()

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

    @app.get("/tickets/search")
    async def search_tickets(request: Request):
        """Tickets by filters, sorted, counted and paged by keyset (see demo/worklist.py): `org`, `order`,
        `contract`, `status`, `priority`, `kind`, `sla_breached`, `opened_from`, `opened_to`; `sort` one of
        opened_at, sla_due_at, priority; `after`, `limit`, `now`, `summary`."""
        if "per" in request.query_params:
            return TICKETS.grouped(db, request.query_params)
        return TICKETS.answer(db, request.query_params)

    @app.get("/orgs")
    async def orgs(ids: str):
        return db.items("orgs", f"SELECT rowid FROM orgs WHERE id {IN_KEYS} ORDER BY id", key_param(keys(ids)))

    @app.get("/tickets/{ticket_id}/notes")
    async def notes(ticket_id: str):
        rows = db.con.execute("SELECT json_object('at', at, 'status', status, 'note', note, 'by', by) "
                              "FROM ticket_notes WHERE ticket_id = ? ORDER BY rowid", (ticket_id,))
        return json_response({"items": [orjson.loads(doc) for (doc,) in rows]})

    @app.post("/tickets", status_code=201)
    async def open_ticket(ticket: NewTicket, request: Request):
        payload = ticket.model_dump(mode="json")
        replayed = idempotency.replay(request, payload)
        if replayed is not None:
            return replayed
        if db.scalar("SELECT count(*) FROM orgs WHERE id = ?", ticket.org_id) == 0:
            raise invalid("org_id", f"unknown organisation {ticket.org_id!r}")
        opened, ticket_id = time.time(), next_id(db, "tickets", "TK", 6)
        with db.con:
            rowid = db.con.execute(
                "INSERT INTO tickets VALUES (?, ?, ?, ?, 'OPEN', ?, ?, NULL, ?, ?, ?)",
                (ticket_id, ticket.org_id, ticket.subject, ticket.kind, ticket.priority,
                 instant(opened), instant(opened + SLA_HOURS[ticket.priority] * 3600), ticket.contract_number,
                 ticket.order_id),
            ).lastrowid
        db.render("tickets", [rowid])
        outbox.emit("ticket.created", ticket_event(db, ticket_id))
        return idempotency.remember(request, payload, 201, db.document("tickets", rowid))

    @app.patch("/tickets/{ticket_id}")
    async def update_ticket(ticket_id: str, update: TicketUpdate, request: Request):
        """Move a ticket to `status` with a note; RESOLVED stamps `resolved_at`. A move its status does not allow is 409."""
        payload = {"ticket": ticket_id, **update.model_dump(mode="json")}
        replayed = idempotency.replay(request, payload)
        if replayed is not None:
            return replayed
        found = db.con.execute("SELECT rowid, status FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if found is None:
            raise HTTPException(404, f"no ticket {ticket_id!r}")
        rowid, status = found
        if update.status != status and update.status not in MOVES[status]:
            raise HTTPException(409, f"ticket {ticket_id!r} is {status}: it cannot become {update.status}")
        now = now_instant()
        with db.con:
            db.con.execute("UPDATE tickets SET status = ?, resolved_at = CASE WHEN ? = 'RESOLVED' THEN ? "
                           "WHEN ? IN ('OPEN', 'IN_PROGRESS') THEN NULL ELSE resolved_at END WHERE id = ?",
                           (update.status, update.status, now, update.status, ticket_id))
            db.con.execute("INSERT INTO ticket_notes VALUES (?, ?, ?, ?, ?)",
                           (ticket_id, now, update.status, update.note, update.by))
        db.render("tickets", [rowid])
        outbox.emit("ticket.updated", ticket_event(db, ticket_id))
        return idempotency.remember(request, payload, 200, db.document("tickets", rowid))

    @app.post("/_events", tags=["control"])
    async def change(change: Change):
        """Make a change and announce it to the gateway (see the module's docstring)."""
        found = db.con.execute("SELECT rowid FROM tickets WHERE id = ?", (change.ticket_id,)).fetchone()
        if found is None:
            raise HTTPException(404, f"no ticket {change.ticket_id!r}")
        with db.con:
            db.con.execute("UPDATE tickets SET sla_due_at = ? WHERE id = ?",
                           (instant(time.time() - change.hours * 3600), change.ticket_id))
        db.render("tickets", [found[0]])
        return json_response(await announce(outbox, "ticket.updated", ticket_event(db, change.ticket_id),
                                            wait=change.wait))

    return app
