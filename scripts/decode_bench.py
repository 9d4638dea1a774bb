"""How fast backend answers become records: the options, on the demo systems' real answers.

    python scripts/decode_bench.py [--first 50] [--rounds 30]

Starts the four demo systems (free ports; their data is generated on first use), fetches
what the customer-360 page of `--first` customers asks of them (the customer page, then
per customer its contacts, opportunities, activities, party, orders, invoices, open
items, contracts and tickets, and the products and stock of the SKUs its orders name),
and times each way of turning those answers into records:

- decode: CPU ms per page (best of `--rounds`, the options taking turns within each round,
  the garbage collector on, as in the gateway);
- + read: the same, then reading the fields the 360 page's resolvers read (about: a lazy
  option pays for its checks here);
- held: the memory the page's records keep (tracemalloc).

Every option checks types, except the two marked "unchecked" (the floor: JSON to dicts).
The kept option is `Source.validate` itself (msgspec Structs of `sources/records.py`); the
script checks that it decodes every answer to the same values as the pydantic models did,
and that malformed answers are SourceBadResponse.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import datetime as dt
import gc
import sys
import time
import tracemalloc
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import msgspec  # noqa: E402
import orjson  # noqa: E402
import pydantic  # noqa: E402
import pydantic_core  # noqa: E402
from typing_extensions import NotRequired, TypedDict  # noqa: E402  (pydantic wants these on 3.11)
from pydantic import BaseModel, ConfigDict, TypeAdapter  # noqa: E402

from bench.floor import ROUTES  # noqa: E402
from demo.launcher import start_systems  # noqa: E402
from sources import records as R  # noqa: E402
from sources.base import Items, Source  # noqa: E402
from sources.errors import SourceBadResponse  # noqa: E402

ENVELOPED = {route for route, model in ROUTES.items() if model is not R.CustomerPage}

# The fields the 360 page's resolvers read, per record (approximately: plain fields, joins, figures).
READS: dict[str, tuple[str, ...]] = {
    "CustomerPage": ("items", "total"),
    "Customer": ("id", "name", "tier", "industry", "region", "credit_rating", "owner_id", "team", "refs"),
    "Refs": ("erp", "clm", "desk"),
    "SalesRep": ("id", "name", "team"),
    "Contact": ("id", "customer_id", "name", "title", "email"),
    "Opportunity": ("id", "customer_id", "name", "stage", "amount", "close_date"),
    "Activity": ("customer_id", "kind", "at"),
    "Party": ("code", "credit_limit", "currency"),
    "Order": (
        "id", "number", "party_code", "status", "ordered_at", "promised_date", "total", "currency", "lines",
        "shipped_amount", "invoiced_amount", "paid_amount", "tax_amount", "invoiced_tax_amount", "contract_number",
    ),
    "OrderLine": ("sku", "quantity", "shipped_quantity", "unit_price", "amount"),
    "Invoice": ("id", "number", "party_code", "issued_at", "due_date", "amount", "paid_amount", "status", "instalments"),
    "Instalment": ("due_date", "amount"),
    "OpenItem": ("party_code", "due_date", "amount"),
    "Product": ("sku", "name"),
    "Stock": ("sku", "warehouse", "on_hand", "allocated", "receipts"),
    "Receipt": ("expected_date", "quantity"),
    "Contract": (
        "id", "number", "title", "kind", "status", "amount", "currency", "end_date", "milestones", "counterparty_id",
    ),
    "Milestone": ("name", "due_date", "status"),
    "Ticket": ("id", "org_id", "subject", "kind", "status", "priority", "sla_due_at", "opened_at", "resolved_at"),
}

Decode = Callable[[str, bytes], Any]  # (route, body) -> the records of the answer


# --- the page's answers ------------------------------------------------------------------------


def fetch_page(first: int) -> dict[str, bytes]:
    """The bodies the demo systems answer for one 360 page of `first` customers."""
    with start_systems({"crm": 0, "erp": 0, "clm": 0, "desk": 0}) as systems, httpx.Client(timeout=30) as http:

        def get(route: str, **params: str) -> bytes:
            system, path = route.split(" ")
            response = http.get(systems.urls[system] + path, params=params)
            response.raise_for_status()
            return response.content

        page = get("crm /customers/search", limit=str(first), offset="0")
        customers = orjson.loads(page)["items"]
        ids = ",".join(c["id"] for c in customers)
        refs = {system: ",".join(c["refs"][system] for c in customers if c["refs"].get(system)) for system in ("erp", "clm", "desk")}
        bodies = {
            "crm /customers/search": page,
            "crm /customers": get("crm /customers", ids=ids),
            "crm /contacts": get("crm /contacts", customer=ids),
            "crm /opportunities": get("crm /opportunities", customer=ids),
            "crm /activities": get("crm /activities", customer=ids, last="50"),
            "erp /parties": get("erp /parties", codes=refs["erp"]),
            "erp /orders": get("erp /orders", party=refs["erp"]),
            "erp /invoices": get("erp /invoices", party=refs["erp"]),
            "erp /open_items": get("erp /open_items", party=refs["erp"]),
            "clm /contracts": get("clm /contracts", counterparty=refs["clm"]),
            "desk /tickets": get("desk /tickets", org=refs["desk"]),
        }
        skus = ",".join(sorted({line["sku"] for o in orjson.loads(bodies["erp /orders"])["items"] for line in o["lines"]}))
        bodies["erp /products"] = get("erp /products", skus=skus)
        bodies["erp /stock"] = get("erp /stock", skus=skus)
        return bodies


# --- the records, mirrored in other forms -----------------------------------------------------


def fields_of(cls: type[R.Record]) -> list[tuple[str, Any, Any]]:
    """(name, type, default or msgspec.NODEFAULT) of a record; a default factory is called."""
    found = []
    for info in msgspec.structs.fields(cls):
        if info.default is not msgspec.NODEFAULT:
            default = info.default
        elif info.default_factory is not msgspec.NODEFAULT:
            default = info.default_factory()
        else:
            default = msgspec.NODEFAULT
        found.append((info.name, info.type, default))
    return found


def map_type(kind: Any, record: Callable[[type[R.Record]], Any]) -> Any:
    """`kind` with every record class in it replaced by `record(cls)`."""
    if isinstance(kind, type) and issubclass(kind, R.Record):
        return record(kind)
    if typing.get_origin(kind) is list:
        return list[map_type(typing.get_args(kind)[0], record)]  # type: ignore[misc]
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.Union[tuple(map_type(arg, record) for arg in typing.get_args(kind))]  # noqa: UP007
    return kind


def memo(build: Callable[[type[R.Record]], Any]) -> Callable[[type[R.Record]], Any]:
    made: dict[type, Any] = {}

    def mirror(cls: type[R.Record]) -> Any:
        if cls not in made:
            made[cls] = build(cls)
        return made[cls]

    return mirror


def pydantic_models(**config: Any) -> Callable[[type[R.Record]], type[BaseModel]]:
    """pydantic BaseModels of the records, frozen, extra fields ignored (what sources/ had), plus `config`."""

    @memo
    def mirror(cls: type[R.Record]) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        for name, kind, default in fields_of(cls):
            kind = map_type(kind, mirror)
            if default is msgspec.NODEFAULT:
                fields[name] = (kind, ...)
            elif isinstance(default, R.Record):
                fields[name] = (kind, pydantic.Field(default_factory=mirror(type(default))))
            else:
                fields[name] = (kind, default)
        settings = ConfigDict(frozen=True, extra="ignore", **config)  # type: ignore[typeddict-item]
        return pydantic.create_model(cls.__name__, __config__=settings, **fields)

    return mirror


M = TypeVar("M", bound=BaseModel)


class PydanticItems(BaseModel, Generic[M]):
    items: list[M]


@memo
def pydantic_dataclass(cls: type[R.Record]) -> type:
    """A frozen, slotted pydantic dataclass of a record."""
    specs = []
    for name, kind, default in fields_of(cls):
        kind = map_type(kind, pydantic_dataclass)
        if default is msgspec.NODEFAULT:
            specs.append((name, kind))
        elif isinstance(default, (R.Record, list)):
            factory = pydantic_dataclass(type(default)) if isinstance(default, R.Record) else list
            specs.append((name, kind, dataclasses.field(default_factory=factory)))
        else:
            specs.append((name, kind, dataclasses.field(default=default)))
    plain = dataclasses.make_dataclass(cls.__name__, specs, frozen=True, kw_only=True)
    return pydantic.dataclasses.dataclass(plain, frozen=True, kw_only=True, slots=True, config=ConfigDict(extra="ignore"))


@memo
def typed_dict(cls: type[R.Record]) -> type:
    """A TypedDict of a record: pydantic-core builds checked dicts, no objects."""
    spec = {}
    for name, kind, default in fields_of(cls):
        kind = map_type(kind, typed_dict)
        spec[name] = kind if default is msgspec.NODEFAULT else NotRequired[kind]
    return TypedDict(cls.__name__, spec)  # type: ignore[operator]


def structs(
    gc_tracked: bool,
    only: dict[str, tuple[str, ...]] | None = None,
    check: Callable[[list[str]], Callable[[Any], None]] | None = None,
) -> Callable[[type[R.Record]], type]:
    """msgspec Structs of the records, tracked by the garbage collector or not; `only`: just the
    fields it names per record; `check`: makes the `__post_init__` of the decimal fields' names."""

    @memo
    def mirror(cls: type[R.Record]) -> type:
        specs: list[Any] = []
        decimals = []
        for name, kind, default in fields_of(cls):
            if only is not None and name not in only[cls.__name__]:
                continue
            if kind is Decimal or Decimal in typing.get_args(kind):
                decimals.append(name)
            kind = map_type(kind, mirror)
            if default is msgspec.NODEFAULT:
                specs.append((name, kind))
            elif isinstance(default, R.Record):
                specs.append((name, kind, msgspec.field(default_factory=mirror(type(default)))))
            else:
                specs.append((name, kind, default))
        namespace = {"__post_init__": check(decimals)} if check and decimals else None
        return msgspec.defstruct(cls.__name__, specs, kw_only=True, frozen=True, gc=gc_tracked, namespace=namespace)

    return mirror


def loop_check(names: list[str]) -> Callable[[Any], None]:
    """The decimal check as a loop over the names (what sources/records.py generates as straight code)."""

    def __post_init__(self: Any) -> None:
        for name in names:
            value = getattr(self, name)
            if value is not None and not value.is_finite():
                raise ValueError(f"`{name}` is not a finite number")

    return __post_init__


# --- orjson and lazy records ------------------------------------------------------------------


class Malformed(ValueError):
    """A field of a lazy record that does not hold what its type says."""


def converter(kind: Any) -> Callable[[Any], Any]:
    """What checks and converts one JSON value into a value of `kind`, on first read."""
    if isinstance(kind, type) and issubclass(kind, R.Record):
        lazy = lazy_class(kind)
        return lambda value: lazy(value) if isinstance(value, dict) else _bad(value, kind)
    if typing.get_origin(kind) is list:
        item = converter(typing.get_args(kind)[0])
        return lambda value: [item(v) for v in value] if isinstance(value, list) else _bad(value, kind)
    if isinstance(kind, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        convert = converter(inner)
        return lambda value: None if value is None else convert(value)
    if kind is str:
        return lambda value: value if type(value) is str else _bad(value, kind)
    if kind is int:
        return lambda value: value if type(value) is int else _bad(value, kind)
    if kind is float:
        return lambda value: float(value) if type(value) in (int, float) else _bad(value, kind)
    if kind is Decimal:
        return _decimal
    if kind is dt.date:
        return lambda value: dt.date.fromisoformat(value) if type(value) is str else _bad(value, kind)
    if kind is dt.datetime:
        return lambda value: dt.datetime.fromisoformat(value) if type(value) is str else _bad(value, kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    raise TypeError(f"no converter for {kind}")


def _bad(value: Any, kind: Any) -> Any:
    raise Malformed(f"expected {kind}, got {type(value).__name__}")


def _decimal(value: Any) -> Decimal:
    if type(value) not in (str, int, float):
        _bad(value, Decimal)
    number = Decimal(value)
    if not number.is_finite():
        raise Malformed("not a finite number")
    return number


@memo
def lazy_class(cls: type[R.Record]) -> type:
    """A record over the dict orjson made: each field checked and converted when first read."""
    specs = fields_of(cls)
    converters: dict[str, tuple[Callable[[Any], Any], Any]] = {}

    class Lazy:
        __slots__ = ("_raw", "_seen")

        def __init__(self, raw: dict[str, Any]) -> None:
            self._raw = raw
            self._seen: dict[str, Any] = {}

        def __getattr__(self, name: str) -> Any:
            seen = self._seen
            if name in seen:
                return seen[name]
            try:
                convert, default = converters[name]
            except KeyError:
                raise AttributeError(name) from None
            raw = self._raw.get(name, default)
            if raw is msgspec.NODEFAULT:
                raise Malformed(f"`{name}` missing")
            value = seen[name] = default if raw is default else convert(raw)
            return value

    Lazy.__name__ = cls.__name__
    for name, kind, default in specs:  # after the class exists: a record may nest records
        converters[name] = (converter(kind), default)
    return Lazy


def lazy_decode(route: str, body: bytes) -> Any:
    data = orjson.loads(body)
    lazy = lazy_class(ROUTES[route])
    if route in ENVELOPED:
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise Malformed("not {items: [...]}")
        return [lazy(item) for item in items]
    if not isinstance(data, dict):
        raise Malformed("not an object")
    return lazy(data)


# --- the options --------------------------------------------------------------------------------


def pydantic_option(**config: Any) -> Decode:
    mirror = pydantic_models(**config)
    adapters = {
        route: TypeAdapter(PydanticItems[mirror(model)] if route in ENVELOPED else mirror(model))  # type: ignore[misc]
        for route, model in ROUTES.items()
    }

    def decode(route: str, body: bytes) -> Any:
        answer = adapters[route].validate_json(body)
        return answer.items if route in ENVELOPED else answer

    return decode


def adapter_option(mirror: Callable[[type[R.Record]], Any]) -> Decode:
    """`{"items": list[Model]}` as a TypedDict: no wrapper model."""
    adapters = {
        route: TypeAdapter(TypedDict("Items", {"items": list[mirror(model)]}) if route in ENVELOPED else mirror(model))  # type: ignore[misc]
        for route, model in ROUTES.items()
    }

    def decode(route: str, body: bytes) -> Any:
        answer = adapters[route].validate_json(body)
        return answer["items"] if route in ENVELOPED else answer

    return decode


def struct_option(mirror: Callable[[type[R.Record]], type]) -> Decode:
    decoders = {
        route: msgspec.json.Decoder(
            msgspec.defstruct("Items", [("items", list[mirror(model)])]) if route in ENVELOPED else mirror(model)  # type: ignore[misc]
        )
        for route, model in ROUTES.items()
    }

    def decode(route: str, body: bytes) -> Any:
        answer = decoders[route].decode(body)
        return answer.items if route in ENVELOPED else answer

    return decode


def kept_option() -> Decode:
    """What the gateway does: `Source.validate` on `Items[record]`, as `Source.fetch` calls it."""
    source = Source(http=None)  # type: ignore[arg-type]  # validate needs no client
    types_of = {route: Items[model] if route in ENVELOPED else model for route, model in ROUTES.items()}

    def decode(route: str, body: bytes) -> Any:
        answer = source.validate(route, body, types_of[route])
        return answer.items if route in ENVELOPED else answer

    return decode


OPTIONS: list[tuple[str, Callable[[], Decode], bool]] = [  # (name, build, gives records with attributes)
    ("pydantic BaseModel, Items[Model].validate_json (before)", lambda: pydantic_option(), True),
    ("pydantic, cache_strings=False", lambda: pydantic_option(cache_strings=False), True),
    ("pydantic, strict=True", lambda: pydantic_option(strict=True), True),
    ("pydantic, TypedDict {items: list[Model]} adapter", lambda: adapter_option(pydantic_models()), True),
    ("pydantic dataclasses (frozen, slots)", lambda: adapter_option(pydantic_dataclass), True),
    ("pydantic-core, TypedDicts (checked dicts)", lambda: adapter_option(typed_dict), False),
    ("pydantic-core from_json (unchecked dicts)", lambda: lambda route, body: pydantic_core.from_json(body), False),
    ("orjson.loads (unchecked dicts)", lambda: lambda route, body: orjson.loads(body), False),
    ("orjson + lazy records (checked on read)", lambda: lazy_decode, True),
    ("msgspec Structs, gc-tracked, no decimal check", lambda: struct_option(structs(gc_tracked=True)), True),
    ("msgspec Structs, gc=False, no decimal check", lambda: struct_option(structs(gc_tracked=False)), True),
    ("msgspec Structs, gc=False, decimal check as a loop", lambda: struct_option(structs(False, check=loop_check)), True),
    ("msgspec Structs, only the fields read (gc=False)", lambda: struct_option(structs(False, only=READS)), True),
    ("KEPT: sources.records via Source.validate", kept_option, True),
]


# --- measuring ----------------------------------------------------------------------------------


def read_fields(value: Any) -> None:
    """Read what the 360 page reads, through nested records and lists."""
    if isinstance(value, list):
        for item in value:
            read_fields(item)
        return
    for name in READS[type(value).__name__]:
        field = getattr(value, name)
        if isinstance(field, list) or type(field).__name__ in READS:
            read_fields(field)


def best_ms(runs: list[Callable[[], None]], rounds: int) -> list[float]:
    """Per run, the best of `rounds` in CPU time of this process (not wall time: the machine
    may be shared), as timeit advises: the slower ones measure the machine's other work.
    The runs take turns within each round, so a busy spell slows them all alike."""
    for run in runs:
        run()  # warm up: decoders built, caches filled
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for index, run in enumerate(runs):
            start = time.process_time()
            run()
            best[index] = min(best[index], time.process_time() - start)
    return [seconds * 1000 for seconds in best]


def held_mb(decode: Decode, bodies: dict[str, bytes]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [decode(route, body) for route, body in bodies.items()]
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del kept
    return size / 1e6


def same(a: Any, b: Any) -> bool:
    """Field by field, through lists and nested records."""
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, R.Record):
        return all(same(getattr(a, name), getattr(b, name)) for name in a.__struct_fields__)
    return bool(a == b) and type(a) is type(b)


def check_kept(bodies: dict[str, bytes]) -> None:
    """The kept option decodes like pydantic did, and refuses what pydantic refused."""
    before, kept = pydantic_option(), kept_option()
    for route, body in bodies.items():
        assert same(kept(route, body), before(route, body)), f"{route}: not the same records"
    order = orjson.loads(bodies["erp /orders"])["items"][0]
    malformed = {
        "truncated (the demo systems' malformed fault)": b'{"items": [{"id": "',
        "a string where a number is": orjson.dumps({"items": [{**order, "lines": [{"line_no": "one"}]}]}),
        "NaN for an amount": orjson.dumps({"items": [{**order, "total": "NaN"}]}),
        "a required field missing": orjson.dumps({"items": [{k: v for k, v in order.items() if k != "status"}]}),
        "an unknown status": orjson.dumps({"items": [{**order, "status": "LOST"}]}),
        "not an object": b"[1, 2]",
    }
    for what, body in malformed.items():
        try:
            kept("erp /orders", body)
        except SourceBadResponse as exc:
            print(f"  refused, {what}: {exc.detail}")
        else:
            raise AssertionError(f"accepted {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=50, help="customers on the page (default 50)")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds per option (default 30)")
    args = parser.parse_args()

    bodies = fetch_page(args.first)
    total = sum(map(len, bodies.values()))
    print(f"360 page of {args.first} customers: {len(bodies)} answers, {total / 1e6:.2f} MB of JSON")
    print(f"Python {sys.version.split()[0]}, pydantic {pydantic.VERSION}, msgspec {msgspec.__version__}, "
          f"orjson {orjson.__version__}; CPU time, best of {args.rounds} rounds\n")
    check_kept(bodies)
    print()
    header = f"{'option':52} {'decode':>9} {'+ read':>9} {'x before':>9} {'held':>8}"
    print(header)
    print("-" * len(header))
    decoders = [(name, build(), records) for name, build, records in OPTIONS]
    gc.collect()
    decode_ms = best_ms([functools.partial(decode_page, decode, bodies) for _, decode, _ in decoders], args.rounds)
    readers = [functools.partial(read_page, decode, bodies) for _, decode, records in decoders if records]
    read_ms = iter(best_ms(readers, args.rounds))
    for (name, decode, records), decoded in zip(decoders, decode_ms, strict=True):
        read = f"{next(read_ms):7.2f}ms" if records else f"{'-':>9}"
        print(f"{name:52} {decoded:7.2f}ms {read} {decode_ms[0] / decoded:8.2f}x {held_mb(decode, bodies):6.1f}MB")


def decode_page(decode: Decode, bodies: dict[str, bytes]) -> None:
    for route, body in bodies.items():
        decode(route, body)


def read_page(decode: Decode, bodies: dict[str, bytes]) -> None:
    for route, body in bodies.items():
        read_fields(decode(route, body))

if __name__ == "__main__":
    main()
