"""Filtered, sorted and counted lists with keyset paging: what the demo systems' `/…/search` routes share.

A route declares its filters (query parameter -> SQL condition on one typed value), its sort
keys (name -> a non-null SQL expression) and its summary; `List.answer` validates a request
(an unknown parameter value, a bad date, amount or `after` is 400 naming the parameter),
counts every matching row (`total`) and pages by keyset: `after` is the JSON `[sort value,
id]` of the last row seen, so a page does not shift when rows are added or removed before
it. Ties in the sort are broken by id, ascending.

Every filter is AND-ed; a key-list filter given but empty matches nothing (fail closed, as
the row-level filters must). `today` (a date) and `now` (an instant) are what "overdue" and
"SLA breached" are measured against; the caller sends them, so the gateway and the system
agree on the day.

`per=<key filter>` (e.g. `per=party` with `party=P1,P2`) answers a page per key instead, for
the nested lists of a layer of parents (see `List.grouped`).

Answer: `{"items": [...], "total": N, "cursors": [[value, id], ...], "more": bool}` and,
with `summary=true`, `"summary": {"count", "sums": {name: "0.00"}, "groups": {name: [{"key",
"count", "amount"}]}, "metrics": {name: number | null}}` over every matching row, not the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import orjson
from fastapi import HTTPException
from fastapi.responses import Response

from demo.common import Database, keys

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Filter:
    """One query parameter: `sql` with `{v}` where its value goes (`:name`), of a kind:
    keys (comma list), enum (comma list of `allowed`), text, date, instant, money (cents), int,
    bool (true: `sql`, false: NOT `sql`)."""

    sql: str
    kind: str = "keys"
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Summary:
    sums: Mapping[str, str] = field(default_factory=dict)  # name -> SQL of integer cents, summed
    groups: Mapping[str, str] = field(default_factory=dict)  # name -> SQL of the group key
    amount: str = "0"  # SQL of integer cents each group sums
    metrics: Mapping[str, str] = field(default_factory=dict)  # name -> aggregate SQL, a number or NULL


@dataclass(frozen=True)
class List:
    """One searchable list of `kind` documents in `table` (aliased `t`), keyed by `t.id`."""

    kind: str
    table: str
    filters: Mapping[str, Filter]
    sorts: Mapping[str, str]
    default_sort: str
    summary: Summary = Summary()
    joins: str = ""
    per: Mapping[str, str] = field(default_factory=dict)  # key-list filter -> its column, for `per=`

    def where(self, params: Mapping[str, str]) -> tuple[str, dict[str, object]]:
        """The WHERE clause and its bound values for the filters given in `params`."""
        conditions, bound = ["1"], {"today": _date("today", params.get("today") or dt.date.today().isoformat())}
        bound["now"] = _instant("now", params.get("now") or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for name, spec in self.filters.items():
            raw = params.get(name)
            if raw is None:
                continue
            slot = f"f_{name}"
            if spec.kind == "bool":
                if raw not in ("true", "false"):
                    raise bad(name, "true or false")
                conditions.append(spec.sql if raw == "true" else f"NOT ({spec.sql})")
                continue
            conditions.append(spec.sql.format(v=f":{slot}"))
            bound[slot] = _value(name, spec, raw)
        return " AND ".join(conditions), bound

    def answer(self, db: Database, params: Mapping[str, str]) -> Response:
        condition, bound = self.where(params)
        limit = _int("limit", params.get("limit", "20"), 0, MAX_LIMIT)
        sort = params.get("sort") or self.default_sort
        descending = sort.startswith("-")
        expr = self.sorts.get(sort.lstrip("-"))
        if expr is None:
            raise bad("sort", f"one of {', '.join(sorted(self.sorts))}, '-' first for descending")
        source = f"FROM {self.table} t {self.joins} WHERE {condition}"
        total = db.con.execute(f"SELECT count(*) {source}", bound).fetchone()[0]
        paged, offset = condition, _int("offset", params.get("offset", "0"), 0, 10**8)
        if params.get("after"):
            value, last_id = _after(params["after"])
            bound.update(after_value=value, after_id=last_id)
            paged += f" AND (({expr}) {'<' if descending else '>'} :after_value OR (({expr}) = :after_value AND t.id > :after_id))"
        order = f"({expr}) {'DESC' if descending else 'ASC'}, t.id"
        rows = db.con.execute(
            f"SELECT t.rowid, ({expr}), t.id FROM {self.table} t {self.joins} WHERE {paged} ORDER BY {order} "
            "LIMIT :limit OFFSET :offset",
            {**bound, "limit": limit + 1, "offset": offset},
        ).fetchall()
        docs = db.documents[self.kind]
        body = {
            "total": total,
            "cursors": [[value, row_id] for _, value, row_id in rows[:limit]],
            "more": len(rows) > limit,
        }
        if params.get("summary") == "true":
            body["summary"] = self.summarise(db, source, bound, total)
        items = ",".join(docs[rowid] for rowid, _, _ in rows[:limit])
        rest = orjson.dumps(body).decode()[1:]
        return Response(f'{{"items":[{items}],{rest}', media_type="application/json")

    def grouped(self, db: Database, params: Mapping[str, str]) -> Response:
        """`per=<key filter>`: a page per key of that filter, in one query, for a layer of parents:
        `{"groups": {key: {"items", "total", "cursors", "more"}}}` (keys without rows are absent)."""
        per = params["per"]
        column = self.per.get(per)
        if column is None or params.get(per) is None:
            raise bad("per", f"one of {', '.join(sorted(self.per))}, given as a filter too")
        condition, bound = self.where(params)
        limit = _int("limit", params.get("limit", "20"), 0, MAX_LIMIT)
        sort = params.get("sort") or self.default_sort
        descending = sort.startswith("-")
        expr = self.sorts.get(sort.lstrip("-"))
        if expr is None:
            raise bad("sort", f"one of {', '.join(sorted(self.sorts))}, '-' first for descending")
        source = f"FROM {self.table} t {self.joins} WHERE {condition}"
        totals = dict(db.con.execute(f"SELECT {column}, count(*) {source} GROUP BY {column}", bound).fetchall())
        paged = condition
        if params.get("after"):
            value, last_id = _after(params["after"])
            bound.update(after_value=value, after_id=last_id)
            paged += f" AND (({expr}) {'<' if descending else '>'} :after_value OR (({expr}) = :after_value AND t.id > :after_id))"
        ranked = (
            f"SELECT t.rowid AS rid, ({expr}) AS value, t.id AS id, {column} AS grp, row_number() OVER "
            f"(PARTITION BY {column} ORDER BY ({expr}) {'DESC' if descending else 'ASC'}, t.id) AS n "
            f"FROM {self.table} t {self.joins} WHERE {paged}"
        )
        rows = db.con.execute(f"SELECT rid, value, id, grp, n FROM ({ranked}) WHERE n <= :limit ORDER BY grp, n",
                              {**bound, "limit": limit + 1}).fetchall()
        docs = db.documents[self.kind]
        pages: dict[str, list] = {}
        for rid, value, row_id, group, n in rows:
            pages.setdefault(group, []).append((rid, value, row_id, n))
        parts = []
        for group, found in pages.items():
            shown = [row for row in found if row[3] <= limit]
            meta = orjson.dumps({"total": totals.get(group, 0), "cursors": [[v, i] for _, v, i, _ in shown],
                                 "more": len(found) > limit}).decode()[1:]
            items = ",".join(docs[rid] for rid, _, _, _ in shown)
            parts.append(f'{orjson.dumps(group).decode()}:{{"items":[{items}],{meta}')
        return Response(f'{{"groups":{{{",".join(parts)}}}}}', media_type="application/json")

    def summarise(self, db: Database, source: str, bound: dict, total: int) -> dict:
        spec = self.summary
        sums, metrics = {}, {}
        if spec.sums or spec.metrics:
            columns = [f"coalesce(sum({sql}), 0)" for sql in spec.sums.values()] + list(spec.metrics.values())
            row = db.con.execute(f"SELECT {', '.join(columns)} {source}", bound).fetchone()
            sums = {name: cents(value) for name, value in zip(spec.sums, row[: len(spec.sums)], strict=True)}
            metrics = dict(zip(spec.metrics, row[len(spec.sums) :], strict=True))
        groups = {}
        for name, key in spec.groups.items():
            found = db.con.execute(
                f"SELECT {key} AS k, count(*), coalesce(sum({spec.amount}), 0) {source} GROUP BY k ORDER BY k", bound
            ).fetchall()
            groups[name] = [{"key": k, "count": n, "amount": cents(amount)} for k, n, amount in found]
        return {"count": total, "sums": sums, "groups": groups, "metrics": metrics}

    def distinct(self, db: Database, column: str, params: Mapping[str, str]) -> Response:
        """`{"keys": [...]}`: the distinct non-null values of `column` among the matching rows, sorted."""
        condition, bound = self.where(params)
        rows = db.con.execute(
            f"SELECT DISTINCT {column} FROM {self.table} t {self.joins} WHERE {condition} AND {column} IS NOT NULL "
            f"ORDER BY 1",
            bound,
        )
        return Response(orjson.dumps({"keys": [key for (key,) in rows]}), media_type="application/json")


def cents(value: int | float) -> str:
    return f"{Decimal(int(value)) / 100:.2f}"


def bad(name: str, wants: str) -> HTTPException:
    return HTTPException(400, f"`{name}` must be {wants}")


def _value(name: str, spec: Filter, raw: str) -> object:
    if spec.kind in ("keys", "enum"):
        values = keys(raw)
        if spec.kind == "enum" and any(value not in spec.allowed for value in values):
            raise bad(name, f"a comma-separated list of {', '.join(spec.allowed)}")
        return orjson.dumps(values).decode()
    if spec.kind == "text":
        if len(raw) > 200:
            raise bad(name, "at most 200 characters")
        return raw
    if spec.kind == "date":
        return _date(name, raw)
    if spec.kind == "instant":
        return _instant(name, raw)
    if spec.kind == "money":
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise bad(name, "a decimal amount") from None
        if not number.is_finite() or abs(number) >= 10**13 or number != number.quantize(Decimal("0.01")):
            raise bad(name, "a decimal amount with at most two decimals")
        return int(number * 100)
    return _int(name, raw, -(10**9), 10**9)


def _date(name: str, raw: str) -> str:
    try:
        parsed = dt.date.fromisoformat(raw)
    except ValueError:
        raise bad(name, "a date YYYY-MM-DD") from None
    if len(raw) != 10:
        raise bad(name, "a date YYYY-MM-DD")
    return parsed.isoformat()


def _instant(name: str, raw: str) -> str:
    try:
        parsed = dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise bad(name, "an instant YYYY-MM-DDTHH:MM:SSZ") from None
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise bad(name, f"an integer from {low} to {high}") from None
    if not low <= number <= high:
        raise bad(name, f"an integer from {low} to {high}")
    return number


def _after(raw: str) -> tuple[object, str]:
    try:
        value, last_id = orjson.loads(raw)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        raise bad("after", "the JSON [sort value, id] of a row") from None
    if not isinstance(last_id, str) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise bad("after", "the JSON [sort value, id] of a row")
    return value, last_id
