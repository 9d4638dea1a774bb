"""Demand control's measurements, in process: linear in the document's text, whatever fragments expand to."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

import pytest
from graphql import parse

import schema
from schema import demand, executor
from schema.executor import Executor


def limits() -> demand.Limits:
    return demand.Limits(depth=12, aliases=100, root_fields=40, fields=1500)


def fragment_bomb(levels: int, on: str = "Customer", leaf: str = "id name") -> str:
    """`levels` fragments, each spreading the one before twice: about 2**levels fields once expanded."""
    fragments = [f"fragment F0 on {on} {{ {leaf} }}"]
    fragments += [f"fragment F{i} on {on} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    selection = f"{{ ...F{levels - 1} }}" if on == "Query" else f'{{ customer(id: "C00001") {{ ...F{levels - 1} }} }}'
    return selection + "\n" + "\n".join(fragments)


@contextmanager
def interrupted_after(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: an exponential walk of 2**40 selections would run for days."""

    def expire(*_: object) -> None:
        raise AssertionError(f"not measured within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def operation_of(document):
    return next(d for d in document.definitions if d.kind == "operation_definition")


@pytest.mark.parametrize("levels", [30, 40])
def test_a_fragment_bomb_is_measured_without_expanding_it(levels):
    document = parse(fragment_bomb(levels))
    with interrupted_after(2.0):  # it takes well under a millisecond
        shape = demand.measure(document, operation_of(document))
    assert shape.fields == min(2**levels + 1, demand.CEILING)
    assert (shape.depth, shape.root_fields, shape.aliases) == (2, 1, 0)


def test_a_fragment_bomb_is_costed_without_expanding_it():
    document = parse(fragment_bomb(40))
    with interrupted_after(2.0):
        estimated = demand.CostPlan(schema.public, document, operation_of(document)).estimate(None)
    assert estimated == 2**40 + 1


@pytest.mark.parametrize("unused", [False, True])
def test_a_fragment_bomb_is_refused_before_validation(monkeypatch, unused):
    """graphql-core's validation takes tens of milliseconds on a bomb, spread or not; it must not run at all."""

    def no_validation(*_: object) -> list:
        raise AssertionError("validation ran on a document over the limits")

    monkeypatch.setattr(executor, "validate", no_validation)
    bomb = fragment_bomb(40)
    if unused:
        bomb = "{ me { id } }\n" + bomb.split("\n", 1)[1]
    prepared = Executor(schema.public, max_tokens=15_000, limits=limits()).prepare(bomb)
    assert [error["extensions"]["code"] for error in prepared.errors] == ["TOO_MANY_FIELDS"]


@pytest.mark.parametrize(
    "query",
    [
        '{ customer(id: "C1") { ...A } } fragment A on Customer { id ...A }',
        '{ customer(id: "C1") { ...A } } fragment A on Customer { id ...B } fragment B on Customer { name ...A }',
        '{ customer(id: "C1") { ...Missing } }',
    ],
)
def test_cyclic_and_unknown_spreads_end(query):
    document = parse(query)
    operation = operation_of(document)
    with interrupted_after(2.0):
        shape = demand.measure(document, operation)
        demand.CostPlan(schema.public, document, operation).estimate(None)
        assert demand.screen(document, limits()) is None  # validation refuses it next
    assert shape.root_fields == 1


def test_a_long_chain_of_fragments_does_not_exhaust_the_stack():
    chain = ["fragment F0 on Customer { id }"] + [f"fragment F{i} on Customer {{ id ...F{i - 1} }}" for i in range(1, 3000)]
    document = parse('{ customer(id: "C1") { ...F2999 } }\n' + "\n".join(chain))
    assert demand.measure(document, operation_of(document)).fields == 3001


CUSTOMERS = " ".join(f'c{i}: customer(id: "C{i:05d}") {{ id }}' for i in range(45))


@pytest.mark.parametrize(
    "query",
    [
        f"{{ ... on Query {{ {CUSTOMERS} }} }}",
        f"{{ ...Roots }} fragment Roots on Query {{ {CUSTOMERS} }}",
        f"{{ ... on Query {{ ...A }} }} fragment A on Query {{ ... on Query {{ ...B }} }} fragment B on Query {{ {CUSTOMERS} }}",
        fragment_bomb(40, on="Query", leaf="me { id }"),
    ],
    ids=["inline", "named", "nested", "bomb"],
)
def test_root_fields_are_counted_through_fragments(query):
    document = parse(query)
    with interrupted_after(2.0):
        assert demand.measure(document, operation_of(document)).root_fields >= 45
    assert demand.screen(document, limits()).code == "TOO_MANY_ROOT_FIELDS"


EXPENSIVE = """query($customers: Int, $orders: Int) {
  customers(first: $customers) { edges { node { ...Orders } } }
}
fragment Orders on Customer { orders(first: $orders) { lines { product { name availability { available } } } } }"""
LITERAL = EXPENSIVE.replace("query($customers: Int, $orders: Int)", "").replace("$customers", "100").replace("$orders", "100")


def estimate(query: str, variables: dict | None) -> int:
    document = parse(query)
    return demand.CostPlan(schema.public, document, operation_of(document)).estimate(variables)


@pytest.mark.parametrize(
    "declared,variables",
    [
        ("$customers: Int = 100, $orders: Int = 100", None),  # the operation's defaults
        ("$customers: Int, $orders: Int", {"customers": 100, "orders": 100}),
        ("$customers: Int, $orders: Int", {"customers": 100.0, "orders": 1e2}),  # JSON numbers executed as the Int 100
        ("$customers: Int = 5, $orders: Int = 5", {"customers": 100, "orders": 100}),  # the request's values win
    ],
)
def test_variables_cost_what_they_execute_as(declared, variables):
    query = EXPENSIVE.replace("$customers: Int, $orders: Int", declared)
    assert estimate(query, variables) == estimate(LITERAL, None) == 510_300


def test_an_absent_or_null_variable_costs_the_fields_default():
    query = "query($n: Int) { customers(first: $n) { totalCount } }"
    literal = estimate("{ customers(first: 20) { totalCount } }", None)
    assert estimate(query, None) == estimate(query, {"n": None}) == literal == 20 * 2


def test_a_list_variable_costs_its_length():
    query = "query($skus: [ID!]!) { products(skus: $skus) { name } }"
    assert estimate(query, {"skus": [f"SKU-{i}" for i in range(7)]}) == 7 * 2
    assert estimate(query, {"skus": "SKU-1"}) == 1 * 2  # coerced to a list of one


def test_variables_that_do_not_coerce_are_left_to_execution():
    assert estimate("query($n: Int) { customers(first: $n) { totalCount } }", {"n": "ten"}) is None
