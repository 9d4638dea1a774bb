"""BI exports: a trusted operation as flat rows, `GET /bi/<operationName>.csv` or `.json`.

Rows and columns (the README has an example):

- The operation's **first list** (depth first, in document order) gives the rows;
  fields outside it (`totalCount`, `pageInfo`) are not columns.
- Columns are the leaf fields below it, named by their dotted response keys (aliases
  count) relative to a row: `receivables.aging.d1to30`. For a connection
  (`customers { edges { node { ... } } }`) the `node.` prefix is dropped.
- A **nested list** is exploded: one row per element, the parent's cells repeated
  (`orders.lines.sku`). An empty or null list keeps the parent's row, its own cells
  empty. Two lists side by side are not multiplied: the rows of the first come
  first, then those of the second, each with the other's cells empty.
- `# bi.where: <column> <op> <JSON value>` lines in the document keep only the rows
  that match (ops `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`; numbers, including
  Decimal strings, compare as numbers; an empty cell matches only `== null`). They
  are part of the trusted text, so part of its hash.

Variables are query parameters, typed from the operation's variable definitions
(a list: the parameter repeated, or comma-separated for non-string items); a bad or
unknown one is `BAD_USER_INPUT` (400) before anything runs.

Paging: when the first list is a connection's `edges`, the connection's `after` is a
variable and `pageInfo { hasNextPage endCursor }` is selected, the export asks for
page after page (`$first` = its default in the document, else `persisted.bi_page_size`)
and streams each page's rows as it comes: memory stays flat however long the export.
`$first` and `$after` of that connection are the exporter's own, not parameters.
Each page is charged to the caller's cost budget; when it is spent, the export waits
as told (`Retry-After`) and goes on, up to MAX_BUDGET_WAIT in all.

Authorisation is the GraphQL path's: every page runs through `Gateway.handle` as the
caller. A column below a field the caller may not read is empty, and listed in
`X-Isthmus-Denied-Columns` (known from the policy before the first byte). Other
errors (a backend down, the deadline) on the first page are an HTTP error with the
coded errors; on a later page the stream is cut off (no silent truncation).

As of when: `X-Isthmus-As-Of` (ISO 8601, UTC) is a time no later than the reading of
the oldest backend data behind the first page: the moment the page came back less the
largest age its freshness report gives, and at the latest the moment it was asked for
(data read live is read after that). A finance user knows how current the figures are;
later pages are read after it, each within the caches' TTLs.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import gc
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, AsyncIterator, Callable, Iterator

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_enum_type,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
    type_from_ast,
)

from server.auth import Unauthenticated
from server.gateway import BadRequest, error_body, requested_max_age
from server.persisted import ManifestError, PersistedDocuments, TrustedDocument

log = logging.getLogger("isthmus.bi")
access_log = logging.getLogger("isthmus.access")

RESERVED = frozenset({"bom"})
DENIED_HEADER = "X-Isthmus-Denied-Columns"
AS_OF_HEADER = "X-Isthmus-As-Of"
CELL_ERROR_CODES = frozenset({"FORBIDDEN", "NOT_FOUND", "BOM_CYCLE"})  # an empty cell; anything else fails
ERROR_STATUS = {"SOURCE_UNAVAILABLE": 503, "SOURCE_TIMEOUT": 504, "DEADLINE_EXCEEDED": 504,
                "SOURCE_BAD_RESPONSE": 502, "INTERNAL": 500}
WHERE = re.compile(r"^\s*#\s*bi\.where:\s*(?P<column>[\w.]+)\s+(?P<op>==|!=|<=|>=|<|>|not in|in)\s+(?P<value>.+?)\s*$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_BUDGET_WAIT = 120.0  # seconds an export may wait in all for the caller's cost budget to refill
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


# ---------------------------------------------------------------------------
# The plan: which list gives the rows, which leaves are columns
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    coordinates: tuple[str, ...]  # every `Type.field` from the root to the leaf


@dataclass
class Leaf:
    column: Column
    has_list: bool = False


@dataclass
class Obj:
    entries: list[tuple[str, Any]]
    has_list: bool = False


@dataclass
class Lst:
    item: Any
    has_list: bool = True


@dataclass(frozen=True)
class Paging:
    after: str  # the variable
    first: str | None  # the variable, if `first` is one
    page_size: int
    page_info: tuple[str, ...]  # response keys from `data` to pageInfo
    has_next: str
    end_cursor: str


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any

    def matches(self, cell: Any) -> bool:
        if self.op in ("in", "not in"):
            found = any(_equal(cell, v) for v in self.value)
            return found if self.op == "in" else not found
        if self.op == "==":
            return _equal(cell, self.value)
        if self.op == "!=":
            return not _equal(cell, self.value)
        if cell is None or self.value is None:
            return False
        left, right = _number(cell), _number(self.value)
        if left is None or right is None:
            left, right = str(cell), str(self.value)
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[self.op]


@dataclass
class ExportPlan:
    name: str
    document: TrustedDocument
    operation: OperationDefinitionNode
    row_path: tuple[str, ...]
    row_coordinates: tuple[str, ...]
    item: Any
    columns: list[Column]
    paging: Paging | None
    filters: list[Filter] = field(default_factory=list)


class NotExportable(Exception):
    pass


def build_plan(document: TrustedDocument, schema: GraphQLSchema, default_page_size: int = 100) -> ExportPlan:
    ast = parse(document.body)
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    found = _find_rows(schema, fragments, schema.query_type, [operation.selection_set], (), ())
    if found is None:
        raise NotExportable(f"{document.name} selects no list, so it has no rows to export")
    row_path, coordinates, chain, list_type, item_sets = found
    item_type = get_named_type(list_type)
    node_key = None
    if len(chain) >= 2 and chain[-1][1] == "edges" and get_named_type(chain[-2][2]).name.endswith("Connection"):
        node_key = next((key for key, name in _field_names(schema, fragments, item_type, item_sets) if name == "node"), None)

    def column_name(names: tuple[str, ...]) -> str:
        if not names:  # a list of scalars gives the rows: the column is the list's own key
            return row_path[-1]
        if node_key is not None and len(names) > 1 and names[0] == node_key:
            names = names[1:]
        return ".".join(names)

    item = _plan_value(schema, fragments, list_type.of_type, item_sets, (), coordinates, column_name)
    columns = list(_columns(item))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise NotExportable(f"{document.name}: two columns would have the same name; use aliases")
    paging = _paging(schema, fragments, operation, chain, row_path, default_page_size)
    filters = []
    for line in document.body.splitlines():
        match = WHERE.match(line)
        if match is None:
            if "bi.where" in line:
                raise ManifestError(f"{document.file}: not a `# bi.where: <column> <op> <JSON value>` line: {line.strip()}")
            continue
        try:
            value = json.loads(match["value"])
        except json.JSONDecodeError:
            raise ManifestError(f"{document.file}: the value in `{line.strip()}` is not JSON") from None
        if match["column"] not in names:
            raise ManifestError(f"{document.file}: bi.where names {match['column']!r}, not a column ({', '.join(names)})")
        if match["op"] in ("in", "not in") and not isinstance(value, list):
            raise ManifestError(f"{document.file}: `{match['op']}` needs a JSON list")
        filters.append(Filter(match["column"], match["op"], value))
    return ExportPlan(document.name, document, operation, row_path, coordinates, item, columns, paging, filters)


def _collect(schema: GraphQLSchema, fragments: dict, parent: Any, selection_sets: list[SelectionSetNode]
             ) -> dict[str, list[tuple[Any, FieldNode]]]:
    """Fields by response key, merged across the selection sets and fragments (as GraphQL merges them)."""
    out: dict[str, list[tuple[Any, FieldNode]]] = {}

    def walk(selection_set: SelectionSetNode, owner: Any) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append((owner, selection))
            elif isinstance(selection, InlineFragmentNode):
                target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else owner
                walk(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                walk(fragment.selection_set, schema.get_type(fragment.type_condition.name.value))

    for selection_set in selection_sets:
        walk(selection_set, parent)
    return out


def _field_names(schema, fragments, parent, selection_sets) -> list[tuple[str, str]]:
    return [(key, nodes[0][1].name.value) for key, nodes in _collect(schema, fragments, parent, selection_sets).items()]


def _find_rows(schema, fragments, parent, selection_sets, path, coordinates, chain=()):
    for key, nodes in _collect(schema, fragments, parent, selection_sets).items():
        owner, node = nodes[0]
        name = node.name.value
        if name.startswith("__"):
            continue
        definition = owner.fields[name]
        type_ = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        here = (*chain, (key, name, definition.type, nodes))
        subsets = [n.selection_set for _, n in nodes if n.selection_set is not None]
        coordinate = f"{owner.name}.{name}"
        if is_list_type(type_):
            return (*path, key), (*coordinates, coordinate), here, type_, subsets
        if subsets:
            found = _find_rows(schema, fragments, get_named_type(type_), subsets, (*path, key), (*coordinates, coordinate), here)
            if found is not None:
                return found
    return None


def _plan_value(schema, fragments, type_, selection_sets, names, coordinates, column_name) -> Any:
    if is_non_null_type(type_):
        type_ = type_.of_type
    if is_list_type(type_):
        return Lst(_plan_value(schema, fragments, type_.of_type, selection_sets, names, coordinates, column_name))
    if is_leaf_type(type_):
        return Leaf(Column(column_name(names), coordinates))
    entries: list[tuple[str, Any]] = []
    for key, nodes in _collect(schema, fragments, type_, selection_sets).items():
        owner, node = nodes[0]
        name = node.name.value
        if name == "__typename":
            entries.append((key, Leaf(Column(column_name((*names, key)), coordinates))))
            continue
        definition = owner.fields[name]
        subsets = [n.selection_set for _, n in nodes if n.selection_set is not None]
        entries.append((key, _plan_value(schema, fragments, definition.type, subsets, (*names, key),
                                         (*coordinates, f"{owner.name}.{name}"), column_name)))
    return Obj(entries, has_list=any(child.has_list for _, child in entries))


def _columns(node: Any) -> Iterator[Column]:
    if isinstance(node, Leaf):
        yield node.column
    elif isinstance(node, Lst):
        yield from _columns(node.item)
    else:
        for _, child in node.entries:
            yield from _columns(child)


def _paging(schema, fragments, operation, chain, row_path, default_page_size) -> Paging | None:
    if len(chain) < 2 or chain[-1][1] != "edges":
        return None
    key, name, connection_type, nodes = chain[-2]
    connection = get_named_type(connection_type)
    if not connection.name.endswith("Connection"):
        return None
    arguments = {a.name.value: a.value for _, n in nodes for a in n.arguments or ()}
    after = arguments.get("after")
    if not isinstance(after, VariableNode):
        return None
    first = arguments.get("first")
    first_variable = first.name.value if isinstance(first, VariableNode) else None
    page_size = default_page_size
    if first_variable is not None:
        definition = next(v for v in operation.variable_definitions if v.variable.name.value == first_variable)
        if isinstance(definition.default_value, IntValueNode):
            page_size = int(definition.default_value.value)
    elif isinstance(first, IntValueNode):
        page_size = int(first.value)
    subsets = [n.selection_set for _, n in nodes if n.selection_set is not None]
    page_info_key = next((k for k, n in _field_names(schema, fragments, connection, subsets) if n == "pageInfo"), None)
    if page_info_key is None:
        return None
    page_info_nodes = _collect(schema, fragments, connection, subsets)[page_info_key]
    inner = {n: k for k, n in _field_names(schema, fragments, schema.get_type("PageInfo"),
                                           [x.selection_set for _, x in page_info_nodes if x.selection_set])}
    if "hasNextPage" not in inner or "endCursor" not in inner:
        return None
    return Paging(after.name.value, first_variable, page_size, (*row_path[:-1], page_info_key),
                  inner["hasNextPage"], inner["endCursor"])


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


def rows_of(plan: ExportPlan, data: Any) -> Iterator[dict[str, Any]]:
    """The flat rows of one answer's `data`, every column present (None when empty), filters applied."""
    items = data
    for key in plan.row_path:
        if not isinstance(items, dict):
            return
        items = items.get(key)
    if not items:
        return
    names = [c.name for c in plan.columns]
    for item in items:
        for partial in _expand(item, plan.item):
            row = {name: partial.get(name) for name in names}
            if all(f.matches(row[f.column]) for f in plan.filters):
                yield row


def _expand(value: Any, node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, Leaf):
        yield {node.column.name: value}
        return
    if isinstance(node, Lst):
        for element in value or ():
            yield from _expand(element, node.item)
        return
    if not isinstance(value, dict):  # null object: its cells are empty
        yield {}
        return
    fixed: dict[str, Any] = {}
    listing: list[tuple[str, Any]] = []
    for key, child in node.entries:
        if child.has_list:
            listing.append((key, child))
        else:
            for partial in _expand(value.get(key), child):
                fixed.update(partial)
    produced = False
    for key, child in listing:
        for partial in _expand(value.get(key), child):
            produced = True
            yield {**fixed, **partial}
    if not produced:
        yield fixed


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str) and NUMBER.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _equal(cell: Any, value: Any) -> bool:
    if cell is None or value is None:
        return cell is None and value is None
    left, right = _number(cell), _number(value)
    if left is not None and right is not None:
        return left == right
    return cell == value


def csv_cell(value: Any) -> str:
    """Text of one CSV cell: empty for null, true/false, and no formula a spreadsheet would run."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.match(text):
        return "'" + text  # CSV injection: `=HYPERLINK(...)` in a ticket subject stays text
    return text


# ---------------------------------------------------------------------------
# Variables from the query string
# ---------------------------------------------------------------------------


class BadParameter(Exception):
    pass


def variables_from(plan: ExportPlan, schema: GraphQLSchema, params: Any) -> dict[str, Any]:
    definitions = {v.variable.name.value: v for v in plan.operation.variable_definitions or ()}
    owned = {plan.paging.after, plan.paging.first} - {None} if plan.paging else set()
    accepted = [name for name in definitions if name not in owned]
    variables: dict[str, Any] = {}
    for name in params.keys():
        if name in RESERVED:
            continue
        if name not in definitions or name in owned:
            why = "is set by the exporter (it pages through the whole list)" if name in owned else "is not a parameter of this export"
            raise BadParameter(f"`{name}` {why}; it takes: {', '.join(accepted) or 'no parameters'}.")
        values = [v for v in params.getlist(name) if v != ""]
        if not values:
            continue
        type_ = type_from_ast(schema, definitions[name].type)
        variables[name] = _convert(name, values, type_)
    for name in accepted:
        definition = definitions[name]
        if name not in variables and is_non_null_type(type_from_ast(schema, definition.type)) and definition.default_value is None:
            raise BadParameter(f"`{name}` is required ({_type_text(definition.type)}).")
    return variables


def _convert(name: str, values: list[str], type_: Any) -> Any:
    nullable = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(nullable, GraphQLList):
        item = nullable.of_type
        named = get_named_type(item)
        if len(values) == 1 and named.name not in ("String",):
            values = [v.strip() for v in values[0].split(",") if v.strip()]
        return [_one(name, value, item) for value in values]
    if len(values) > 1:
        raise BadParameter(f"`{name}` is given {len(values)} times; it takes one value.")
    return _one(name, values[0], nullable)


def _one(name: str, text: str, type_: Any) -> Any:
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(named, GraphQLList):
        raise BadParameter(f"`{name}`: lists of lists cannot be given as query parameters.")
    if is_enum_type(named):
        if text not in named.values:
            raise BadParameter(f"`{name}` must be one of {', '.join(named.values)}, got {text!r}.")
        return text
    if is_input_object_type(named):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise BadParameter(f"`{name}` must be a JSON object ({named.name}).") from None
        if not isinstance(value, dict):
            raise BadParameter(f"`{name}` must be a JSON object ({named.name}).")
        return value
    if named.name == "Int":
        try:
            return int(text)
        except ValueError:
            raise BadParameter(f"`{name}` must be a whole number, got {text!r}.") from None
    if named.name == "Float":
        try:
            return float(text)
        except ValueError:
            raise BadParameter(f"`{name}` must be a number, got {text!r}.") from None
    if named.name == "Boolean":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise BadParameter(f"`{name}` must be true or false, got {text!r}.")
    return text  # String, ID, Date, DateTime, Decimal: the schema's scalars check the text


def _type_text(node: Any) -> str:
    from graphql import print_ast

    return print_ast(node)


# ---------------------------------------------------------------------------
# Exporting
# ---------------------------------------------------------------------------


class ExportFailed(Exception):
    """A page after the first failed: the stream is cut off rather than silently short."""


class Exports:
    def __init__(self, documents: PersistedDocuments, schema: GraphQLSchema, page_size: int) -> None:
        self.documents = documents
        self.plans: dict[str, ExportPlan] = {}
        self.not_exportable: dict[str, str] = {}
        for name, document in documents.manifest.by_name.items():
            try:
                self.plans[name] = build_plan(document, schema, page_size)
            except NotExportable as exc:
                self.not_exportable[name] = str(exc)


def _fatal(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in result.get("errors") or () if (e.get("extensions") or {}).get("code") not in CELL_ERROR_CODES]


def _status_of(errors: list[dict[str, Any]]) -> int:
    return max((ERROR_STATUS.get((e.get("extensions") or {}).get("code"), 400) for e in errors), default=400)


def add_bi_routes(app: FastAPI, metrics: Any, take_request_id: Callable[[Request], str]) -> None:
    def refuse(message: str, code: str, status: int, request_id: str, headers: dict[str, str] | None = None) -> Response:
        return Response(error_body(message, code), status, media_type="application/json",
                        headers={"X-Request-Id": request_id, **(headers or {})})

    @app.get("/bi/{export}", summary="A trusted operation as flat rows: /bi/<operationName>.csv or .json")
    async def bi_export(export: str, request: Request) -> Response:
        request_id = take_request_id(request)
        gateway = request.app.state.gateway
        exports: Exports = request.app.state.exports
        started = time.perf_counter()
        try:
            principal = gateway.authenticator.authenticate(request.headers)
        except Unauthenticated as exc:
            access_log.info("bi", extra={"principal": None, "method": "GET", "export": export, "status": 401,
                                         "outcome": "unauthenticated"})
            return refuse(str(exc), "UNAUTHENTICATED", 401, request_id, {"WWW-Authenticate": 'Bearer realm="isthmus"'})
        name, _, fmt = export.rpartition(".")
        if fmt not in ("csv", "json") or not name:
            return refuse("Exports are /bi/<operationName>.csv or /bi/<operationName>.json.", "NOT_FOUND", 404, request_id)
        plan = exports.plans.get(name)
        if plan is None:
            if name in exports.not_exportable:
                return refuse(exports.not_exportable[name], "NOT_EXPORTABLE", 400, request_id)
            return refuse(f"No trusted operation is named {name!r}; GET /persisted/manifest lists them.",
                          "PERSISTED_DOCUMENT_NOT_FOUND", 404, request_id)
        schema = gateway.executor.schema
        try:
            variables = variables_from(plan, schema, request.query_params)
            max_age = requested_max_age(request.headers.get("cache-control"))
        except BadParameter as exc:
            return refuse(str(exc), "BAD_USER_INPUT", 400, request_id)
        except BadRequest as exc:
            return refuse(str(exc), exc.code, exc.status, request_id, exc.headers)
        if plan.paging is not None:
            variables[plan.paging.after] = None
            if plan.paging.first is not None:
                variables[plan.paging.first] = plan.paging.page_size

        async def page() -> dict[str, Any]:
            payload = {"query": plan.document.body, "operationName": plan.name, "variables": dict(variables)}
            result, _ = await gateway.handle(payload, request_id=request_id, principal=principal, method="GET",
                                             max_age=max_age)
            return result

        operation = metrics.operation_label(plan.name)

        def audit(status: int, outcome: str, rows: int) -> None:
            seconds = time.perf_counter() - started
            metrics.request(operation, outcome, seconds)
            access_log.info("bi", extra={
                "principal": principal.id, "roles": list(principal.roles), "method": "GET", "operation": operation,
                "document": plan.document.document_id, "format": fmt, "status": status, "outcome": outcome,
                "denied": denied_columns, "rows": rows, "duration_ms": round(seconds * 1000, 2),
            })

        denied_columns = _denied_columns(plan, gateway, principal)
        try:
            asked_at = time.time()
            first = await page()
            answered_at = time.time()
        except BadRequest as exc:
            audit(exc.status, "refused", 0)
            return refuse(str(exc), exc.code, exc.status, request_id, exc.headers)
        fatal = _fatal(first)
        if fatal:
            status = _status_of(fatal)
            audit(status, "error", 0)
            return Response(orjson.dumps({"errors": first.get("errors")}), status, media_type="application/json",
                            headers={"X-Request-Id": request_id})

        bom = request.query_params.get("bom", "").lower() in ("1", "true", "yes")
        encoder = CsvEncoder(plan, bom) if fmt == "csv" else JsonEncoder(plan)

        async def body(result: dict[str, Any]) -> AsyncIterator[bytes]:
            rows, outcome = 0, "ok"
            cursors: set[str] = set()
            try:
                yield encoder.start()
                while True:
                    batch = list(rows_of(plan, result.get("data")))
                    rows += len(batch)
                    if batch:
                        yield encoder.rows(batch)
                    after = _next_cursor(plan, result)
                    if after is None or after in cursors:
                        break
                    cursors.add(after)
                    variables[plan.paging.after] = after
                    # The page just sent leaves ~15k objects in reference cycles (execution
                    # context, loaders, futures); with the server's lazy collector settings
                    # they would pile up page after page. Collecting the young generations
                    # here (5-35 ms a page, measured) keeps a long export's memory flat.
                    del batch
                    gc.collect(1)
                    result = await paced(page)
                    fatal = _fatal(result)
                    if fatal:
                        raise ExportFailed("; ".join(f"{(e.get('extensions') or {}).get('code')}: {e.get('message')}" for e in fatal[:3]))
                    result.pop("extensions", None)
                yield encoder.end()
            except ExportFailed as exc:
                outcome = "error"
                log.error("export %s cut off after %d rows: %s", plan.name, rows, exc)
                raise
            finally:
                audit(200, outcome, rows)

        headers = {
            "X-Request-Id": request_id,
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="{plan.name}.{fmt}"',
        }
        if denied_columns:
            headers[DENIED_HEADER] = ",".join(denied_columns)
        headers[AS_OF_HEADER] = as_of(first, asked_at, answered_at)
        return StreamingResponse(body(first), media_type=encoder.media_type, headers=headers)


def as_of(result: dict[str, Any], asked_at: float, answered_at: float) -> str:
    """No later than the reading of the oldest data behind `result`: `answered_at` less the
    largest age in its freshness report (per source), at the latest `asked_at`; ISO 8601 UTC."""
    ages = [entry.get("age", 0.0) for entry in ((result.get("extensions") or {}).get("freshness") or {}).values()]
    moment = datetime.datetime.fromtimestamp(min(asked_at, answered_at - max(ages, default=0.0)), datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def paced(page: Callable[[], Any]) -> dict[str, Any]:
    """A later page: when the caller's cost budget is spent, wait as told (Retry-After) and go on.

    A long export is paced by the budget instead of failing half-way; a wait past
    MAX_BUDGET_WAIT in all, or any other refusal, cuts the stream off.
    """
    waited = 0.0
    while True:
        try:
            return await page()
        except BadRequest as exc:
            wait = float(exc.headers.get("Retry-After", "1")) if exc.code == "RATE_LIMITED" else None
            if wait is None or waited + wait > MAX_BUDGET_WAIT:
                raise ExportFailed(f"{exc.code}: {exc}") from None
            waited += wait
            await asyncio.sleep(wait)


def _denied_columns(plan: ExportPlan, gateway: Any, principal: Any) -> list[str]:
    if not gateway.settings.auth.enabled:
        return []
    authorizer = gateway.authorizer
    authorizer.reload_if_changed()
    return [c.name for c in plan.columns if not all(authorizer.can_read(principal.roles, f) for f in c.coordinates)]


def _next_cursor(plan: ExportPlan, result: dict[str, Any]) -> str | None:
    if plan.paging is None:
        return None
    info: Any = result.get("data")
    for key in plan.paging.page_info:
        if not isinstance(info, dict):
            return None
        info = info.get(key)
    if not isinstance(info, dict) or not info.get(plan.paging.has_next):
        return None
    cursor = info.get(plan.paging.end_cursor)
    return cursor if isinstance(cursor, str) else None


class CsvEncoder:
    media_type = "text/csv; charset=utf-8"

    def __init__(self, plan: ExportPlan, bom: bool) -> None:
        self.names = [c.name for c in plan.columns]
        self.bom = bom
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def _take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")

    def start(self) -> bytes:
        self.writer.writerow(self.names)
        return ("\ufeff".encode("utf-8") if self.bom else b"") + self._take()

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        self.writer.writerows([csv_cell(row[name]) for name in self.names] for row in rows)
        return self._take()

    def end(self) -> bytes:
        return b""


class JsonEncoder:
    """A JSON array of flat objects, one per row, keys in column order."""

    media_type = "application/json"

    def __init__(self, plan: ExportPlan) -> None:
        self.started = False

    def start(self) -> bytes:
        return b"["

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        parts = [orjson.dumps(row) for row in rows]
        chunk = (b",\n" if self.started else b"\n") + b",\n".join(parts)
        self.started = True
        return chunk

    def end(self) -> bytes:
        return b"\n]\n"
