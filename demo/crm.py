"""CRM: customers, sales reps and teams, contacts, opportunities, activities.

Writes: `POST /activities` logs an activity on a customer (with an `Idempotency-Key`), and
announces it to the gateway as `activity.logged` (demo/webhooks.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from demo.common import IN_KEYS, Idempotency, invalid, key_param, keys, money, next_id, now_instant, system_app

DOCUMENTS = {
    "customers": """SELECT rowid, json_object(
        'id', id, 'name', name, 'name_local', name_local, 'tax_id', tax_id, 'tier', tier,
        'industry', industry, 'region', region, 'credit_rating', credit_rating, 'owner_id', owner_id, 'team', team,
        'created_at', created_at, 'last_activity_at', last_activity_at,
        'refs', json_object('erp', erp_ref, 'clm', clm_ref, 'desk', desk_ref)) FROM customers""",
    "reps": "SELECT rowid, json_object('id', id, 'name', name, 'email', email, 'team', team) FROM reps",
    "contacts": """SELECT rowid, json_object('id', id, 'customer_id', customer_id, 'name', name, 'title', title,
        'email', email, 'phone', phone) FROM contacts""",
    "opportunities": f"""SELECT rowid, json_object('id', id, 'customer_id', customer_id, 'name', name,
        'stage', stage, 'amount', {money('amount')}, 'close_date', close_date, 'probability', probability)
        FROM opportunities""",
    "activities": """SELECT rowid, json_object('id', id, 'customer_id', customer_id, 'kind', kind,
        'subject', subject, 'at', at, 'by_rep_id', by_rep_id) FROM activities""",
}
REF_COLUMN = {"erp": "erp_ref", "clm": "clm_ref", "desk": "desk_ref"}
ACTIVITY_KINDS = ("CALL", "EMAIL", "MEETING", "VISIT", "NOTE")


class NewActivity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1)
    kind: Literal[ACTIVITY_KINDS]  # type: ignore[valid-type]
    subject: str = Field(min_length=1, max_length=200)
    by_rep_id: str | None = None
    at: datetime | None = None


def create_app(data_dir=None, faults: dict | None = None, events: tuple[str, str] | None = None) -> FastAPI:
    app, db = system_app("crm", __doc__, DOCUMENTS, data_dir, faults, writable=True, events=events)
    idempotency = Idempotency()

    @app.get("/customers")
    async def customers(ids: str = Query(..., description="C00001,C00002,...")):
        return db.items("customers", f"SELECT rowid FROM customers WHERE id {IN_KEYS} ORDER BY id",
                        key_param(keys(ids)))

    @app.get("/customers/search")
    async def search(q: str = "", owner: str | None = None, team: str | None = None, tier: str | None = None,
                     match: Literal["all", "names"] = "all",
                     limit: int = Query(20, ge=0, le=1000), offset: int = Query(0, ge=0)):
        """Newest activity first; `q` is a case-insensitive substring of id, name, name_local or tax_id
        (`match=names`: of id, name or name_local only, for callers who may not see tax ids).
        `owner`, `team` and `tier` take comma-separated lists. `owner` and `team` are row-level
        filters and fail closed: given but empty, they match no customer. Empty `q` or `tier`: no filter."""
        where, params = ["1"], []
        if q:
            if match == "names":
                where.append("instr(casefold(id || ' ' || name || ' ' || coalesce(name_local, '')), ?)")
            else:
                where.append("instr(search_text, ?)")
            params.append(q.casefold())
        for column, raw in (("owner_id", owner), ("team", team), ("tier", tier or None)):
            if raw is not None:
                where.append(f"{column} {IN_KEYS}")
                params.append(key_param(keys(raw)))
        condition = " AND ".join(where)
        total = db.scalar(f"SELECT count(*) FROM customers WHERE {condition}", *params)
        return db.items("customers", f"SELECT rowid FROM customers WHERE {condition} "
                        "ORDER BY last_activity_at DESC, id LIMIT ? OFFSET ?", *params, limit, offset, total=total)

    @app.get("/customers/by-ref")
    async def by_ref(system: Literal["erp", "clm", "desk"], refs: str):
        return db.items("customers", f"SELECT rowid FROM customers WHERE {REF_COLUMN[system]} {IN_KEYS} ORDER BY id",
                        key_param(keys(refs)))

    @app.get("/reps")
    async def reps(ids: str | None = None):
        """Reps by id; all of them without `ids`."""
        if ids is None:
            return db.items("reps", "SELECT rowid FROM reps ORDER BY id")
        return db.items("reps", f"SELECT rowid FROM reps WHERE id {IN_KEYS} ORDER BY id", key_param(keys(ids)))

    @app.get("/contacts")
    async def contacts(customer: str):
        return db.items("contacts", f"SELECT rowid FROM contacts WHERE customer_id {IN_KEYS} ORDER BY customer_id, id",
                        key_param(keys(customer)))

    @app.get("/opportunities")
    async def opportunities(customer: str):
        return db.items("opportunities", f"SELECT rowid FROM opportunities WHERE customer_id {IN_KEYS} "
                        "ORDER BY customer_id, close_date DESC, id", key_param(keys(customer)))

    @app.get("/activities")
    async def activities(customer: str, last: int | None = Query(None, ge=0)):
        """The newest `last` activities per customer (all without `last`), newest first."""
        ranked = ("SELECT rowid AS rid, at, id, row_number() OVER (PARTITION BY customer_id ORDER BY at DESC, id DESC) "
                  f"AS rank FROM activities WHERE customer_id {IN_KEYS}")
        return db.items("activities", f"SELECT rid FROM ({ranked}) WHERE rank <= ? ORDER BY at DESC, id DESC",
                        key_param(keys(customer)), 2**31 if last is None else last)

    @app.post("/activities", status_code=201)
    async def log_activity(activity: NewActivity, request: Request):
        """Log a call, e-mail, meeting, visit or note on a customer (now, unless `at` says when)."""
        payload = activity.model_dump(mode="json")
        replayed = idempotency.replay(request, payload)
        if replayed is not None:
            return replayed
        if db.scalar("SELECT count(*) FROM customers WHERE id = ?", activity.customer_id) == 0:
            raise invalid("customer_id", f"unknown customer {activity.customer_id!r}")
        if activity.by_rep_id is not None and db.scalar("SELECT count(*) FROM reps WHERE id = ?", activity.by_rep_id) == 0:
            raise invalid("by_rep_id", f"unknown rep {activity.by_rep_id!r}")
        at = activity.at.strftime("%Y-%m-%dT%H:%M:%SZ") if activity.at else now_instant()
        with db.con:
            rowid = db.con.execute(
                "INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?)",
                (next_id(db, "activities", "A", 6), activity.customer_id, activity.kind, activity.subject, at,
                 activity.by_rep_id),
            ).lastrowid
        db.render("activities", [rowid])
        app.state.outbox.emit("activity.logged", {"customer_id": activity.customer_id})
        return idempotency.remember(request, payload, 201, db.document("activities", rowid))

    return app
