"""Batching: the 360 page costs the same backend calls for 5 customers as for 50."""

import pytest


def page_calls(systems, gateway, page_query, first):
    systems.reset_stats()
    body = gateway.query(page_query, {"first": first})
    assert "errors" not in body, body["errors"][:3]
    assert len(body["data"]["customers"]["edges"]) == first
    return systems.calls(), systems.by_route()


def test_the_360_page_makes_one_call_per_source_method_whatever_its_size(systems, gateway, page_query):
    small, small_routes = page_calls(systems, gateway, page_query, 5)
    large, large_routes = page_calls(systems, gateway, page_query, 50)
    assert small == large, (small_routes, large_routes)
    assert sum(large.values()) <= 12, large_routes


@pytest.mark.parametrize("first", [1, 20, 100])
def test_every_route_is_called_at_most_once_per_page(systems, gateway, page_query, first):
    _, routes = page_calls(systems, gateway, page_query, first)
    repeated = {(system, route): n for system, counts in routes.items() for route, n in counts.items() if n > 1}
    assert repeated == {}


def test_two_paths_to_the_same_customer_cost_one_lookup(systems, gateway):
    customer = systems.get("crm", "/customers/search", limit=1)[0]
    systems.reset_stats()
    body = gateway.query(
        """query($id: ID!) {
             a: customer(id: $id) { name orders(first: 3) { customer { id name } } }
             b: customer(id: $id) { tier contracts { customer { id } } tickets { customer { id } } }
           }""",
        {"id": customer["id"]},
    )
    assert "errors" not in body
    assert body["data"]["a"]["name"] == customer["name"]
    crm_routes = systems.by_route()["crm"]
    assert crm_routes == {"/customers": 1}
