"""The ERP source over Tryton 8.2's JSON-RPC: the same batch methods and records as the demo ERP.

Protocol (`POST <url>/<database>/rpc/`, JSON):
- envelope `{"id", "method", "params"}`, answer `{"id", "result"}` or `{"id", "error"}`, the
  error with HTTP 200; HTTP 401 for a missing or expired session, 429 after repeated failed
  logins;
- typed values both ways: `{"__class__": "Decimal", "decimal": "1.50"}`, `{"__class__": "date",
  "year", "month", "day"}`, datetime, timedelta, bytes;
- a model method is `model.<model>.<method>` and its last positional parameter is the context,
  which must carry the user's company (company-dependent fields such as credit limits and
  cost prices are empty without it);
- `common.db.login` answers `[user_id, session, ...]`; later calls send
  `Authorization: Session base64(login:user_id:session)`.

The session (and with it the company context, the company's currency and the stock location
tree) is made once, on first use, and kept: a 401 logs in again once, failed logins back
off (Tryton answers 429 after five). Reads are `search_read` on whole batches of keys
(`['code', 'in', [...]]`) with dotted field names (`party.code`, `lines.product.code`), so a
batch of parties, orders or invoices costs one round trip, nested lines included.

Mapping (what each record field is read from) is listed per method; the approximations are
named where they are made. Everything above `sources/` sees the records of `records.py`
only, so the gateway works with either ERP unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

import msgspec

from sources.base import Lookup, Related, Source, cached, group_by
from sources.cache import CachePolicy
from sources.errors import (
    SourceBadResponse,
    SourceError,
    SourceOutcomeUnknown,
    SourceRejected,
    SourceTimeout,
    SourceUnauthorized,
    SourceUnavailable,
)
from sources.http import BackendClient
from sources.records import (
    ApprovalRequest,
    BomLine,
    Instalment,
    Invoice,
    InvoiceStatus,
    OpenItem,
    Order,
    OrderDraft,
    OrderLine,
    OrderStatus,
    Party,
    Product,
    Receipt,
    Stock,
    Warehouse,
    checked,
)

CENT = Decimal("0.01")
# How long the stock location tree (warehouses and their zones) is trusted before re-reading it.
TOPOLOGY_TTL = 300.0
# Failed logins back off exponentially up to this many seconds (Tryton locks out after five).
MAX_LOGIN_BACKOFF = 30.0
CONTEXT_KEYS = ("company", "companies", "employee", "language")
TRANSIENT_ERRORS = ("DatabaseOperationalError", "ConcurrencyException", "database is locked", "TimeoutException")
UOM_CODES = {"u": "EA", "kg": "KG", "m": "M", "l": "L"}
PENDING_MOVES = ("draft", "assigned")


# --- typed JSON -------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """Python values to Tryton's JSON: Decimal and dates as `__class__` objects."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dt.timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, bytes):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    return value


def _decode_object(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind is None:
        return obj
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
            tzinfo=dt.UTC,
        )
    if kind == "time":
        return dt.time(obj.get("hour", 0), obj.get("minute", 0), obj.get("second", 0), obj.get("microsecond", 0))
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def decode(body: bytes) -> Any:
    return json.loads(body, object_hook=_decode_object)


@overload
def number(value: Decimal) -> Decimal: ...
@overload
def number(value: Any) -> Decimal | None: ...
def number(value: Any) -> Decimal | None:
    """A Tryton number (float quantity or Decimal amount) as a Decimal, two places when exact."""
    if value is None:
        return None
    try:
        result = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation:
        return None
    cents = result.quantize(CENT)
    return cents if cents == result else result.normalize()


def quantity_of(value: Any) -> Decimal:
    """A Tryton quantity, zero when missing (or unreadable)."""
    found = number(value or 0.0)
    return found if found is not None else Decimal("0.00")


# --- the session ------------------------------------------------------------------------------


@dataclass
class Location:
    id: int
    code: str | None
    name: str
    type: str
    parent: int | None


@dataclass
class Topology:
    """The stock location tree: which warehouse each location belongs to."""

    locations: dict[int, Location]
    loaded_at: float = field(default_factory=time.monotonic)

    @property
    def warehouses(self) -> list[Location]:
        return sorted((loc for loc in self.locations.values() if loc.type == "warehouse"), key=lambda loc: loc.id)

    def warehouse_of(self, location_id: int | None) -> Location | None:
        seen = 0
        while location_id is not None and seen < 64:
            location = self.locations.get(location_id)
            if location is None:
                return None
            if location.type == "warehouse":
                return location
            location_id = location.parent
            seen += 1
        return None

    def kind_of(self, location_id: int | None) -> str | None:
        location = self.locations.get(location_id) if location_id is not None else None
        return location.type if location else None

    @staticmethod
    def key(location: Location) -> str:
        """A warehouse's id for the gateway: its code (its database id when it has none)."""
        return location.code or str(location.id)


@dataclass
class Session:
    authorization: str
    context: dict[str, Any]
    currency: str | None


class TrytonRpc:
    """Tryton's JSON-RPC over the gateway's `BackendClient`: session, context, typed values, errors."""

    def __init__(
        self, http: BackendClient, *, database: str, user: str, password: str | None, language: str = "en"
    ) -> None:
        self.http = http
        self.source = http.source
        self.path = f"/{database}/rpc/"
        self.user = user
        self._password = password
        self.language = language
        self._session: Session | None = None
        self._login_lock = asyncio.Lock()
        self._login_failures = 0
        self._login_blocked_until = 0.0
        self._ids = 0

    # The password never appears in a repr, a log line or an error.
    def __repr__(self) -> str:
        return f"TrytonRpc({self.http.base_url}{self.path}, user={self.user!r})"

    async def session(self) -> Session:
        if self._session is not None:
            return self._session
        async with self._login_lock:
            if self._session is None:
                self._session = await self._login()
            return self._session

    async def _login(self) -> Session:
        now = time.monotonic()
        if now < self._login_blocked_until:
            raise SourceUnavailable(self.source, "login", f"backing off after {self._login_failures} failed login(s)")
        if not self._password:
            raise SourceUnavailable(self.source, "login", "no password configured (tryton.password)")
        try:
            answer = await self._post(
                "login",
                "common.db.login",
                [self.user, {"password": self._password}, self.language],
                authorization=None,
                idempotent=False,
            )
        except SourceError as exc:
            refused = isinstance(exc, SourceUnauthorized) or exc.detail == "HTTP 429"
            if refused:
                # Tryton counts refused logins and answers 429 after five: wait before the next one.
                # (A Tryton that is down is no reason to wait once it is back.)
                self._login_failures += 1
                self._login_blocked_until = time.monotonic() + min(MAX_LOGIN_BACKOFF, 0.5 * 2**self._login_failures)
            if isinstance(exc, SourceUnauthorized):
                raise SourceUnavailable(
                    self.source, "login", "login refused: check tryton.user and tryton.password"
                ) from None
            raise
        if not isinstance(answer, list) or len(answer) < 2:
            raise SourceBadResponse(self.source, "login", "unexpected answer to common.db.login")
        self._login_failures = 0
        user_id, token = answer[0], answer[1]
        raw = f"{self.user}:{user_id}:{token}".encode()
        authorization = "Session " + base64.b64encode(raw).decode()
        preferences = await self._post(
            "session", "model.res.user.get_preferences", [True, {}], authorization=authorization, idempotent=True
        )
        context = {key: preferences[key] for key in CONTEXT_KEYS if key in preferences}
        currency = None
        if context.get("company"):
            (company,) = await self._post(
                "session",
                "model.company.company.read",
                [[context["company"]], ["currency.code"], context],
                authorization=authorization,
                idempotent=True,
            )
            currency = (company.get("currency.") or {}).get("code")
        return Session(authorization=authorization, context=context, currency=currency)

    async def call(
        self,
        name: str,
        method: str,
        params: list[Any],
        *,
        context: dict[str, Any] | None = None,
        keys: int = 1,
        idempotent: bool = True,
    ) -> Any:
        """`model.<...>` with the session's context (plus `context`) appended; one re-login on 401."""
        for attempt in (1, 2):
            session = await self.session()
            full = [*params, {**session.context, **(context or {})}]
            try:
                return await self._post(
                    name, method, full, authorization=session.authorization, idempotent=idempotent, keys=keys
                )
            except SourceUnauthorized:
                if self._session is session:
                    self._session = None  # expired or logged out: the next attempt logs in again
                if attempt == 2:
                    raise SourceUnavailable(self.source, name, "session refused right after a fresh login") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(
        self, name: str, method: str, params: list[Any], *, authorization: str | None, idempotent: bool, keys: int = 1
    ) -> Any:
        self._ids += 1
        payload = {"id": self._ids, "method": method, "params": encode(params)}
        headers = {"Authorization": authorization} if authorization else None
        for attempt in (1, 2):
            body = await self.http.post_json(
                name, self.path, payload, keys=keys, idempotent=idempotent, headers=headers
            )
            try:
                answer = decode(body)
            except ValueError:
                raise SourceBadResponse(self.source, name, "the answer is not JSON") from None
            if not isinstance(answer, dict):
                raise SourceBadResponse(self.source, name, "the answer is not a JSON-RPC object")
            if "error" not in answer:
                if "result" not in answer:
                    raise SourceBadResponse(self.source, name, "the answer has neither result nor error")
                return answer["result"]
            error = self._error(name, method, answer["error"])
            if isinstance(error, SourceUnavailable) and idempotent and attempt == 1:
                continue  # a locked database or a concurrent write: one more try for a read
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, name: str, method: str, error: Any) -> SourceError:
        """Tryton's `["UserError", [message, ...]]` and friends, as the gateway's error classes."""
        kind = error[0] if isinstance(error, list) and error else error
        message = ""
        if isinstance(error, list) and len(error) > 1:
            detail = error[1]
            message = detail[0] if isinstance(detail, list) and detail else str(detail)
        text = f"{kind}: {message}".strip(": ") if message else str(kind)
        if any(marker in str(error) for marker in TRANSIENT_ERRORS):
            return SourceUnavailable(self.source, name, f"{method}: {text}")
        return SourceBadResponse(self.source, name, f"{method}: {text}")


# --- the source -------------------------------------------------------------------------------


def _chunks(keys: Sequence[Any], size: int) -> list[list[Any]]:
    unique = list(dict.fromkeys(keys))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def _nested(row: dict[str, Any], name: str) -> Any:
    """The value of a dotted read: `row["party."]["code"]` for `party.code`."""
    head, _, rest = name.partition(".")
    if not rest:
        return row.get(head)
    inner = row.get(head + ".")
    if isinstance(inner, list):
        return [_nested(item, rest) for item in inner]
    if not isinstance(inner, dict):
        return None
    return _nested(inner, rest)


ORDER_FIELDS = [
    "number",
    "reference",
    "state",
    "shipment_state",
    "sale_date",
    "shipping_date",
    "untaxed_amount",
    "tax_amount",
    "currency.code",
    "warehouse.code",
    "lines.type",
    "lines.sequence",
    "lines.product.code",
    "lines.product.cost_price",
    "lines.quantity",
    "lines.unit_price",
    "lines.amount",
    "lines.taxes.rate",
    "lines.taxes.type",
    "lines.moves.state",
    "lines.moves.quantity",
    "lines.moves.planned_date",
    "lines.moves.to_location",
    "lines.invoice_lines.quantity",
    "lines.invoice_lines.invoice",
    "invoices.state",
    "invoices.total_amount",
    "invoices.untaxed_amount",
    "invoices.tax_amount",
    "invoices.amount_to_pay",
]
ORDER_ORDER = [["sale_date", "DESC"], ["id", "DESC"]]
INVOICE_FIELDS = [
    "number",
    "state",
    "invoice_date",
    "total_amount",
    "untaxed_amount",
    "tax_amount",
    "amount_to_pay",
    "currency.code",
    "sales",
    "lines_to_pay.maturity_date",
    "lines_to_pay.reconciliation",
    "lines_to_pay.debit",
    "lines_to_pay.credit",
    "lines_to_pay.amount_second_currency",
]
OPEN_ITEM_FIELDS = ["date", "maturity_date", "debit", "credit", "move.description", "description"]
INVOICE_ORDER = [["invoice_date", "DESC"], ["id", "DESC"]]
# Issued customer invoices: drafts and validated ones have no number and owe nothing yet.
ISSUED = ["posted", "paid", "cancelled"]
INVOICED = ("posted", "paid")


class TrytonSource(Source):
    """The ERP source over Tryton: `parties`, `products`, `boms`, `stock`, `warehouses`, orders, invoices."""

    name = "ERP"
    max_keys = 500

    def __init__(
        self,
        http: BackendClient,
        cache: CachePolicy | None = None,
        *,
        database: str,
        user: str,
        password: str | None,
        language: str = "en",
        party_ref: Literal["code", "id"] = "code",
        party_code_prefix: str = "",
    ) -> None:
        super().__init__(http, cache)
        self.rpc = TrytonRpc(http, database=database, user=user, password=password, language=language)
        self.party_ref = party_ref
        self.party_code_prefix = party_code_prefix
        self._topology: Topology | None = None
        self._topology_lock = asyncio.Lock()

    # --- helpers ------------------------------------------------------------------------------

    def today(self) -> dt.date:
        """The gateway's "today" (UTC), which is what its ATP and overdue figures use."""
        return dt.datetime.now(dt.UTC).date()

    async def search_read(
        self,
        name: str,
        model: str,
        domain: list,
        fields: list[str],
        *,
        order: list | None = None,
        context: dict[str, Any] | None = None,
        keys: int = 1,
    ) -> list[dict[str, Any]]:
        return await self.rpc.call(
            name, f"model.{model}.search_read", [domain, 0, None, order, fields], context=context, keys=keys
        )

    async def batched(
        self, keys: Sequence[Any], read: Callable[[list[Any]], Awaitable[list[dict[str, Any]]]]
    ) -> list[dict[str, Any]]:
        """`read` on chunks of at most `max_keys` keys, chunks concurrently; rows of all chunks."""
        chunks = _chunks(keys, self.max_keys)
        answers = await asyncio.gather(*(read(chunk) for chunk in chunks))
        return [row for answer in answers for row in answer]

    def party_domain(self, refs: Sequence[str], via: str | None = None) -> list:
        """Domain on the parties whose CRM ERP refs are `refs` (on a row's `via` party when given).

        The rule: party `code` = `party_code_prefix` + ref; or, with party_ref = "id", the ref is
        the party's id.
        """
        if self.party_ref == "id":
            return [via or "id", "in", [int(ref) for ref in refs if ref.isdigit()]]
        return [f"{via}.code" if via else "code", "in", [self.party_code_prefix + ref for ref in refs]]

    def party_fields(self, via: str | None = None) -> list[str]:
        if self.party_ref == "id":
            return [via or "id"]
        return [f"{via}.code" if via else "code"]

    def ref_of(self, row: dict[str, Any], via: str | None = None) -> str | None:
        """The CRM ERP ref of a party row (of the row's `via` party when given)."""
        if self.party_ref == "id":
            value = row.get(via or "id")
            return None if value is None else str(value)
        code = _nested(row, f"{via}.code") if via else row.get("code")
        if code is None:
            return None
        prefix = self.party_code_prefix
        if prefix:
            return code[len(prefix) :] if code.startswith(prefix) else None
        return code

    async def topology(self) -> Topology:
        """The location tree, read on first use and again after TOPOLOGY_TTL."""
        current = self._topology
        if current is not None and time.monotonic() - current.loaded_at < TOPOLOGY_TTL:
            return current
        async with self._topology_lock:
            current = self._topology
            if current is not None and time.monotonic() - current.loaded_at < TOPOLOGY_TTL:
                return current
            rows = await self.search_read(
                "locations", "stock.location", [], ["code", "name", "type", "parent"], order=[["id", "ASC"]]
            )
            self._topology = Topology(
                {
                    row["id"]: Location(
                        row["id"], row.get("code"), row.get("name") or "", row.get("type") or "", row.get("parent")
                    )
                    for row in rows
                }
            )
            return self._topology

    # --- parties ------------------------------------------------------------------------------

    @cached("master")
    async def parties(self, codes: Sequence[str]) -> Lookup[Party]:
        """party.party: code, name, credit_limit_amount (company-dependent); the company's currency."""
        session = await self.rpc.session()

        async def read(chunk: list[str]) -> list[dict[str, Any]]:
            return await self.search_read(
                "parties",
                "party.party",
                [self.party_domain(chunk)],
                [*self.party_fields(), "name", "credit_limit_amount"],
                keys=len(chunk),
            )

        found = {}
        for row in await self.batched(codes, read):
            ref = self.ref_of(row)
            if ref is not None:
                found[ref] = checked(
                    Party(
                        code=ref,
                        name=row.get("name"),
                        credit_limit=number(row.get("credit_limit_amount")),
                        currency=session.currency,
                    )
                )
        return [found.get(code) for code in codes]

    # --- products, BOMs -----------------------------------------------------------------------

    @cached("master")
    async def products(self, skus: Sequence[str]) -> Lookup[Product]:
        """product.product by `code`: name, default_uom.symbol, list_price_used, cost_price, producible;
        tax_rate: the sum of the percentage customer taxes of its account category (0 without)."""
        session = await self.rpc.session()

        async def read(chunk: list[str]) -> list[dict[str, Any]]:
            return await self.search_read(
                "products",
                "product.product",
                [["code", "in", chunk]],
                [
                    "code",
                    "name",
                    "default_uom.symbol",
                    "list_price_used",
                    "cost_price",
                    "producible",
                    "account_category.customer_taxes_used.rate",
                    "account_category.customer_taxes_used.type",
                ],
                keys=len(chunk),
            )

        found = {}
        for row in await self.batched(skus, read):
            symbol = _nested(row, "default_uom.symbol")
            found[row["code"]] = checked(
                Product(
                    sku=row["code"],
                    name=row.get("name") or row["code"],
                    uom=UOM_CODES.get(symbol, symbol.upper() if symbol else None),
                    list_price=number(row.get("list_price_used")),
                    standard_cost=number(row.get("cost_price")),
                    assembly_cost=Decimal("0"),  # no per-level labour cost without production routings
                    currency=session.currency,
                    kind="MANUFACTURED" if row.get("producible") else "PURCHASED",
                    tax_rate=_rate((row.get("account_category.") or {}).get("customer_taxes_used.") or []),
                )
            )
        return [found.get(sku) for sku in skus]

    @cached("master")
    async def boms(self, skus: Sequence[str]) -> Related[BomLine]:
        """The product's first BOM (product.product.boms, by sequence): inputs per one output unit.

        production.bom.input quantity in its unit, converted to the component's default unit
        by the units' factors, divided by the BOM's output quantity of this product.
        """
        prefix = "boms.bom."
        fields = ["code"] + [
            prefix + name
            for name in (
                "inputs.product.code",
                "inputs.quantity",
                "inputs.unit.factor",
                "inputs.product.default_uom.factor",
                "outputs.product.code",
                "outputs.quantity",
                "outputs.unit.factor",
                "outputs.product.default_uom.factor",
            )
        ]

        async def read(chunk: list[str]) -> list[dict[str, Any]]:
            return await self.search_read("boms", "product.product", [["code", "in", chunk]], fields, keys=len(chunk))

        found: dict[str, list[BomLine]] = {}
        for row in await self.batched(skus, read):
            links = row.get("boms.") or []
            lines: list[BomLine] = []
            if links and links[0].get("bom."):
                bom = links[0]["bom."]
                made = sum(
                    (
                        _in_default_unit(out)
                        for out in bom.get("outputs.") or []
                        if _nested(out, "product.code") == row["code"]
                    ),
                    Decimal(0),
                )
                per = made if made > 0 else Decimal(1)
                for line in bom.get("inputs.") or []:
                    quantity = _in_default_unit(line) / per
                    lines.append(
                        checked(
                            BomLine(
                                parent_sku=row["code"],
                                component_sku=_nested(line, "product.code"),
                                quantity=number(quantity.quantize(Decimal("0.0001"))),
                            )
                        )
                    )
            found[row["code"]] = sorted(lines, key=lambda line: line.component_sku)
        return [found.get(sku, []) for sku in skus]

    # --- stock --------------------------------------------------------------------------------

    async def warehouses(self) -> list[Warehouse]:
        """stock.location of type warehouse: code (the gateway's warehouse id) and name."""
        topology = await self.topology()
        return [Warehouse(id=Topology.key(loc), name=loc.name) for loc in topology.warehouses]

    @cached("stock")
    async def stock(self, skus: Sequence[str]) -> Related[Stock]:
        """Per SKU and warehouse, Tryton's own quantities, so that the gateway's
        `available(date) = on_hand - allocated + receipts up to date` is Tryton's
        `forecast_quantity` for that warehouse and date (context `locations`, `stock_date_end`):

        - on_hand: product.product `quantity` with context `locations = [warehouse]`
          (done moves up to today), one call per warehouse;
        - allocated: pending (draft, assigned) moves out of the warehouse dated today;
        - receipts: pending moves dated after today, incoming (+) and outgoing (-), dated
          incoming ones today too. Kinds: PURCHASE (from a supplier), PRODUCTION (to or from
          production), SALE (to a customer, negative), RETURN, TRANSFER (another warehouse).

        Like Tryton's forecast, moves planned before today (stale plans) and moves with no date
        are left out. A move's date is Tryton's: effective date, else today when assigned,
        else the planned date.
        """
        topology = await self.topology()
        today = self.today()
        warehouses = topology.warehouses

        async def on_hand(warehouse: Location, chunk: list[str]) -> list[dict[str, Any]]:
            rows = await self.search_read(
                "stock_on_hand",
                "product.product",
                [["code", "in", chunk]],
                ["code", "quantity"],
                context={"locations": [warehouse.id], "stock_date_end": today},
                keys=len(chunk),
            )
            return [{**row, "warehouse": warehouse} for row in rows]

        async def moves(chunk: list[str]) -> list[dict[str, Any]]:
            domain = [
                ["product.code", "in", chunk],
                [
                    "OR",
                    [
                        ["state", "in", list(PENDING_MOVES)],
                        [
                            "OR",
                            ["planned_date", ">=", today],
                            ["effective_date", ">=", today],
                            ["state", "=", "assigned"],
                        ],
                    ],
                    [["state", "=", "done"], ["effective_date", ">", today]],
                ],
            ]
            return await self.search_read(
                "stock_moves",
                "stock.move",
                domain,
                [
                    "product.code",
                    "from_location",
                    "to_location",
                    "internal_quantity",
                    "state",
                    "planned_date",
                    "effective_date",
                ],
                order=[["id", "ASC"]],
                keys=len(chunk),
            )

        chunks = _chunks(skus, self.max_keys)
        answers = await asyncio.gather(
            *(on_hand(warehouse, chunk) for warehouse in warehouses for chunk in chunks),
            *(moves(chunk) for chunk in chunks),
        )
        quantities = [row for answer in answers[: len(warehouses) * len(chunks)] for row in answer]
        move_rows = [row for answer in answers[len(warehouses) * len(chunks) :] for row in answer]

        on_hand_of: dict[tuple[str, str], Decimal] = {}
        for row in quantities:
            on_hand_of[(row["code"], Topology.key(row["warehouse"]))] = quantity_of(row.get("quantity"))
        allocated: dict[tuple[str, str], Decimal] = defaultdict(lambda: Decimal(0))
        receipts: dict[tuple[str, str], list[Receipt]] = defaultdict(list)
        for move in move_rows:
            sku = _nested(move, "product.code")
            date = move.get("effective_date") or (
                today if move.get("state") == "assigned" else move.get("planned_date")
            )
            if date is None or date < today:
                continue
            if move.get("state") == "done" and date <= today:
                continue  # already in on hand
            source, target = (
                topology.warehouse_of(move.get("from_location")),
                topology.warehouse_of(move.get("to_location")),
            )
            if source is not None and target is not None and source.id == target.id:
                continue  # within one warehouse (storage to output): no change to its stock
            quantity = quantity_of(move.get("internal_quantity"))
            kind = _move_kind(topology, move)
            if target is not None:
                receipts[(sku, Topology.key(target))].append(
                    checked(Receipt(id=f"MV{move['id']}", kind=kind, expected_date=date, quantity=quantity))
                )
            if source is not None:
                key = (sku, Topology.key(source))
                if date == today and move.get("state") != "done":
                    allocated[key] += quantity
                else:
                    receipts[key].append(
                        checked(Receipt(id=f"MV{move['id']}", kind=kind, expected_date=date, quantity=-quantity))
                    )

        result = []
        for sku in skus:
            rows = []
            for warehouse in warehouses:
                key = (sku, Topology.key(warehouse))
                if key not in on_hand_of:
                    continue  # Tryton has no product with this code
                rows.append(
                    checked(
                        Stock(
                            sku=sku,
                            warehouse=key[1],
                            on_hand=on_hand_of[key],
                            allocated=number(allocated[key]) if key in allocated else Decimal("0.00"),
                            receipts=sorted(receipts.get(key, []), key=lambda r: (r.expected_date, r.id)),
                        )
                    )
                )
            result.append(rows)
        return result

    # --- orders -------------------------------------------------------------------------------

    async def _orders(
        self, name: str, keys: Sequence[str] | Sequence[int], domain_of: Callable[[list[Any]], list[Any]]
    ) -> list[Order]:
        session = await self.rpc.session()

        async def read(chunk: list[Any]) -> list[dict[str, Any]]:
            return await self.search_read(
                name,
                "sale.sale",
                domain_of(chunk),
                [*ORDER_FIELDS, *self.party_fields("party")],
                order=ORDER_ORDER,
                keys=len(chunk),
            )

        return [
            order for row in await self.batched(keys, read) if (order := self._order(row, session.currency)) is not None
        ]

    def _order(self, row: dict[str, Any], currency: str | None) -> Order | None:
        """sale.sale and its lines; amounts are before tax, like its lines (see the module notes).

        - status: draft, quotation -> DRAFT; confirmed -> CONFIRMED; processing -> PROCESSING, or
          SHIPPED once shipment_state is "sent"; done -> DONE; cancelled -> CANCELLED;
        - total: untaxed_amount (= the sum of the lines' amounts);
        - shipped_amount: sum of the lines' done outgoing move quantities x unit price;
        - invoiced_amount: sum of the lines' invoice line quantities on posted or paid invoices
          x unit price (what Tryton's sale credit limit deducts);
        - paid_amount: each posted or paid invoice's untaxed amount x its paid share;
        - tax_amount: tax_amount; a line's tax: its amount x its percentage taxes' rates;
          invoiced_tax_amount: the invoiced quantities x unit price x the line's rates, summed
          and rounded once (Tryton's document rounding); paid_tax_amount: each posted or paid
          invoice's tax x its paid share;
        - promised_date: the requested shipping_date, else the latest planned move date.
        """
        party = self.ref_of(row, "party")
        if party is None:
            return None
        state = row.get("state", "")
        status = {
            "draft": OrderStatus.DRAFT,
            "quotation": OrderStatus.DRAFT,
            "confirmed": OrderStatus.CONFIRMED,
            "processing": OrderStatus.PROCESSING,
            "done": OrderStatus.DONE,
            "cancelled": OrderStatus.CANCELLED,
        }.get(state, OrderStatus.DRAFT)
        if status is OrderStatus.PROCESSING and row.get("shipment_state") == "sent":
            status = OrderStatus.SHIPPED
        invoice_states = {inv["id"]: inv.get("state") for inv in row.get("invoices.") or []}
        lines: list[OrderLine] = []
        shipped_total = invoiced_total = invoiced_tax = Decimal(0)
        planned: list[dt.date] = []
        for line in row.get("lines.") or []:
            sku = _nested(line, "product.code")
            if line.get("type", "line") != "line" or sku is None:
                continue
            quantity = quantity_of(line.get("quantity"))
            unit_price = number(line.get("unit_price"))
            shipped = Decimal(0)
            for move in line.get("moves.") or []:
                if move.get("state") == "done":
                    shipped += Decimal(repr(move.get("quantity") or 0.0))
                elif move.get("state") in PENDING_MOVES and move.get("planned_date"):
                    planned.append(move["planned_date"])
            invoiced = sum(
                (
                    Decimal(repr(il.get("quantity") or 0.0))
                    for il in line.get("invoice_lines.") or []
                    if invoice_states.get(il.get("invoice")) in INVOICED
                ),
                Decimal(0),
            )
            rate = _rate(line.get("taxes.") or [])
            if unit_price is not None:
                shipped_total += shipped * unit_price
                invoiced_total += invoiced * unit_price
                invoiced_tax += invoiced * unit_price * rate
            amount = number(line.get("amount"))
            lines.append(
                checked(
                    OrderLine(
                        line_no=len(lines) + 1,
                        sku=sku,
                        quantity=quantity,
                        shipped_quantity=number(shipped),
                        unit_price=unit_price,
                        amount=amount,
                        unit_cost=number(_nested(line, "product.cost_price")),
                        tax_amount=None if amount is None else number((amount * rate).quantize(CENT)),
                    )
                )
            )
        paid = paid_tax = Decimal(0)
        for invoice in row.get("invoices.") or []:
            total = invoice.get("total_amount") or Decimal(0)
            untaxed = invoice.get("untaxed_amount") or Decimal(0)
            tax = invoice.get("tax_amount") or Decimal(0)
            if invoice.get("state") == "paid":
                paid += untaxed
                paid_tax += tax
            elif invoice.get("state") == "posted" and total:
                share = (total - (invoice.get("amount_to_pay") or Decimal(0))) / total
                paid += untaxed * share
                paid_tax += tax * share
        sale_date = row.get("sale_date")
        return checked(
            Order(
                id=str(row["id"]),
                number=row.get("number") or f"DRAFT-{row['id']}",
                party_code=party,
                contract_number=row.get("reference") or None,
                status=status,
                ordered_at=dt.datetime.combine(sale_date, dt.time(0), dt.UTC) if sale_date else None,
                promised_date=row.get("shipping_date") or (max(planned) if planned else None),
                warehouse=_nested(row, "warehouse.code"),
                currency=_nested(row, "currency.code") or currency,
                total=number(row.get("untaxed_amount")),
                shipped_amount=number(shipped_total.quantize(CENT)),
                invoiced_amount=number(invoiced_total.quantize(CENT)),
                paid_amount=number(paid.quantize(CENT)),
                tax_amount=number(row.get("tax_amount")),
                invoiced_tax_amount=number(invoiced_tax.quantize(CENT)),
                paid_tax_amount=number(paid_tax.quantize(CENT)),
                lines=lines,
            )
        )

    @cached("orders")
    async def orders(self, ids: Sequence[str]) -> Lookup[Order]:
        """sale.sale by id (the gateway's order id is Tryton's sale id)."""
        wanted = [int(i) for i in ids if i.isdigit()]
        orders = await self._orders("orders", wanted, lambda chunk: [["id", "in", chunk]]) if wanted else []
        found = {order.id: order for order in orders}
        return [found.get(i) for i in ids]

    @cached("orders")
    async def orders_by_party(self, codes: Sequence[str]) -> Related[Order]:
        """Every sale of each party, newest sale_date first, lines included."""
        orders = await self._orders("orders_by_party", codes, lambda chunk: [self.party_domain(chunk, "party")])
        return group_by(orders, "party_code", codes)

    # --- invoices -----------------------------------------------------------------------------

    async def _invoices(self, name: str, keys: Sequence[Any], domain_of: Callable[[list[Any]], list]) -> list[Invoice]:
        session = await self.rpc.session()

        async def read(chunk: list[Any]) -> list[dict[str, Any]]:
            domain = [["type", "=", "out"], ["state", "in", ISSUED], *domain_of(chunk)]
            return await self.search_read(
                name,
                "account.invoice",
                domain,
                [*INVOICE_FIELDS, *self.party_fields("party")],
                order=INVOICE_ORDER,
                keys=len(chunk),
            )

        return [
            invoice
            for row in await self.batched(keys, read)
            if (invoice := self._invoice(row, session.currency)) is not None
        ]

    def _invoice(self, row: dict[str, Any], currency: str | None) -> Invoice | None:
        """account.invoice (type out, issued):

        - amount: total_amount (with tax); net_amount, tax_amount: untaxed_amount, tax_amount;
          paid_amount: total_amount - amount_to_pay (what is left on its receivable lines
          after payments);
        - status: paid -> PAID; cancelled -> CANCELLED; posted -> PARTIALLY_PAID when something
          was paid, else OPEN;
        - due_date: the earliest maturity date of its unreconciled lines to pay (of all of them
          once paid); an invoice with several instalments is due at its first open one;
        - order_id: its first sale (account.invoice.sales);
        - instalments: its lines to pay, each a maturity date and an amount (debit - credit, in
          the invoice's currency: amount_second_currency when the invoice is not in the
          company's). A credit note has negative amounts;
        - company_amount: for an invoice in another currency than the company's, its lines to
          pay in the company's currency (debit - credit), what the receivable account holds.
        """
        party = self.ref_of(row, "party")
        if party is None:
            return None
        state = row.get("state")
        total = row.get("total_amount") or Decimal(0)
        to_pay = row.get("amount_to_pay") or Decimal(0)
        if state == "paid":
            status, paid = InvoiceStatus.PAID, total
        elif state == "cancelled":
            status, paid = InvoiceStatus.CANCELLED, Decimal(0)
        else:
            paid = total - to_pay
            status = (
                InvoiceStatus.PARTIALLY_PAID
                if paid > 0 and to_pay > 0
                else InvoiceStatus.PAID
                if to_pay <= 0 < total
                else InvoiceStatus.OPEN
            )
        lines = row.get("lines_to_pay.") or []
        open_dates = [
            line["maturity_date"] for line in lines if line.get("maturity_date") and not line.get("reconciliation")
        ]
        all_dates = [line["maturity_date"] for line in lines if line.get("maturity_date")]
        due = min(open_dates) if open_dates else min(all_dates) if all_dates else None
        sales = row.get("sales") or []
        foreign = _nested(row, "currency.code") not in (None, currency)
        instalments = [
            checked(
                Instalment(
                    due_date=line.get("maturity_date"),
                    amount=number(
                        line["amount_second_currency"]
                        if foreign and line.get("amount_second_currency") is not None
                        else (line.get("debit") or Decimal(0)) - (line.get("credit") or Decimal(0))
                    ),
                )
            )
            for line in sorted(lines, key=lambda line: (line.get("maturity_date") or dt.date.max, line["id"]))
        ]
        company_amount = (
            sum(((line.get("debit") or Decimal(0)) - (line.get("credit") or Decimal(0)) for line in lines), Decimal(0))
            if foreign and lines
            else None
        )
        return checked(
            Invoice(
                id=str(row["id"]),
                number=row.get("number") or f"DRAFT-{row['id']}",
                party_code=party,
                order_id=str(sales[0]) if sales else None,
                issued_at=row.get("invoice_date"),
                due_date=due,
                amount=number(total),
                paid_amount=number(paid),
                status=status,
                currency=_nested(row, "currency.code") or currency,
                net_amount=number(row.get("untaxed_amount")),
                tax_amount=number(row.get("tax_amount")),
                instalments=instalments,
                company_amount=number(company_amount),
            )
        )

    @cached("balances")
    async def open_items_by_party(self, codes: Sequence[str]) -> Related[OpenItem]:
        """account.move.line on a receivable account, not reconciled, that no invoice carries:
        neither a line of an invoice's move (`move.origin` an account.invoice) nor a payment of
        one (`invoice_payment`): payments not matched to an invoice, opening balances, manual
        entries. amount = debit - credit (company currency); due date = maturity_date."""
        session = await self.rpc.session()

        async def read(chunk: list[str]) -> list[dict[str, Any]]:
            domain = [
                ["account.type.receivable", "=", True],
                ["reconciliation", "=", None],
                ["invoice_payment", "=", None],
                ["OR", ["move.origin", "=", None], ["move.origin", "not like", "account.invoice,%"]],
                self.party_domain(chunk, "party"),
            ]
            return await self.search_read(
                "open_items_by_party",
                "account.move.line",
                domain,
                [*OPEN_ITEM_FIELDS, *self.party_fields("party")],
                order=[["date", "ASC"], ["id", "ASC"]],
                keys=len(chunk),
            )

        items = []
        for row in await self.batched(codes, read):
            party = self.ref_of(row, "party")
            if party is None:
                continue
            items.append(
                checked(
                    OpenItem(
                        id=f"ML{row['id']}",
                        party_code=party,
                        date=row.get("date"),
                        due_date=row.get("maturity_date"),
                        amount=number((row.get("debit") or Decimal(0)) - (row.get("credit") or Decimal(0))),
                        description=_nested(row, "move.description") or row.get("description"),
                        currency=session.currency,
                    )
                )
            )
        return group_by(items, "party_code", codes)

    @cached("balances")
    async def invoices_by_party(self, codes: Sequence[str]) -> Related[Invoice]:
        """Every issued customer invoice of each party (open and settled), newest first."""
        invoices = await self._invoices("invoices_by_party", codes, lambda chunk: [self.party_domain(chunk, "party")])
        return group_by(invoices, "party_code", codes)

    # --- writes -------------------------------------------------------------------------------
    # A sale made through the gateway carries its idempotency key in its `comment`
    # (`KEY_MARKER` + key), and a sale waiting for approval the request (`APPROVAL_MARKER` +
    # JSON): a retry with the key finds the sale it made instead of making another, and the
    # approval lives with the sale in Tryton, as the demo ERP keeps it with its order.

    async def _write(self, name: str, method: str, params: list[Any]) -> Any:
        """One write call: not retried; no answer in time means its outcome is unknown."""
        try:
            return await self.rpc.call(name, method, params, idempotent=False)
        except SourceTimeout as exc:
            raise SourceOutcomeUnknown(self.name, name, exc.detail) from None

    async def _sale_with_key(self, key: str) -> dict[str, Any] | None:
        rows = await self.search_read(
            "create_order", "sale.sale", [["comment", "like", f"%{KEY_MARKER}{key}%"]], ["state", "comment"]
        )
        return rows[0] if rows else None

    async def _order_of(self, name: str, sale_id: int) -> Order:
        orders = await self._orders(name, [sale_id], lambda chunk: [["id", "in", chunk]])
        if not orders:
            raise SourceBadResponse(self.name, name, f"sale {sale_id} cannot be read back")
        return orders[0]

    async def create_order(self, key: str, draft: OrderDraft) -> Order:
        """sale.sale: created, quoted, and confirmed unless it waits for approval (then it stays a quotation)."""
        found = await self._sale_with_key(key)
        if found is None:
            values = await self._sale_values(key, draft)
            (sale_id,) = await self._write("create_order", "model.sale.sale.create", [[values]])
            state = "draft"
        else:
            sale_id, state = found["id"], str(found.get("state"))
        if state == "draft":
            await self._write("create_order", "model.sale.sale.quote", [[sale_id]])
            state = "quotation"
        if state == "quotation" and draft.approval is None:
            await self._write("create_order", "model.sale.sale.confirm", [[sale_id]])
        order = await self._order_of("create_order", sale_id)
        await self.forget_order(order)
        return order

    async def _sale_values(self, key: str, draft: OrderDraft) -> dict[str, Any]:
        session = await self.rpc.session()
        parties = await self.search_read(
            "create_order", "party.party", [self.party_domain([draft.party_code])], ["addresses"]
        )
        if not parties or not parties[0].get("addresses"):
            raise SourceRejected(
                self.name, "create_order", "unknown party or no address", status=422, field="party_code"
            )
        products = {
            row["code"]: row
            for row in await self.search_read(
                "create_order",
                "product.product",
                [["code", "in", [line.sku for line in draft.lines]]],
                ["code", "default_uom", "account_category.customer_taxes_used"],
            )
        }
        for index, line in enumerate(draft.lines):
            if line.sku not in products:
                raise SourceRejected(
                    self.name, "create_order", f"unknown product {line.sku!r}", status=422, field=f"lines.{index}.sku"
                )
        topology = await self.topology()
        warehouses = topology.warehouses
        warehouse = next((w for w in warehouses if Topology.key(w) == draft.warehouse), None)
        if warehouse is None and draft.warehouse is not None:
            raise SourceRejected(
                self.name, "create_order", f"unknown warehouse {draft.warehouse!r}", status=422, field="warehouse"
            )
        (company,) = await self.rpc.call(
            "create_order", "model.company.company.read", [[session.context["company"]], ["currency"]]
        )
        comment = KEY_MARKER + key
        if draft.approval is not None:
            comment += (
                "\n"
                + APPROVAL_MARKER
                + json.dumps(
                    {
                        "level": draft.approval.level,
                        "reasons": draft.approval.reasons,
                        "requested_by": draft.approval.requested_by,
                        "status": "PENDING",
                    }
                )
            )
        address = parties[0]["addresses"][0]
        values: dict[str, Any] = {
            "party": parties[0]["id"],
            "invoice_address": address,
            "shipment_address": address,
            "company": session.context["company"],
            "currency": company["currency"],
            "warehouse": (warehouse or warehouses[0]).id,
            "sale_date": self.today(),
            "comment": comment,
            "lines": [
                [
                    "create",
                    [
                        {
                            "type": "line",
                            "sequence": index,
                            "product": products[line.sku]["id"],
                            "unit": products[line.sku]["default_uom"],
                            "quantity": float(line.quantity),
                            "unit_price": line.unit_price,
                            "taxes": [
                                [
                                    "add",
                                    list(
                                        (products[line.sku].get("account_category.") or {}).get("customer_taxes_used")
                                        or []
                                    ),
                                ]
                            ],
                        }
                        for index, line in enumerate(draft.lines, 1)
                    ],
                ]
            ],
        }
        if draft.contract_number:
            values["reference"] = draft.contract_number
        if draft.promised_date:
            values["shipping_date"] = draft.promised_date
        return values

    async def confirm_order(self, key: str, order_id: str, approved_by: str) -> Order:
        """Confirm a quotation waiting for approval; its request says who approved it, and when."""
        rows = await self.search_read("confirm_order", "sale.sale", [["id", "=", int(order_id)]], ["state", "comment"])
        if not rows:
            raise SourceRejected(self.name, "confirm_order", f"no order {order_id!r}", status=404)
        row = rows[0]
        request = _approval_of(row)
        if request is None or (request["status"] != "APPROVED" and row.get("state") != "quotation"):
            raise SourceRejected(self.name, "confirm_order", f"order {order_id!r} has no pending approval", status=409)
        if request["status"] != "APPROVED":
            request.update(status="APPROVED", decided_by=approved_by, decided_at=dt.datetime.now(dt.UTC).isoformat())
            comment = (
                "\n".join(
                    line for line in (row.get("comment") or "").splitlines() if not line.startswith(APPROVAL_MARKER)
                )
                + "\n"
                + APPROVAL_MARKER
                + json.dumps(request)
            )
            await self._write("confirm_order", "model.sale.sale.write", [[row["id"]], {"comment": comment}])
            await self._write("confirm_order", "model.sale.sale.confirm", [[row["id"]]])
        order = await self._order_of("confirm_order", row["id"])
        await self.forget_order(order)
        return order

    async def forget_order(self, order: Order) -> None:
        await self.forget(
            {
                "orders": [order.id],
                "orders_by_party": [order.party_code],
                "stock": sorted({line.sku for line in order.lines}),
            }
        )

    async def approvals(self, order_ids: Sequence[str]) -> list[ApprovalRequest]:
        ids = [int(i) for i in order_ids if i.isdigit()]
        rows = await self.search_read("approvals", "sale.sale", [["id", "in", ids]], ["comment", "create_date"])
        found = []
        for row in rows:
            request = _approval_of(row)
            if request is not None:
                found.append(msgspec.convert({**request, "order_id": str(row["id"])}, ApprovalRequest))
        return found


def _rate(taxes: list[dict[str, Any]]) -> Decimal:
    """The sum of the rates of percentage taxes (account.tax rows); fixed-amount taxes are left out."""
    return sum(
        (tax.get("rate") or Decimal(0) for tax in taxes if tax.get("type", "percentage") == "percentage"), Decimal(0)
    )


def _in_default_unit(line: dict[str, Any]) -> Decimal:
    """A BOM line's quantity in its product's default unit (Tryton: qty x unit.factor / default.factor)."""
    quantity = Decimal(repr(line.get("quantity") or 0.0))
    factor = _nested(line, "unit.factor")
    default = _nested(line, "product.default_uom.factor")
    if factor and default and factor != default:
        quantity = quantity * Decimal(repr(factor)) / Decimal(repr(default))
    return quantity


def _move_kind(topology: Topology, move: dict[str, Any]) -> str:
    ends = (topology.kind_of(move.get("from_location")), topology.kind_of(move.get("to_location")))
    if "supplier" in ends:
        return "PURCHASE"
    if "production" in ends:
        return "PRODUCTION"
    if ends[1] == "customer":
        return "SALE"
    if ends[0] == "customer":
        return "RETURN"
    return "TRANSFER"


KEY_MARKER = "isthmus-idempotency-key: "
APPROVAL_MARKER = "isthmus-approval: "


def _approval_of(row: dict[str, Any]) -> dict[str, Any] | None:
    for line in (row.get("comment") or "").splitlines():
        if line.startswith(APPROVAL_MARKER):
            return dict(json.loads(line[len(APPROVAL_MARKER) :]))
    return None
