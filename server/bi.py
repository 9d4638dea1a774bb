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
as told (`Retry-After`) and goes on, up to MAX_BUDGET_WAIT in all. Its backend calls queue
in the `batch` class (`budgets.bi_exports`), behind people's; a page a backend's budget
shed (BACKEND_BUSY) is asked again after the wait it advises, within the same MAX_BUDGET_WAIT:
an export slows down rather than fails while the systems of record are busy.

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

import asyncio
import datetime
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from graphql import GraphQLSchema

from resolvers.context import Principal
from server import access
from server.access import bi_caller
from server.bi_encode import CsvEncoder, JsonEncoder
from server.bi_params import BadParameter, variables_from
from server.bi_plan import ExportPlan, NotExportable, build_plan, rows_of
from server.gateway import BadRequest, bi_error_body, requested_max_age
from server.persisted import PersistedDocuments

log = logging.getLogger("isthmus.bi")

DENIED_HEADER = "X-Isthmus-Denied-Columns"
AS_OF_HEADER = "X-Isthmus-As-Of"
CELL_ERROR_CODES = frozenset({"FORBIDDEN", "NOT_FOUND", "BOM_CYCLE"})  # an empty cell; anything else fails
ERROR_STATUS = {
    "SOURCE_UNAVAILABLE": 503,
    "SOURCE_TIMEOUT": 504,
    "DEADLINE_EXCEEDED": 504,
    "SOURCE_BAD_RESPONSE": 502,
    "BACKEND_BUSY": 503,
    "INTERNAL": 500,
}
MAX_BUDGET_WAIT = 120.0  # seconds an export may wait in all for the caller's cost budget to refill


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
    return [e for e in result.get("errors") or () if _code(e) not in CELL_ERROR_CODES]


def _status_of(errors: list[dict[str, Any]]) -> int:
    return max((ERROR_STATUS.get(_code(e), 400) for e in errors), default=400)


def _busy_for(result: dict[str, Any]) -> int | None:
    """Seconds to wait when every fatal error of a page is a backend's budget shedding it; else None."""
    fatal = _fatal(result)
    if not fatal or any(_code(e) != "BACKEND_BUSY" for e in fatal):
        return None
    return max(int((e.get("extensions") or {}).get("retryAfter") or 1) for e in fatal)


def _code(error: dict[str, Any]) -> str:
    return str((error.get("extensions") or {}).get("code") or "")


def add_bi_routes(app: FastAPI, metrics: Any, take_request_id: Callable[[Request], str]) -> None:
    def refuse(
        message: str, code: str, status: int, request_id: str, headers: dict[str, str] | None = None
    ) -> Response:
        return Response(
            bi_error_body(message, code),
            status,
            media_type="application/json",
            headers={"X-Request-Id": request_id, **(headers or {})},
        )

    @app.api_route(
        "/bi/{export}",
        methods=["GET", "HEAD"],
        summary="A trusted operation as flat rows: /bi/<operationName>.csv or .json",
    )
    async def bi_export(export: str, request: Request, principal: Principal = Depends(bi_caller)) -> Response:
        request_id = take_request_id(request)
        gateway = request.app.state.gateway
        exports: Exports = request.app.state.exports
        started = time.perf_counter()
        name, _, fmt = export.rpartition(".")
        if fmt not in ("csv", "json") or not name:
            return refuse(
                "Exports are /bi/<operationName>.csv or /bi/<operationName>.json.", "NOT_FOUND", 404, request_id
            )
        plan = exports.plans.get(name)
        if plan is None:
            if name in exports.not_exportable:
                return refuse(exports.not_exportable[name], "NOT_EXPORTABLE", 400, request_id)
            return refuse(
                f"No trusted operation is named {name!r}; GET /persisted/manifest lists them.",
                "PERSISTED_DOCUMENT_NOT_FOUND",
                404,
                request_id,
            )
        schema = gateway.executor.schema
        try:
            variables = variables_from(plan, schema, request.query_params)
            max_age = requested_max_age(request.headers.get("cache-control"))
            if request.query_params.get("quoting", "minimal").lower() not in ("minimal", "all"):
                raise BadParameter("`quoting` is `minimal` (the default) or `all`.")
        except BadParameter as exc:
            return refuse(str(exc), "BAD_USER_INPUT", 400, request_id)
        except BadRequest as exc:
            return refuse(str(exc), exc.code, exc.status, request_id, exc.headers)
        if plan.paging is not None:
            variables[plan.paging.after] = None
            if plan.paging.first is not None:
                variables[plan.paging.first] = plan.paging.page_size

        async def page() -> dict[str, Any]:
            """One page; asked again while a backend's budget sheds it (up to MAX_BUDGET_WAIT in all)."""
            payload = {"query": plan.document.body, "operationName": plan.name, "variables": dict(variables)}
            waited = 0.0
            while True:
                result, _ = await gateway.handle(
                    payload,
                    request_id=request_id,
                    principal=principal,
                    method="GET",
                    max_age=max_age,
                    priority=gateway.settings.budgets.bi_exports,
                )
                await settle(gateway, plan, principal, payload["variables"], result)  # each attempt was charged
                wait = _busy_for(result)
                if wait is None or waited + wait > MAX_BUDGET_WAIT:
                    return result
                waited += wait
                await asyncio.sleep(wait)

        operation = metrics.operation_label(plan.name)

        def audit(status: int, outcome: str, rows: int) -> None:
            seconds = time.perf_counter() - started
            metrics.request(operation, outcome, seconds)
            access.audit(
                request,
                principal=principal,
                status=status,
                outcome=outcome,
                operation=operation,
                document=plan.document.document_id,
                format=fmt,
                denied=denied_columns,
                rows=rows,
                duration_ms=round(seconds * 1000, 2),
            )

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
            busy = _busy_for(first)
            return Response(
                bi_error_body(str(fatal[0].get("message")), _code(fatal[0]), first.get("errors")),
                status,
                media_type="application/json",
                headers={"X-Request-Id": request_id, **({"Retry-After": str(busy)} if busy else {})},
            )

        bom = request.query_params.get("bom", "").lower() in ("1", "true", "yes")
        quote_all = request.query_params.get("quoting", "minimal").lower() == "all"
        encoder = CsvEncoder(plan, bom, quote_all) if fmt == "csv" else JsonEncoder(plan)

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
                    if after is None or after in cursors or plan.paging is None:  # (a cursor means paging)
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
                        raise ExportFailed(
                            "; ".join(
                                f"{(e.get('extensions') or {}).get('code')}: {e.get('message')}" for e in fatal[:3]
                            )
                        )
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
        if request.method == "HEAD":  # the GET's status and headers, known from the first page; no body
            audit(200, "ok", 0)
            head = Response(None, media_type=encoder.media_type, headers=headers)
            del head.headers["content-length"]
            return head
        return StreamingResponse(body(first), media_type=encoder.media_type, headers=headers)


async def settle(gateway: Any, plan: ExportPlan, principal: Principal, variables: Any, result: dict[str, Any]) -> None:
    """Charge a page what it read, not what it might have read: the budget took the estimate
    before the page ran (a list as long as its `first`, an unbounded one 10 long); give back
    what the answer shows was not read, by the same rule counted on the real lists.

    A long export is paced by its real size: open orders read 100 orders of each customer
    and 10 lines of each in the estimate, a twentieth of that in fact.
    """
    prepared = gateway.documents.prepare(plan.document.body)
    if prepared.document is None:
        return
    _, costs = gateway.documents.demand(prepared, plan.name)
    estimated = costs.estimate(variables)
    if estimated is not None:
        await gateway.budget.refund(principal.id, estimated - read_cost(result.get("data")))


def read_cost(value: Any) -> int:
    """The estimate's rule on an answer: every field 1, a list what its elements select."""
    if isinstance(value, dict):
        return sum(1 + read_cost(item) for item in value.values())
    if isinstance(value, list):
        return sum(read_cost(item) for item in value)
    return 0


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
