"""Bad client input gets a coded GraphQL error a person can act on: never a 500, never a trace."""

import pytest


def assert_coded(response, code, status=200, mentions=None):
    assert response.status_code == status, response.text
    body = response.json()
    errors = body["errors"]
    assert errors and all("code" in error["extensions"] for error in errors)
    assert code in {error["extensions"]["code"] for error in errors}
    assert "Traceback" not in response.text
    if mentions:
        assert mentions.lower() in " ".join(error["message"] for error in errors).lower()
    return body


def test_a_syntax_error(gateway):
    assert_coded(gateway.post("{ customers(first: 3) { edges "), "GRAPHQL_PARSE_FAILED", mentions="syntax")


def test_an_unknown_field(gateway):
    assert_coded(gateway.post("{ customers { edges { node { shoeSize } } } }"), "GRAPHQL_VALIDATION_FAILED", mentions="shoeSize")


def test_a_wrong_variable_type(gateway):
    body = assert_coded(
        gateway.post("query($n: Int) { customers(first: $n) { totalCount } }", {"n": "ten"}), "BAD_USER_INPUT", mentions="$n"
    )
    assert "data" not in body or body["data"] is None


def test_first_above_the_cap(gateway):
    body = assert_coded(gateway.post("{ customers(first: 10000) { totalCount } }"), "BAD_USER_INPUT", mentions="between 0 and 100")
    assert body["errors"][0]["path"] == ["customers"]


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'{"query": 42}'])
def test_a_body_that_is_not_a_graphql_request(gateway, body):
    response = gateway.http.post(f"{gateway.url}/graphql", content=body, headers={"Content-Type": "application/json"})
    assert_coded(response, "BAD_REQUEST", status=400)


def test_an_unknown_customer_id(gateway):
    body = assert_coded(gateway.post('{ customer(id: "NOPE-1") { name } }'), "NOT_FOUND", mentions="NOPE-1")
    assert body["data"] == {"customer": None}
    assert body["errors"][0]["path"] == ["customer"]


def test_a_cursor_that_was_not_issued_by_the_api(gateway):
    assert_coded(gateway.post('{ customers(after: "garbage") { totalCount } }'), "BAD_USER_INPUT", mentions="cursor")


def test_an_unknown_warehouse(gateway, systems):
    sku = systems.get("erp", "/products", skus="SKU-0001")[0]["sku"]
    assert_coded(
        gateway.post('query($s: ID!) { atp(sku: $s, quantity: "1", warehouse: "WH-NOWHERE") { available } }', {"s": sku}),
        "BAD_USER_INPUT",
        mentions="WH-NOWHERE",
    )
