"""Authorisation holds for any query, not only for the examples: property-based tests.

Hypothesis writes GraphQL documents over the whole schema, starting at the root
fields with valid arguments (ids of customers, orders and contracts inside and
outside the caller's scope, unknown ids, SKUs, draft quotes), and with aliases,
named and inline fragments, `@include` / `@skip` / `@fresh`, nested paths and
`$variables`. Each document is sent once as an admin (who reads everything) and
once as each principal (every role, and one without roles), and for every answer:

1. it is HTTP 200 (403 DOCUMENT_NOT_TRUSTED, without data, for a role the policy
   limits to the persisted documents), every error has an `extensions.code`, and
   nothing in it looks like a Python traceback or exception;
2. every place the document selects a restricted field the principal may not read
   is null with a FORBIDDEN error at that very path, and the value the admin got
   there appears nowhere in the principal's answer (data, errors, extensions);
3. no customer outside the principal's scope shows: every `Customer.id` in `data`
   is in scope, a customer reached by id, order, contract or ticket is null with
   FORBIDDEN when outside the scope (and there when inside), and no out-of-scope
   customer's name, tax id, or (for the sample customers) order, contract and
   invoice numbers occur anywhere in the answer.

The example-based tests of the same rules are test_field_access.py and
test_row_level.py; the sample ids here are found the same way.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from graphql import GraphQLNonNull, get_named_type, is_enum_type, is_leaf_type
from graphql.pyutils import Undefined
from hypothesis import HealthCheck, Phase, given, note, settings, strategies as st

from conftest import bearer
from policies import ROLES
from server.wiring import build_authorizer
from schema import public

POLICY = build_authorizer()
GRAPH = public  # graphql-core's GraphQLSchema: what the generator walks
PRINCIPALS = [*ROLES, "nobody"]  # "nobody": authenticated, no roles: no customers, no restricted field
# documents per run and executor (the plan executor and graphql-core's), each checked for all 9
# principals: 120 checks per principal, 1,200 requests (when each principal had 100 documents of its
# own on one executor and each cost an admin answer: 1,800).
# Each run draws afresh; test_the_generator_reaches_every_restricted_field_and_root_field proves
# the generator reaches every restricted and root field (within 366 to 1,391 documents, eight seeds,
# since the supply side's 12 restricted and 8 root fields joined), so the fields checked in one run
# rotate across runs; the example tests (test_field_access.py, test_row_level.py) check every
# role on every restricted field each run.
DOCUMENTS = 60
MAX_DEPTH = 4  # nested selection sets below the root
MAX_ALIASES = 30  # the gateway refuses documents with many (100 by default)
# A failure is shrunk to a small document (seconds to a minute: every step calls the gateway);
# ISTHMUS_SHRINK=0 reports the first failing document as generated, at once.
PHASES = tuple(p for p in Phase if p is not Phase.shrink or os.environ.get("ISTHMUS_SHRINK", "1") != "0")
UNKNOWN = {"customer": "C99999", "order": "O9999999", "contract": "K99999", "sku": "SKU-9999", "supplier": "S99999",
           "purchase_order": "PO-1999-99999", "production_order": "MO99999"}


# --- the demo data: sample ids, and for each principal what it may and may not see ----------


@dataclass
class Principal:
    name: str
    roles: tuple[str, ...]
    headers: dict[str, str]
    in_scope: frozenset[str]  # the customer ids this principal may see
    secrets: list[str]  # strings of out-of-scope customers that must never show up
    trusted_only: bool  # the policy pins it to the persisted documents: an ad-hoc one is refused

    def __repr__(self) -> str:
        return f"Principal({self.name!r}, {len(self.in_scope)} customers in scope)"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


@dataclass
class World:
    customer_ids: list[str]  # sample customers of every kind, and an unknown id
    order_ids: list[str]
    contract_ids: list[str]
    skus: list[str]
    kit_skus: list[str]  # products with a bill of materials, for `buildable`
    owner_ids: list[str]
    search_terms: list[str]
    quote_customers: list[str]
    order_totals: frozenset[str]  # SalesOrder.total is unrestricted and quoted in timeline summaries
    principals: dict[str, Principal]
    supplier_codes: list[str]
    purchase_orders: list[str]  # open ones of the sample SKUs', with invoices and payments
    production_orders: list[str]  # make-to-order ones of sample customers' orders (in and out of every scope)

    def __repr__(self) -> str:
        return f"World(customers={self.customer_ids}, orders={self.order_ids}, contracts={self.contract_ids})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def documents_allowed(roles: tuple[str, ...]) -> str:
    """Which documents the policy lets these roles send: "any", or "trusted" (the persisted ones only)."""
    decide = getattr(POLICY, "documents", None)  # policies without document lines: any
    return "any" if decide is None else decide(roles)


def _all_customers(systems) -> list[dict]:
    customers, offset = [], 0
    while True:
        page = systems.get("crm", "/customers/search", limit=1000, offset=offset)
        customers += page
        if len(page) < 1000:
            return customers
        offset += 1000


def _in_chunks(items: list[str], size: int = 200) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@pytest.fixture(scope="module")
def world(systems) -> World:
    """Sample customers (the rep's own, a teammate's, outsiders'), their orders, contracts and SKUs."""
    reps = systems.get("crm", "/reps")
    customers = _all_customers(systems)
    by_owner: dict[str, list[dict]] = {}
    for customer in customers:
        by_owner.setdefault(customer["owner_id"], []).append(customer)
    rep = next(r for r in reps if len(by_owner.get(r["id"], [])) >= 3)
    team_ids = {r["id"] for r in reps if r["team"] == rep["team"]}

    orders: dict[str, list[dict]] = {}
    contracts: dict[str, list[dict]] = {}

    def rich(customer: dict) -> bool:
        """Has ERP orders with lines and CLM contracts: lots to reach from it."""
        refs = customer["refs"]
        if not (refs["erp"] and refs["clm"]):
            return False
        orders[customer["id"]] = systems.get("erp", "/orders", party=refs["erp"])
        contracts[customer["id"]] = systems.get("clm", "/contracts", counterparty=refs["clm"])
        return bool(orders[customer["id"]] and contracts[customer["id"]])

    def pick(candidates: list[dict], count: int) -> list[dict]:
        chosen = []
        for customer in sorted(candidates, key=lambda c: not c["refs"]["desk"]):  # with tickets first
            if rich(customer):
                chosen.append(customer)
                if len(chosen) == count:
                    break
        assert chosen, "no customer with orders and contracts for the sample"
        return chosen

    mine = pick(by_owner[rep["id"]], 2)
    teammates = pick([c for c in customers if c["owner_id"] in team_ids - {rep["id"]}], 1)
    outsiders = pick([c for c in customers if c["owner_id"] not in team_ids], 2)
    sample = mine + teammates + outsiders

    def first_ids(items: list[dict], preferred) -> list[str]:
        return [item["id"] for item in sorted(items, key=lambda item: not preferred(item))[:2]]

    def invoiced_under_contract(order: dict) -> bool:
        return order["invoiced_amount"] != "0.00" and bool(order["contract_number"])

    order_ids = [i for c in sample for i in first_ids(orders[c["id"]], invoiced_under_contract)]
    ordered_under = {o["contract_number"] for c in sample for o in orders[c["id"]]}
    contract_ids = [i for c in sample for i in first_ids(contracts[c["id"]], lambda k: k["number"] in ordered_under)]
    skus = sorted({line["sku"] for c in sample for o in orders[c["id"]][:3] for line in o["lines"]})[:6]
    products = systems.get("erp", "/products")
    kits = [p["sku"] for p in products if p["kind"] == "MANUFACTURED"][:2]

    suppliers = systems.get("srm", "/suppliers")
    purchase_orders = systems.get("srm", "/purchase_orders", sku=skus + kits, open_only="true")
    invoiced = {i["po_number"] for i in systems.get("srm", "/invoices", supplier=[s["code"] for s in suppliers[:3]])}
    purchase_numbers = [o["number"] for o in purchase_orders][:2] + sorted(invoiced)[:2]
    # Make-to-order production orders of a customer of the rep's own, a teammate's and an outsider's: the
    # row-level rules on ProductionOrder.salesOrder; their order numbers are secrets to those who may not see.
    made = [p for p in systems.get("mes", "/production_orders", skus=kits + [p["sku"] for p in products
            if p["kind"] == "MANUFACTURED"], open_only="true") if p["sales_order_id"]]
    made_orders = {o["id"]: o for o in systems.get("erp", "/orders", ids=sorted({p["sales_order_id"] for p in made})[:300])}
    by_party = {c["refs"]["erp"]: c for c in customers if c["refs"]["erp"]}
    made_for: dict[str, dict] = {}  # whose: own, team, outside -> the production order and its sales order
    for production in made:
        order = made_orders.get(production["sales_order_id"])
        if order is None:
            continue
        customer = by_party[order["party_code"]]
        whose = "own" if customer["owner_id"] == rep["id"] else "team" if customer["owner_id"] in team_ids else "outside"
        made_for.setdefault(whose, {"id": production["id"], "customer": customer["id"], "number": order["number"]})

    parties = [c["refs"]["erp"] for c in customers if c["refs"]["erp"]]
    order_totals = frozenset(o["total"] for chunk in _in_chunks(parties) for o in systems.get("erp", "/orders", party=chunk))

    # What identifies each sample customer besides its name and tax id.
    numbers: dict[str, list[str]] = {}
    for c in sample:
        invoices = systems.get("erp", "/invoices", party=c["refs"]["erp"])
        numbers[c["id"]] = [o["number"] for o in orders[c["id"]]] + [k["number"] for k in contracts[c["id"]]]
        numbers[c["id"]] += [i["number"] for i in invoices]

    team_customers = {c["id"] for c in customers if c["owner_id"] in team_ids}
    scopes = {
        "all": {c["id"] for c in customers},
        "team": team_customers,
        "own": {c["id"] for c in by_owner[rep["id"]]},
        None: set(),
    }
    principals = {}
    for name in PRINCIPALS:
        roles = () if name == "nobody" else (name,)
        if name == "sales_rep":
            headers = bearer(name, user=rep["id"], team=rep["team"])
        elif name == "sales_manager":
            headers = bearer(name, user="M-" + rep["team"], team=rep["team"])
        else:
            headers = bearer(*roles, user=f"test-{name}")
        in_scope = frozenset(scopes[POLICY.scope(roles)])
        outside = [c for c in customers if c["id"] not in in_scope]
        visible_names = "\x00".join(c["name"] + "\x00" + (c["tax_id"] or "") for c in customers if c["id"] in in_scope)
        secrets = [c["name"] for c in outside] + [c["tax_id"] for c in outside if c["tax_id"]]
        secrets += [number for c in sample if c["id"] not in in_scope for number in numbers[c["id"]]]
        secrets += [m["number"] for m in made_for.values() if m["customer"] not in in_scope]
        # A secret that is part of a visible customer's name or tax id would be a false alarm.
        secrets = [s for s in secrets if len(s) >= 8 and s not in visible_names]
        principals[name] = Principal(name, roles, headers, in_scope, secrets, documents_allowed(roles) == "trusted")

    return World(
        customer_ids=[c["id"] for c in sample] + [UNKNOWN["customer"]],
        order_ids=order_ids + [UNKNOWN["order"]],
        contract_ids=contract_ids + [UNKNOWN["contract"]],
        skus=skus,
        kit_skus=kits,
        owner_ids=[rep["id"], teammates[0]["owner_id"], outsiders[0]["owner_id"]],
        search_terms=[c["name"] for c in sample],
        quote_customers=[c["id"] for c in sample],
        order_totals=order_totals,
        principals=principals,
        supplier_codes=[s["code"] for s in suppliers[:2]] + [UNKNOWN["supplier"]],
        purchase_orders=purchase_numbers + [UNKNOWN["purchase_order"]],
        production_orders=[m["id"] for m in made_for.values()] + [UNKNOWN["production_order"]],
    )


# --- the generator: documents over the schema, with the response path of every field ---------


@dataclass
class Field:
    key: str  # the response key: the alias, else the field's name
    parent: str  # the type the field is selected on
    name: str
    type: str  # the named type of its value
    head: str  # `alias: name(args) @directive`
    children: list = field(default_factory=list)

    @property
    def coordinate(self) -> str:
        return f"{self.parent}.{self.name}"


@dataclass
class Inline:
    type: str
    directive: str
    children: list


@dataclass
class Fragment:
    name: str
    type: str
    children: list
    height: int  # how many selection-set levels it spans


@dataclass
class Spread:
    fragment: Fragment


@dataclass
class Position:
    path: tuple[str, ...]  # response keys from the root; lists are walked through
    field: Field
    fields: list[Field]  # the fields selected on its value, fragments merged in
    root: str  # the root field it hangs under


@dataclass
class Document:
    query: str
    variables: dict[str, Any]
    positions: list[Position]

    def __repr__(self) -> str:
        return f"Document(\n  query={self.query!r},\n  variables={json.dumps(self.variables)},\n)"

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis prints a failing example
        printer.text(repr(self))


def fields_of(items: list) -> Iterator[Field]:
    """The fields of a selection set, with those of its inline fragments and spreads merged in."""
    for item in items:
        if isinstance(item, Field):
            yield item
        elif isinstance(item, Inline):
            yield from fields_of(item.children)
        else:
            yield from fields_of(item.fragment.children)


def positions_of(items: list, path: tuple[str, ...] = (), root: str | None = None) -> Iterator[Position]:
    for selected in fields_of(items):
        here = path + (selected.key,)
        under = root or selected.name
        yield Position(here, selected, list(fields_of(selected.children)), under)
        yield from positions_of(selected.children, here, under)


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def render(items: list) -> str:
    parts = []
    for item in items:
        if isinstance(item, Field):
            parts.append(item.head + (" " + render(item.children) if item.children else ""))
        elif isinstance(item, Inline):
            parts.append(f"... on {item.type}{item.directive} {render(item.children)}")
        else:
            parts.append(f"...{item.fragment.name}")
    return "{ " + " ".join(parts) + " }"


@functools.lru_cache(maxsize=None)
def restricted_below(type_name: str, levels: int = 3) -> bool:
    """Can a restricted field be reached from this type within a few levels?"""
    gtype = GRAPH.type_map[type_name]
    for name, definition in gtype.fields.items():
        if f"{type_name}.{name}" in POLICY.restricted:
            return True
        named = get_named_type(definition.type)
        if levels > 1 and not is_leaf_type(named) and restricted_below(named.name, levels - 1):
            return True
    return False


ROOT_WEIGHTS = {"customer": 5, "order": 5, "contract": 5, "customers": 4, "product": 2, "products": 1, "quote": 4, "atp": 1,
                "buildable": 1, "me": 1, "productionOrder": 3, "purchaseOrder": 2, "supplier": 2, "materialRequirements": 1}


class Writer:
    """Draws one document; fresh names keep every alias, variable and fragment name unique.

    A field is selected under its bare name only with the arguments it always gets
    (`first: 2` where it takes `first`, none otherwise), so that selections merged
    from fragments never conflict; with any other arguments it gets an alias.
    """

    def __init__(self, draw, world: World) -> None:
        self.draw = draw
        self.world = world
        self.count = 0
        self.aliases = 0
        self.variables: dict[str, tuple[str, Any]] = {}
        self.fragments: list[Fragment] = []

    def chance(self, tenths: int) -> bool:
        """True `tenths` times in ten; shrinks towards False, so failing examples shrink to plain queries."""
        return self.draw(st.integers(0, 9)) >= 10 - tenths

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def value(self, gql_type, value: Any) -> str:
        """The value as a literal or, four times in ten, as a `$variable` of the argument's type."""
        if self.chance(4):
            name = self.fresh("v")
            self.variables[name] = (str(gql_type), value)
            return f"${name}"
        return literal(value)

    # --- arguments ---

    def root_arguments(self, name: str, definition) -> str | None:
        draw, world = self.draw, self.world
        types = {arg: d.type for arg, d in definition.args.items()}

        def arg(key: str, value: Any) -> str:
            return f"{key}: {self.value(types[key], value)}"

        if name == "customer":
            parts = [arg("id", draw(st.sampled_from(world.customer_ids)))]
        elif name == "order":
            parts = [arg("id", draw(st.sampled_from(world.order_ids)))]
        elif name == "contract":
            parts = [arg("id", draw(st.sampled_from(world.contract_ids)))]
        elif name == "product":
            parts = [arg("sku", draw(st.sampled_from(world.skus + world.kit_skus + [UNKNOWN["sku"]])))]
        elif name == "products":
            parts = [arg("skus", draw(st.lists(st.sampled_from(world.skus + world.kit_skus), min_size=1, max_size=2)))]
        elif name == "customers":
            parts = [f"first: {draw(st.integers(1, 2))}"]
            if self.chance(3):
                parts.append(arg("ownerId", draw(st.sampled_from(world.owner_ids))))
            if self.chance(1):
                parts.append(arg("search", draw(st.sampled_from(world.search_terms))))
            if self.chance(1):
                parts.append(f"tier: {draw(st.sampled_from(list(get_named_type(types['tier']).values)))}")
        elif name == "atp":
            parts = [arg("sku", draw(st.sampled_from(world.skus))), arg("quantity", draw(st.sampled_from(["1", "4", "250"])))]
        elif name == "buildable":
            parts = [arg("sku", draw(st.sampled_from(world.kit_skus))), arg("quantity", draw(st.sampled_from(["1", "3"])))]
        elif name == "quote":
            # Mostly customers some principal may see: an invisible one nulls the whole answer (quote is non-null).
            lines = draw(st.lists(st.sampled_from(world.skus), min_size=1, max_size=2))
            quote = {
                "customerId": draw(st.sampled_from(world.quote_customers)),
                # Prices that keep total, cost, margin and margin % apart (not 100 a line).
                "lines": [{"sku": sku, "quantity": draw(st.sampled_from(["3", "7"])),
                           "unitPrice": draw(st.sampled_from(["123.45", "987.65", "55.55"]))} for sku in lines],
            }
            parts = [arg("input", quote)]
        elif name == "supplier":
            parts = [arg("code", draw(st.sampled_from(world.supplier_codes)))]
        elif name == "purchaseOrder":
            parts = [arg("number", draw(st.sampled_from(world.purchase_orders)))]
        elif name == "productionOrder":
            parts = [arg("id", draw(st.sampled_from(world.production_orders)))]
        elif name == "materialRequirements":
            # Orders inside and outside the caller's scope, or items (kits, so the BOM is walked).
            if self.chance(5):
                parts = [arg("orders", draw(st.lists(st.sampled_from(world.order_ids), min_size=1, max_size=2)))]
            else:
                parts = [arg("items", [{"sku": draw(st.sampled_from(world.kit_skus + world.skus)), "quantity": "3"}])]
        else:
            generic = self.nested_arguments(name, definition)
            return None if generic is None else generic[0]
        return "(" + ", ".join(parts) + ")"

    def nested_arguments(self, name: str, definition) -> tuple[str, bool] | None:
        """(arguments, canonical): `first`/`last` are 2 unless varied; None when a required argument is unknown."""
        args = definition.args
        if any(isinstance(d.type, GraphQLNonNull) and d.default_value is Undefined for d in args.values()):
            return None
        canonical = {a: "2" for a, d in args.items() if a in ("first", "last") and get_named_type(d.type).name == "Int"}
        if not args or self.chance(6):
            chosen, is_canonical = canonical, True
        else:
            chosen, is_canonical = dict(canonical), False
            for a, d in args.items():
                named = get_named_type(d.type)
                if a in canonical:
                    chosen[a] = self.value(d.type, self.draw(st.integers(1, 2)))
                elif is_enum_type(named) and self.chance(5):
                    chosen[a] = self.draw(st.sampled_from(list(named.values)))
                elif named.name == "Boolean" and self.chance(5):
                    chosen[a] = self.value(d.type, self.draw(st.booleans()))
                elif named.name == "Decimal" and self.chance(5):
                    chosen[a] = self.value(d.type, "5")
                elif a == "warehouse" and self.chance(3):
                    chosen[a] = self.value(d.type, "WH-EU")
        text = "(" + ", ".join(f"{a}: {v}" for a, v in chosen.items()) + ")" if chosen else ""
        return text, is_canonical

    # --- selections ---

    def directive(self, on_field: bool = True) -> str:
        choice = self.draw(st.integers(0, 29))
        if choice == 1:
            name = self.fresh("v")
            self.variables[name] = ("Boolean!", self.draw(st.booleans()))
            return f" @include(if: ${name})"
        if choice == 2:
            return " @skip(if: false)"
        if choice == 3 and on_field:
            return " @fresh(maxAge: 0)"
        return ""

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def options(type_name: str, depth: int) -> list[str]:
        """The fields to draw from, restricted ones and ways towards them several times over."""
        weighted = []
        for name, definition in GRAPH.type_map[type_name].fields.items():
            named = get_named_type(definition.type)
            if not is_leaf_type(named) and depth >= MAX_DEPTH:
                continue
            if depth == 0:
                weight = ROOT_WEIGHTS.get(name, 1)
            elif f"{type_name}.{name}" in POLICY.restricted:
                weight = 6
            elif not is_leaf_type(named):
                weight = 4 if restricted_below(named.name) or named.name == "Customer" else 1
            else:
                weight = 1
            weighted += [name] * weight
        return weighted

    def field(self, type_name: str, name: str, depth: int, used: set[str], fragments_deep: int) -> Field | None:
        definition = GRAPH.type_map[type_name].fields[name]
        declared = dict(self.variables)
        if depth == 0:
            arguments, canonical = self.root_arguments(name, definition), False
            if arguments is None:
                return None
        else:
            drawn = self.nested_arguments(name, definition)
            if drawn is None:
                return None
            arguments, canonical = drawn
        bare = name not in used and (canonical or depth == 0)
        if not bare and self.aliases >= MAX_ALIASES:
            self.variables = declared  # the field is left out: so are the variables its arguments declared
            return None
        alias = None if bare and (self.aliases >= MAX_ALIASES or not self.chance(2)) else self.fresh("a")
        self.aliases += alias is not None
        used.add(alias or name)
        named = get_named_type(definition.type)
        head = (f"{alias}: " if alias else "") + name + arguments + self.directive()
        children = [] if is_leaf_type(named) else self.selection(named.name, depth + 1, fragments_deep)[0]
        return Field(alias or name, type_name, name, named.name, head, children)

    def selection(self, type_name: str, depth: int, fragments_deep: int = 0) -> tuple[list, int]:
        """A selection set on `type_name` at `depth` (0: the operation's), and how many levels it spans."""
        used: set[str] = set()
        items: list = []
        if type_name == "Customer" and self.chance(8):
            items.append(self.field(type_name, "id", depth, used, fragments_deep))
        options = self.options(type_name, depth)
        for _ in range(self.draw(st.integers(1, 3))):
            selected = self.field(type_name, self.draw(st.sampled_from(options)), depth, used, fragments_deep)
            if selected is not None:
                items.append(selected)
        if not items:
            leaf = next(n for n, d in GRAPH.type_map[type_name].fields.items() if is_leaf_type(get_named_type(d.type)))
            items.append(self.field(type_name, leaf, depth, used, fragments_deep))
        if depth > 0 and fragments_deep < 2 and self.chance(2):
            fitting = [f for f in self.fragments if f.type == type_name and depth + f.height - 1 <= MAX_DEPTH]
            if fitting and self.chance(5):
                fragment = self.draw(st.sampled_from(fitting))
            else:
                children, height = self.selection(type_name, depth, fragments_deep + 1)
                fragment = Fragment(self.fresh("F"), type_name, children, height)
                self.fragments.append(fragment)
            items.append(Spread(fragment))
        if len(items) >= 2 and self.chance(2):
            wrapped = self.draw(st.integers(1, len(items) - 1))
            items[-wrapped:] = [Inline(type_name, self.directive(on_field=False), items[-wrapped:])]
        return items, 1 + max((self.height(f) for f in fields_of(items)), default=0)

    def height(self, selected: Field) -> int:
        return 0 if not selected.children else 1 + max((self.height(f) for f in fields_of(selected.children)), default=0)

    def document(self, root: list) -> Document:
        declared = ", ".join(f"${name}: {gql_type}" for name, (gql_type, _) in self.variables.items())
        query = "query Probe" + (f"({declared})" if declared else "") + " " + render(root)
        for fragment in self.fragments:
            query += f"\nfragment {fragment.name} on {fragment.type} {render(fragment.children)}"
        variables = {name: value for name, (_, value) in self.variables.items()}
        return Document(query, variables, list(positions_of(root)))


@st.composite
def documents(draw, world: World) -> Document:
    """A valid query over the whole schema, depth at most MAX_DEPTH below its root fields."""
    writer = Writer(draw, world)
    root, _ = writer.selection("Query", 0)
    return writer.document(root)


# --- reading answers ----------------------------------------------------------------------


def reached(node: Any, path: tuple, at: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(concrete path, value) wherever the answer has `path` under present, non-null parents."""
    if not path:
        yield at, node
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from reached(item, path, at + (index,))
    elif isinstance(node, dict) and path[0] in node:
        yield from reached(node[path[0]], path[1:], at + (path[0],))


def value_at(data: Any, concrete: tuple) -> tuple[bool, Any]:
    node = data
    for step in concrete:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return False, None
        elif not isinstance(node, dict) or step not in node:
            return False, None
        node = node[step]
    return True, node


def leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from leaves(value)
    elif node is not None:
        yield node


def spelled(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


MONEY = re.compile(r"-?(\d+)\.(\d\d)")
DATE = re.compile(r"\d{4}-\d\d-\d\d")


def distinctive(value: Any) -> bool:
    """A value that would not turn up by coincidence: worth searching the principal's answer for.

    Money with cents ("1234.56", not "0.00" or "12.00"; at least five characters) or of five or
    more digits ("25000.00"); floats with two or more decimals (72.78); identifiers and numbers
    like "INV-2026-025132" (a letter and a digit, at least seven characters, not a date). Short
    values, whole amounts, dates, enums and flags recur all over unrelated data: "NET30" or
    "12.00" in a denied field says nothing about a leak when they appear elsewhere.
    """
    if isinstance(value, bool) or isinstance(value, int):
        return False
    if isinstance(value, float):
        text = repr(value)
        return "." in text and len(text.split(".")[1]) >= 2 and len(text) >= 5
    if not isinstance(value, str):
        return False
    money = MONEY.fullmatch(value)
    if money:
        return (money.group(2) != "00" and len(value.lstrip("-")) >= 5) or len(money.group(1)) >= 5
    return len(value) >= 7 and bool(re.search(r"\d", value)) and bool(re.search(r"[A-Za-z]", value)) and not DATE.match(value)


def occurs(value: str, text: str) -> bool:
    """`value` as a whole token of `text`: "7.22" is not in "17.22" nor in "7.225"."""
    return re.search(rf"(?<![\w.\-]){re.escape(value)}(?![\w]|\.\d)", text) is not None


def strings_of(body: Any) -> str:
    """Every string and number in the answer (data, errors, extensions), decoded, one per line."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                out.append(str(key))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif node is not None:
            out.append(spelled(node))

    walk(body)
    return "\n".join(out)


def blanked(data: Any, paths: list[tuple]) -> Any:
    """A copy of the data with null at each of these concrete paths."""
    data = copy.deepcopy(data)
    for concrete in paths:
        found, _ = value_at(data, concrete)
        if found:
            parent = value_at(data, concrete[:-1])[1]
            parent[concrete[-1]] = None
    return data


INTERNALS = re.compile(r"Traceback|File \"/|\b[A-Z]\w*(?:Error|Exception)\b|NoneType|object has no attribute")


# --- the properties -----------------------------------------------------------------------


def denied(principal: Principal, position: Position) -> bool:
    return position.field.coordinate in POLICY.restricted and not POLICY.can_read(principal.roles, position.field.coordinate)


def forbidden_at(errors: list[dict], concrete: tuple) -> bool:
    return any(e.get("path") == list(concrete) and e["extensions"]["code"] == "FORBIDDEN" for e in errors)


def assert_answer_is_well_formed(principal: Principal, response, body: dict) -> None:
    """HTTP 200; every error carries an `extensions.code`; no traceback or exception name anywhere.

    A principal the policy limits to trusted (persisted) documents gets 403 DOCUMENT_NOT_TRUSTED
    for a generated, ad-hoc document, and no data at all.
    """
    if principal.trusted_only:
        assert response.status_code == 403, response.text
        assert [e["extensions"]["code"] for e in body["errors"]] == ["DOCUMENT_NOT_TRUSTED"]
        assert body.get("data") is None
    else:
        assert response.status_code == 200, response.text
    for error in body.get("errors", []):
        assert isinstance((error.get("extensions") or {}).get("code"), str), f"an error without a code: {error}"
    internal = INTERNALS.search(response.text)
    assert internal is None, f"the answer shows internals ({internal.group(0)!r}): {response.text}"


def assert_denied_fields_are_null_and_forbidden(principal: Principal, doc: Document, body: dict) -> list[tuple]:
    """Each denied restricted field is null, with a FORBIDDEN error at its own (aliased) path."""
    data, errors = body.get("data"), body.get("errors", [])
    denied_paths = []
    for position in doc.positions:
        if not denied(principal, position):
            continue
        for concrete, value in reached(data, position.path):
            denied_paths.append(concrete)
            assert value is None, f"{principal.name} may not read {position.field.coordinate}, got {value!r} at {concrete}"
            assert forbidden_at(errors, concrete), f"no FORBIDDEN error at {list(concrete)} for {position.field.coordinate}"
    return denied_paths


def assert_denied_values_appear_nowhere(world: World, principal: Principal, doc: Document, admin: dict, body: dict,
                                        denied_paths: list[tuple]) -> None:
    """What the admin read in a denied field is not in the principal's answer: not in data, errors or extensions.

    Only distinctive values are searched for (see `distinctive`), and not those the
    principal may legitimately see in the same answer: a value also found in a field
    it may read (in either answer), an order total (unrestricted, and quoted in
    timeline summaries), or anything the query itself contains.
    """
    admin_data = admin.get("data")
    admin_denied = [c for p in doc.positions if denied(principal, p) for c, _ in reached(admin_data, p.path)]
    secrets = {spelled(v) for c in admin_denied for v in leaves(value_at(admin_data, c)[1]) if distinctive(v)}
    if not secrets:
        return
    readable = {spelled(v) for v in leaves(blanked(admin_data, admin_denied))}
    readable |= {spelled(v) for v in leaves(blanked(body.get("data"), denied_paths))}
    asked = doc.query + json.dumps(doc.variables)
    answer = strings_of(body)
    for secret in sorted(secrets - readable - world.order_totals):
        if occurs(secret, asked):
            continue  # the caller's own input, echoed
        assert not occurs(secret, answer), (
            f"{principal.name} may not read it, yet the denied value {secret!r} is in the answer: {json.dumps(body)}"
        )


# Root lists whose rows are the caller's own (row-level rules in the filter): the admin's row at a
# position is another customer's, so only "every customer shown is in scope" holds there.
LISTS_BY_SCOPE = frozenset({"customers", "invoices", "orders", "contracts", "tickets", "opportunities"})


def assert_only_customers_in_scope(principal: Principal, doc: Document, admin: dict, body: dict) -> None:
    """No customer outside the principal's scope shows; those inside it reached by a path show.

    - every `Customer.id` (and `ExternalRefs.crm`) in the data is in scope;
    - a customer reached by id, order, contract or ticket (not a `customers` page or a
      worklist, whose rows differ by scope) that the admin sees is null with FORBIDDEN when
      outside the scope, and present when inside;
    - no out-of-scope customer's name, tax id, or sample order, contract or invoice
      number occurs in the answer, unless the query itself contains it.
    """
    data, errors = body.get("data"), body.get("errors", [])
    for position in doc.positions:
        if (position.field.parent, position.field.name) in {("Customer", "id"), ("ExternalRefs", "crm")}:
            for concrete, value in reached(data, position.path):
                assert value is None or value in principal.in_scope, (
                    f"{principal.name} sees customer {value} (at {list(concrete)}), outside its scope"
                )
        if position.field.type != "Customer" or position.root in LISTS_BY_SCOPE:
            continue
        id_key = next((f.key for f in position.fields if f.name == "id"), None)
        if id_key is None:
            continue
        for concrete, seen in reached(admin.get("data"), position.path):
            if not isinstance(seen, dict) or not seen.get(id_key):
                continue
            found, value = value_at(data, concrete)
            if not found:
                continue  # the principal's answer has no parent there: it was nulled higher up
            if seen[id_key] in principal.in_scope:
                assert value is not None, f"{principal.name} should see customer {seen[id_key]} at {list(concrete)}"
            else:
                assert value is None, f"{principal.name} sees customer {seen[id_key]} at {list(concrete)}, outside its scope"
                assert forbidden_at(errors, concrete), f"no FORBIDDEN error at {list(concrete)} for customer {seen[id_key]}"
    asked = doc.query + json.dumps(doc.variables)
    answer = strings_of(body)
    leaked = [s for s in principal.secrets if s in answer and s not in asked]
    assert not leaked, f"{principal.name} gets data of customers outside its scope: {leaked} in {json.dumps(body)}"


def live_property(examples: int):
    """Hypothesis settings for a property checked over live HTTP: no deadline, slow draws allowed."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=PHASES,
        report_multiple_bugs=False,
    )


@pytest.fixture(params=["plan", "reference"])
def executed_by(request):
    """The gateway on either executor: the property must hold whichever runs the operation."""
    return request.getfixturevalue("in_process_gateway" if request.param == "plan" else "in_process_reference_gateway")


@live_property(DOCUMENTS)
@given(data=st.data())
def test_no_query_shows_a_principal_what_it_may_not_see(executed_by, world, data):
    """For any query and any principal: denied fields are null and FORBIDDEN and their values appear
    nowhere; no customer outside the caller's scope shows in any way; errors are coded and reveal no
    internals. The gateway runs in process (tests/in_process.py): what is checked is its answers."""
    in_process_gateway = executed_by
    doc = data.draw(documents(world), label="document")
    admin_response = in_process_gateway.post(doc.query, doc.variables)
    assert admin_response.status_code == 200, admin_response.text
    admin = admin_response.json()
    assert "data" in admin and not any(
        e["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED") for e in admin.get("errors", [])
    ), f"the generator wrote a document the gateway refuses: {admin.get('errors')}"
    for who in PRINCIPALS:
        principal = world.principals[who]
        response = in_process_gateway.post(doc.query, doc.variables, headers=principal.headers)
        note(f"{who}: {response.text}")
        body = response.json()

        assert_answer_is_well_formed(principal, response, body)
        denied_paths = assert_denied_fields_are_null_and_forbidden(principal, doc, body)
        assert_denied_values_appear_nowhere(world, principal, doc, admin, body, denied_paths)
        assert_only_customers_in_scope(principal, doc, admin, body)


class Reached(Exception):
    """Every field looked for has been generated: the rest of the documents need not be drawn."""


def test_the_generator_reaches_every_restricted_field_and_root_field(world):
    """The documents cover the policy: each restricted field and each root field is generated
    within 3,000 documents (no HTTP). Eight seeds needed 366 to 1,391; drawing stops once all are seen."""
    wanted = {r for r in POLICY.restricted if r.split(".")[0] in GRAPH.type_map}
    wanted |= {f"Query.{name}" for name in GRAPH.query_type.fields}
    seen: set[str] = set()

    @settings(max_examples=3000, phases=[Phase.generate], report_multiple_bugs=False, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(doc=documents(world))
    def collect(doc):
        seen.update(p.field.coordinate for p in doc.positions)
        if wanted <= seen:
            raise Reached

    with contextlib.suppress(Reached):
        collect()
    assert wanted <= seen, f"never generated: {sorted(wanted - seen)}"


# --- mutations: the policy's write lines and the row-level rules ------------------------------

MUTATIONS = {
    "placeOrder": "mutation M($c: ID!, $k: String!) { placeOrder(input: {customerId: $c, lines: [{sku: \"SKU-9999\", "
                  "quantity: \"1\", unitPrice: \"10\"}]}, idempotencyKey: $k) { status } }",
    "logActivity": "mutation M($c: ID!, $k: String!) { logActivity(input: {customerId: $c, kind: NOTE, "
                   "subject: \"Property test\"}, idempotencyKey: $k) { activity { id } } }",
    "openTicket": "mutation M($c: ID!, $k: String!) { openTicket(input: {customerId: $c, subject: \"Property test\", "
                  "kind: INQUIRY, orderId: \"O9999999\"}, idempotencyKey: $k) { ticket { id } } }",
    "approveOrder": "mutation M($c: ID!, $k: String!) { approveOrder(orderId: $c, idempotencyKey: $k) { status } }",
    "updateTicketStatus": "mutation M($c: ID!, $k: String!) { updateTicketStatus(input: {ticketId: $c, status: CLOSED, "
                          "note: \"Property test\"}, idempotencyKey: $k) { ticket { id } } }",
}
# Which mutations name a customer (the others name an order or a ticket: sent with an unknown one).
ON_CUSTOMERS = ("placeOrder", "logActivity", "openTicket")


@live_property(40)
@given(data=st.data())
def test_no_mutation_runs_for_a_caller_the_policy_or_the_row_rules_refuse(in_process_gateway, world, data):
    """For any mutation, principal and customer: without a `write` line the mutation is FORBIDDEN before
    anything runs; a customer outside the caller's scope is refused exactly as an unknown id is (the same
    code and message but for the id); a customer in scope is never refused; nothing of a customer outside
    the scope appears in any answer. (Inputs that get past the rules are refused later for bad input,
    except logActivity's, which writes: activities on the sample customers.)"""
    import uuid

    name = data.draw(st.sampled_from(sorted(MUTATIONS)), label="mutation")
    principal = world.principals[data.draw(st.sampled_from(PRINCIPALS), label="principal")]
    target = data.draw(st.sampled_from(world.customer_ids), label="customer") if name in ON_CUSTOMERS else "X9999999"

    def send(customer: str) -> tuple[Any, dict]:
        response = in_process_gateway.post(MUTATIONS[name], {"c": customer, "k": uuid.uuid4().hex},
                                           headers=principal.headers)
        note(f"{principal.name} {name} {customer}: {response.text}")
        return response, response.json()

    response, body = send(target)
    assert_answer_is_well_formed(principal, response, body)
    if principal.trusted_only:
        return
    errors = body.get("errors", [])
    if not POLICY.can_write(principal.roles, f"Mutation.{name}"):
        assert body["data"] == {name: None}
        assert [(e["extensions"]["code"], e["message"]) for e in errors] == [
            ("FORBIDDEN", f"Not authorised to run Mutation.{name}.")
        ]
        return
    assert not any(e["message"] == f"Not authorised to run Mutation.{name}." for e in errors)
    if name not in ON_CUSTOMERS:
        return
    refusal = [e for e in errors if f"customer {target!r}" in e["message"]]
    if target in principal.in_scope:
        assert refusal == [], f"{principal.name} is refused its own customer {target}: {body}"
    elif POLICY.scope(principal.roles) != "all":
        _, unknown = send(UNKNOWN["customer"])
        spelled_out = [(e["extensions"]["code"], e["message"].replace(target, "ID")) for e in errors]
        assert spelled_out == [("FORBIDDEN", e["message"].replace(UNKNOWN["customer"], "ID"))
                               for e in unknown.get("errors", []) if e["extensions"]["code"] == "FORBIDDEN"]
        assert body["data"] == unknown["data"] == {name: None}
    answer = strings_of(body)
    leaked = [s for s in principal.secrets if s in answer]
    assert not leaked, f"{principal.name} gets data of customers outside its scope: {leaked}"
