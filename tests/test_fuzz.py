"""Hostile input never breaks the gateway: coded GraphQL errors or valid data, never a 500, never a hang.

Hypothesis throws malformed and hostile documents and variables at a running
gateway — random text with null bytes and any unicode, deep nesting, unknown and
real field names, arguments of the wrong type, huge lists and numbers, oversize
strings — 2,000 per run (500 for each of the four shapes; 1,250 each before, lowered for
the suite's wall time). Schemathesis does the same for the
non-GraphQL endpoints from the gateway's own OpenAPI.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import not_a_server_error

from schema import public

QUERY_TYPE = public.query_type
FIELD_NAMES = sorted({name for t in public.type_map.values() if hasattr(t, "fields") for name in t.fields})
DEADLINE = 5.0 + 1.0  # the default request deadline, plus a margin for the HTTP round trip
ALLOWED_STATUS = {200, 400, 405, 413, 429}
HOSTILE_SETTINGS = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("\x00\u202e\U0001f600' \"\\{}$@"), max_size=20),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=20)


@st.composite
def argument_values(draw):
    return draw(
        st.one_of(
            st.integers(min_value=-(2**40), max_value=2**40).map(str),
            st.just("1e309"),
            st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
            st.just('"' + "x" * 20_000 + '"'),
            st.lists(st.integers(0, 10**6), max_size=600).map(lambda xs: "[" + ",".join(f'"{x}"' for x in xs) + "]"),
            st.sampled_from(["null", "true", "{}", "[]", "$v", "$missing", "ACTIVE", "{a: 1}"]),
        )
    )


@st.composite
def selections(draw, depth):
    names = draw(st.lists(st.sampled_from(FIELD_NAMES) | st.text(alphabet="abcxyz_", min_size=1, max_size=6), min_size=1, max_size=4))
    parts = []
    for name in names:
        arguments = ""
        if draw(st.booleans()):
            arg = draw(st.sampled_from(["first", "id", "sku", "skus", "quantity", "date", "status", "after", "input", "bogus"]))
            arguments = f"({arg}: {draw(argument_values())})"
        alias = draw(st.sampled_from(["", "", "a1: ", "zz: "]))
        inner = ""
        if depth > 0 and draw(st.booleans()):
            inner = " { " + draw(selections(depth - 1)) + " }"
        parts.append(f"{alias}{name}{arguments}{inner}")
    return " ".join(parts)


@st.composite
def documents(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.text(max_size=300))
    if kind == 1:
        depth = draw(st.integers(1, 150))
        return "{ " + "customer(id: \"C00001\") { orders { customer { " * depth + "id" + " } } }" * depth + " }"
    if kind == 2:
        return "{ " + "me { id } " * draw(st.integers(1, 2000)) + "}"
    body = draw(selections(depth=draw(st.integers(0, 6))))
    header = draw(st.sampled_from(["", "query ", "query Q($v: Int) ", "mutation ", "subscription ", "query Q($v: [ID!]!) "]))
    tail = draw(st.sampled_from(["", "", " fragment F on Customer { id ...F }", " }", "{"]))
    return f"{header}{{ {body} }}{tail}"


def assert_sane(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code in ALLOWED_STATUS, (response.status_code, response.text[:500])
    assert elapsed < DEADLINE, elapsed
    body = response.json()
    assert "data" in body or "errors" in body
    for error in body.get("errors") or []:
        assert error["extensions"]["code"], error
        assert error["extensions"]["code"] != "INTERNAL", error
    assert "Traceback" not in response.text


@pytest.fixture(scope="module")
def client(gateway):
    return gateway


@HOSTILE_SETTINGS
@given(query=documents(), variables=st.none() | st.dictionaries(st.sampled_from(["v", "first", "id", "input"]), json_values, max_size=3))
def test_hostile_documents_get_coded_errors_or_data(client, query, variables):
    started = time.monotonic()
    response = client.http.post(f"{client.url}/graphql", json={"query": query, "variables": variables})
    assert_sane(response, time.monotonic() - started)


@HOSTILE_SETTINGS
@given(body=st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()))
def test_hostile_bodies_get_coded_errors(client, body):
    started = time.monotonic()
    response = client.http.post(f"{client.url}/graphql", content=body, headers={"Content-Type": "application/json"})
    assert_sane(response, time.monotonic() - started)


@HOSTILE_SETTINGS
@given(variables=json_values)
def test_hostile_variables_for_real_operations(client, page_query, variables):
    payload = {"query": page_query, "variables": variables if isinstance(variables, dict) else {"first": variables}}
    started = time.monotonic()
    response = client.http.post(f"{client.url}/graphql", json=payload)
    assert_sane(response, time.monotonic() - started)


@HOSTILE_SETTINGS
@given(query=st.text(max_size=200), variables=st.text(max_size=200))
def test_hostile_get_requests(client, query, variables):
    started = time.monotonic()
    response = client.http.get(f"{client.url}/graphql", params={"query": query, "variables": variables})
    assert_sane(response, time.monotonic() - started)


NON_GRAPHQL = ("/healthz", "/readyz", "/metrics", "/bi", "/persisted")


def test_the_other_endpoints_never_fail_with_a_server_error(gateway):
    """Schemathesis generates requests from the gateway's own OpenAPI for every non-GraphQL endpoint."""
    api = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    chosen = [operation for operation in operations if operation.path.startswith(NON_GRAPHQL)]
    assert {"/healthz", "/readyz", "/metrics"} <= {operation.path for operation in chosen}
    headers = dict(gateway.http.headers)
    for operation in chosen:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(base_url=gateway.url, headers=headers, checks=[not_a_server_error])

        run()
