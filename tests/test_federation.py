"""Isthmus as an Apollo Federation v2 subgraph: `_service` for composition, `_entities` for a router.

`_entities` reaches records through the same loaders and row-level rules as the
root fields: N representations cost one backend call per source method, and a
caller gets no entity through a router that it could not get by asking directly.
"""

from __future__ import annotations

import pytest

from conftest import bearer
from test_http_exposure import served

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename ...Fields } }"
CUSTOMER = "fragment Fields on Customer { id name tier }"


@pytest.fixture(scope="module")
def subgraph(federated_gateway):
    return federated_gateway


@pytest.fixture(scope="module")
def customers(systems):
    return systems.get("crm", "/customers/search", limit=200)


def entities(gateway, representations, fragment=CUSTOMER, **kwargs):
    return gateway.query(f"{ENTITIES} {fragment}", {"r": representations}, **kwargs)


def test_the_subgraph_sdl_declares_federation_2_and_the_entity_keys(subgraph):
    sdl = subgraph.query("{ _service { sdl } }")["data"]["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2' in sdl
    for entity in ('Customer @key(fields: "id")', 'Product @key(fields: "sku")', 'SalesOrder @key(fields: "id")',
                   'Contract @key(fields: "id")', 'ServiceTicket @key(fields: "id")'):
        assert f"type {entity}" in sdl


def test_without_the_setting_there_are_no_federation_fields(gateway):
    for query in ("{ _service { sdl } }", '{ _entities(representations: [{__typename: "Customer", id: "C00001"}]) { __typename } }'):
        body = gateway.query(query)
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "data" not in body


def test_fifty_customer_representations_cost_one_crm_call(subgraph, systems, customers):
    wanted = customers[:50]
    systems.reset_stats()
    body = entities(subgraph, [{"__typename": "Customer", "id": c["id"]} for c in wanted])
    assert "errors" not in body
    assert [e["id"] for e in body["data"]["_entities"]] == [c["id"] for c in wanted]
    assert [e["name"] for e in body["data"]["_entities"]] == [c["name"] for c in wanted]
    assert systems.by_route()["crm"] == {"/customers": 1}


def test_every_entity_type_batches_per_source_method(subgraph, systems, customers):
    orders = systems.get("erp", "/orders", party=",".join(c["refs"]["erp"] for c in customers[:5] if c["refs"]["erp"]))[:8]
    contracts = systems.get("clm", "/contracts", counterparty=",".join(c["refs"]["clm"] for c in customers[:20] if c["refs"]["clm"]))[:6]
    tickets = systems.get("desk", "/tickets", org=",".join(c["refs"]["desk"] for c in customers[:10] if c["refs"]["desk"]))[:7]
    skus = sorted({line["sku"] for order in orders for line in order["lines"]})[:9]
    representations = (
        [{"__typename": "SalesOrder", "id": o["id"]} for o in orders]
        + [{"__typename": "Contract", "id": c["id"]} for c in contracts]
        + [{"__typename": "ServiceTicket", "id": t["id"]} for t in tickets]
        + [{"__typename": "Product", "sku": sku} for sku in skus]
    )
    fragment = """fragment Fields on _Entity {
      ... on SalesOrder { id number }
      ... on Contract { id number }
      ... on ServiceTicket { id subject }
      ... on Product { sku name }
    }"""
    systems.reset_stats()
    body = entities(subgraph, representations, fragment)
    assert "errors" not in body, body["errors"]
    got = body["data"]["_entities"]
    assert [e["__typename"] for e in got] == [r["__typename"] for r in representations]
    assert [e.get("id") or e.get("sku") for e in got] == [r.get("id") or r.get("sku") for r in representations]
    routes = systems.by_route()
    assert routes["erp"] == {"/orders": 1, "/products": 1}
    assert routes["clm"] == {"/contracts": 1}
    assert routes["desk"] == {"/tickets": 1}


def test_row_level_rules_apply_to_entities(subgraph, customers):
    rep_id = customers[0]["owner_id"]
    own = [c for c in customers if c["owner_id"] == rep_id][:3]
    others = [c for c in customers if c["owner_id"] != rep_id][:3]
    representations = [{"__typename": "Customer", "id": c["id"]} for c in own + others]
    representations.append({"__typename": "Customer", "id": "C99999"})  # unknown
    body = entities(subgraph, representations, headers=bearer("sales_rep", user=rep_id))
    got = body["data"]["_entities"]
    assert [e["id"] for e in got[:3]] == [c["id"] for c in own]
    assert got[3:] == [None] * 4
    errors = sorted(body["errors"], key=lambda e: e["path"])
    assert [e["path"] for e in errors] == [["_entities", i] for i in range(3, 7)]
    assert {e["extensions"]["code"] for e in errors} == {"FORBIDDEN"}
    # an unknown id and another rep's customer are refused in the same words
    assert errors[0]["message"].replace(others[0]["id"], "X") == errors[3]["message"].replace("C99999", "X")


def test_field_rules_apply_inside_entities(subgraph, systems, customers):
    order = systems.get("erp", "/orders", party=customers[0]["refs"]["erp"])[0]
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on SalesOrder { id lines { sku unitCost margin } }
      ... on Product { sku standardCost }
    } }"""
    sku = order["lines"][0]["sku"]
    representations = [{"__typename": "SalesOrder", "id": order["id"]}, {"__typename": "Product", "sku": sku}]
    as_rep = subgraph.query(query, {"r": representations}, headers=bearer("sales_rep", user=customers[0]["owner_id"]))
    assert as_rep["data"]["_entities"][0]["lines"][0]["unitCost"] is None
    assert as_rep["data"]["_entities"][1]["standardCost"] is None
    assert {e["extensions"]["code"] for e in as_rep["errors"]} == {"FORBIDDEN"}
    as_finance = subgraph.query(query, {"r": representations}, headers=bearer("finance"))
    assert "errors" not in as_finance
    assert as_finance["data"]["_entities"][1]["standardCost"] is not None


def test_a_representation_of_another_type_or_without_its_key_is_refused_alone(subgraph, customers):
    representations = [
        {"__typename": "Customer", "id": customers[0]["id"]},
        {"__typename": "OrderLine", "sku": "X", "unitCost": 1},
        {"__typename": "Customer"},
        {"__typename": "Customer", "id": {"$gt": ""}},
        "Customer",
    ]
    body = entities(subgraph, representations)
    assert body["data"]["_entities"][0]["id"] == customers[0]["id"]
    assert body["data"]["_entities"][1:] == [None] * 4
    assert [e["path"][1] for e in body["errors"]] == [1, 2, 3, 4]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}


async def test_entities_obey_the_cost_limit(customers):
    """100 representations x (the entity + __typename, id, name, tier) = 500 > 400: refused before any
    backend call (the in-process gateway's backends are a closed port)."""
    representations = [{"__typename": "Customer", "id": c["id"]} for c in customers[:100]]
    async with served(federation={"enabled": True}, limits={"max_cost": 400}) as client:
        body = (await client.post("/graphql", json={"query": f"{ENTITIES} {CUSTOMER}", "variables": {"r": representations}},
                                  headers=bearer("admin"))).json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body.get("data") is None


async def test_the_service_sdl_follows_the_introspection_rule():
    async with served(federation={"enabled": True}, limits={"introspection_roles": ["admin", "router"]}) as client:
        refused = (await client.post("/graphql", json={"query": "{ _service { sdl } }"}, headers=bearer("finance"))).json()
        assert refused["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        allowed = (await client.post("/graphql", json={"query": "{ _service { sdl } }"}, headers=bearer("router"))).json()
        assert "sdl" in allowed["data"]["_service"]


def test_a_trusted_only_role_cannot_reach_entities_by_an_ad_hoc_document(subgraph, customers):
    response = subgraph.post(
        f"{ENTITIES} {CUSTOMER}", {"r": [{"__typename": "Customer", "id": customers[0]["id"]}]}, headers=bearer("bi_reader")
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"


def test_the_public_schema_printed_by_the_cli_has_no_federation_types():
    from schema import public_sdl, subgraph_sdl

    assert "_entities" not in public_sdl() and "@key" not in public_sdl() and "_Any" not in public_sdl()
    assert "@key" in subgraph_sdl()
