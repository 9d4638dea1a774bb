"""A router's `_entities` shows each caller exactly what the root fields show it: a differential test.

Hypothesis draws an entity type, one to three keys (in and out of the caller's
scope, unknown ones), and a selection on that type, with the same generator as
test_authorisation_properties.py (restricted fields, aliases, fragments,
variables, directives). The selection is asked twice as the same principal:
through the root field (`customer(id:)`, `order(id:)`, `contract(id:)`,
`product(sku:)`) once per key, and through one `_entities` call. Item by item,
the data must be equal and the errors the same (path, code, message). The subgraph runs in
this process (tests/in_process.py); test_federation.py and test_supergraph.py serve it over HTTP.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, note, strategies as st

from test_differential import _under_null
from test_authorisation_properties import PRINCIPALS, UNKNOWN, Writer, live_property, render, world  # noqa: F401 (fixture)

# 135 pairs per run (270 before): two runs at 30 and two at 15 reached 4,275 to 4,336 lines of the
# gateway's packages, the draws and not the count deciding; each run draws afresh.
EXAMPLES_PER_PRINCIPAL = 15
ROOTS = {  # entity type -> (root field, key argument and field, the world's sample keys)
    "Customer": ("customer", "id", lambda w: w.customer_ids),
    "SalesOrder": ("order", "id", lambda w: w.order_ids),
    "Contract": ("contract", "id", lambda w: w.contract_ids),
    "Product": ("product", "sku", lambda w: w.skus + w.kit_skus + [UNKNOWN["sku"]]),
}


@pytest.fixture(scope="module")
def subgraph(in_process_subgraph):
    return in_process_subgraph


@st.composite
def pairs(draw, world):
    """(root-field document, `_entities` document, variables, keys) asking one selection both ways."""
    type_name = draw(st.sampled_from(sorted(ROOTS)))
    root, key, samples = ROOTS[type_name]
    keys = draw(st.lists(st.sampled_from(samples(world)), min_size=1, max_size=3))
    writer = Writer(draw, world)
    selection = render(writer.selection(type_name, 1)[0])
    declared = [f"${name}: {gql_type}" for name, (gql_type, _) in writer.variables.items()]
    fragments = "".join(f"\nfragment {f.name} on {f.type} {render(f.children)}" for f in writer.fragments)
    variables = {name: value for name, (_, value) in writer.variables.items()}
    asked = " ".join(f"k{i}: {root}({key}: {json.dumps(k)}) {selection}" for i, k in enumerate(keys))
    direct = "query Direct" + (f"({', '.join(declared)})" if declared else "") + " { " + asked + " }" + fragments
    via = ("query Via(" + ", ".join(["$representations: [_Any!]!", *declared]) + ") "
           f"{{ _entities(representations: $representations) {{ ... on {type_name} {selection} }} }}" + fragments)
    representations = [{"__typename": type_name, key: k} for k in keys]
    return direct, via, variables, representations, keys


def error_key(error: dict, item_of) -> tuple:
    """(item, rest of the path, code, message) of an error."""
    path = error["path"]
    return (item_of(path), tuple(map(str, path[2 if path[0] == "_entities" else 1:])),
            error["extensions"]["code"], error["message"])


def errors_by_item(body: dict, item_of) -> list[tuple]:
    """The keys of every error, sorted."""
    return sorted(error_key(e, item_of) for e in body.get("errors", []))


@pytest.mark.parametrize("who", PRINCIPALS)
@live_property(EXAMPLES_PER_PRINCIPAL)
@given(data=st.data())
def test_entities_answer_as_the_root_fields_do(subgraph, world, who, data):
    principal = world.principals[who]
    direct, via, variables, representations, keys = data.draw(pairs(world), label="pair")
    by_root = subgraph.post(direct, variables, headers=principal.headers)
    by_entities = subgraph.post(via, {**variables, "representations": representations}, headers=principal.headers)
    note(f"root: {by_root.text}\nentities: {by_entities.text}")
    assert by_root.status_code == by_entities.status_code
    if by_root.status_code != 200:  # a role pinned to trusted documents: both refused alike
        assert by_root.json()["errors"][0]["extensions"]["code"] == by_entities.json()["errors"][0]["extensions"]["code"]
        return
    root_body, entities_body = by_root.json(), by_entities.json()
    assert [root_body["data"][f"k{i}"] for i in range(len(keys))] == entities_body["data"]["_entities"]
    root_errors = sorted((error_key(e, lambda path: int(path[0][1:])), e["path"]) for e in root_body.get("errors", []))
    expected = errors_by_item(entities_body, lambda path: path[1])
    # `_entities` runs on graphql-core, which drops the errors that arrive after one nulled a
    # non-null position; the root fields' plan executor reports them all (tests/test_differential.py)
    assert [key for key, _ in root_errors if key in expected] == expected
    assert all(_under_null(root_body["data"], path) for key, path in root_errors if key not in expected)
