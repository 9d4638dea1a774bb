"""CRM: customers, sales reps and teams, contacts, opportunities, activities.

Writes: `POST /activities` logs an activity on a customer (with an `Idempotency-Key`), and
announces it to the gateway as `activity.logged` (demo/webhooks.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from demo.common import IN_KEYS, Idempotency, invalid, key_param, keys, money, next_id, now_instant, system_app
from demo.worklist import Filter, List, Summary

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
IN = "IN (SELECT value FROM json_each({v}))"
TIERS = ("STRATEGIC", "KEY", "STANDARD", "SMALL")
STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST")


def customer_filters(c: str) -> dict[str, Filter]:
    """Filters on the customer (aliased `c`): those of the customer list, and of lists of what customers own."""
    return {
        "ids": Filter(f"{c}.id {IN}"),
        "owner": Filter(f"{c}.owner_id {IN}"),
        "team": Filter(f"{c}.team {IN}"),
        "tier": Filter(f"{c}.tier {IN}", "enum", TIERS),
        "region": Filter(f"{c}.region {IN}"),
        "industry": Filter(f"{c}.industry {IN}"),
        "erp": Filter(f"{c}.erp_ref {IN}"),
        "clm": Filter(f"{c}.clm_ref {IN}"),
        "desk": Filter(f"{c}.desk_ref {IN}"),
        "q": Filter(f"instr({c}.search_text, {{v}})", "text"),
        "q_names": Filter(f"instr(casefold({c}.id || ' ' || {c}.name || ' ' || coalesce({c}.name_local, '')), {{v}})",
                          "text"),
    }


CUSTOMERS = List(
    kind="customers",
    table="customers",
    filters=customer_filters("t"),
    sorts={"last_activity_at": "coalesce(t.last_activity_at, '')", "name": "t.name", "tier": "t.tier",
           "created_at": "coalesce(t.created_at, '')"},
    default_sort="-last_activity_at",
    summary=Summary(groups={"tier": "t.tier", "region": "t.region"}),
)
OPPORTUNITIES = List(
    kind="opportunities",
    table="opportunities",
    joins="JOIN customers c ON c.id = t.customer_id",
    filters={
        **{name: spec for name, spec in customer_filters("c").items() if not name.startswith("q")},
        "customer": Filter(f"t.customer_id {IN}"),
        "stage": Filter(f"t.stage {IN}", "enum", STAGES),
        "close_from": Filter("t.close_date >= {v}", "date"),
        "close_to": Filter("t.close_date <= {v}", "date"),
        "min_amount": Filter("t.amount >= {v}", "money"),
        "max_amount": Filter("t.amount <= {v}", "money"),
    },
    sorts={"close_date": "coalesce(t.close_date, '')", "amount": "coalesce(t.amount, 0)",
           "probability": "coalesce(t.probability, 0)", "name": "t.name"},
    default_sort="close_date",
    summary=Summary(
        sums={"amount": "coalesce(t.amount, 0)",
              "weighted": "CAST(round(coalesce(t.amount, 0) * coalesce(t.probability, 0)) AS INTEGER)"},
        groups={"stage": "t.stage"},
        amount="coalesce(t.amount, 0)",
    ),
)
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
    async def search(request: Request, q: str = "", match: Literal["all", "names"] = "all",
                     tier: str | None = None, limit: int = Query(20, ge=0, le=1000), offset: int = Query(0, ge=0)):
        """Newest activity first (or `sort`: last_activity_at, name, tier, created_at; '-' first: descending);
        `q` is a case-insensitive substring of id, name, name_local or tax_id (`match=names`: of id, name or
        name_local only, for callers who may not see tax ids). `owner`, `team`, `tier`, `region`, `industry`,
        `ids` and the refs `erp`, `clm`, `desk` take comma-separated lists. `owner` and `team` are row-level
        filters and fail closed: given but empty, they match no customer, as do the key lists. Empty `q` or
        `tier`: no filter. Paged by `offset` or by keyset (`after`, see demo/worklist.py)."""
        params = dict(request.query_params)
        params.pop("q", None)
        if q:
            params["q_names" if match == "names" else "q"] = q.casefold()
        if not tier:
            params.pop("tier", None)
        return CUSTOMERS.answer(db, params)

    @app.get("/customers/keys")
    async def customer_keys(request: Request, system: Literal["crm", "erp", "clm", "desk"] = "crm"):
        """`{"keys": [...]}`: the ids (`system=crm`) or another system's refs of the customers matching the
        filters of `/customers/search`, sorted; a customer without a ref in that system is left out."""
        column = "t.id" if system == "crm" else f"t.{REF_COLUMN[system]}"
        params = {name: value for name, value in request.query_params.items() if name != "system"}
        if "q" in params:
            raise HTTPException(400, "`q` is not a filter of /customers/keys")
        return CUSTOMERS.distinct(db, column, params)

    @app.get("/opportunities/search")
    async def search_opportunities(request: Request):
        """Opportunities by filters, sorted, counted and paged by keyset (see demo/worklist.py): `customer`,
        `stage`, `close_from`, `close_to`, `min_amount`, `max_amount`, and the customer's `owner`, `team`,
        `tier`, `region`, `industry`; `sort` one of close_date, amount, probability, name; `after`, `limit`,
        `summary`."""
        return OPPORTUNITIES.answer(db, request.query_params)

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
            # the customer's newest activity, as a CRM keeps it (and sorts worklists by it)
            db.con.execute("UPDATE customers SET last_activity_at = ? WHERE id = ? AND "
                           "coalesce(last_activity_at, '') < ?", (at, activity.customer_id, at))
        db.render("activities", [rowid])
        db.render("customers", [db.scalar("SELECT rowid FROM customers WHERE id = ?", activity.customer_id)])
        app.state.outbox.emit("activity.logged", {"customer_id": activity.customer_id})
        return idempotency.remember(request, payload, 201, db.document("activities", rowid))

    return app
