"""Both executors give the same answers: the plan executor against graphql-core's.

The same request, by the same caller, once on the operation's plan (`schema/plan.py`,
`schema/plan_run.py`) and once on graphql-core's executor with the field guard
(`schema/reference.py`), over the same demo data with the cache off: `data` and
`errors` (messages, paths, codes, order) must be identical. The documents are the
front-ends' queries, every persisted document and the authorisation property test's
generated documents, for every role. The gateway runs in this process on a loop of
its own (tests/in_process.py), so hypothesis can drive it synchronously.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LIVE, InProcessGateway, bearer, in_process_with
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_authorisation_properties import PRINCIPALS, documents, world  # noqa: F401 - `world` is a fixture

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "tests" / "queries"
PERSISTED = ROOT / "persisted"
REQUEST_ID = re.compile(r"request id \S+")
GENERATED_EXAMPLES = int(os.environ.get("ISTHMUS_DIFFERENTIAL_EXAMPLES", "60"))


SHAPES = """
query Shapes($first: Int, $withOrders: Boolean!) {
  __typename
  customers(first: $first) {
    __typename
    edges { node { ...Names orders(first: 2) @include(if: $withOrders) { __typename id } } }
    pageInfo @skip(if: $withOrders) { hasNextPage }
  }
}
fragment Names on Customer { __typename id name ... on Customer { tier taxId } }
"""
# Arguments of batch resolvers as their Python functions take them: an enum as its member,
# a two-word name (`openOnly`) as the parameter it names (`open_only`).
BATCH_ARGUMENTS = """
query BatchArguments($status: OrderStatus) {
  customers(first: 20) { edges { node { id orders(status: $status, first: 5) { id status } } } }
  suppliers { code purchaseOrders(openOnly: true) { number status } }
}
"""


class Both:
    """One in-process gateway whose executor can be switched between the plan and graphql-core."""

    def __init__(self, gateway: InProcessGateway) -> None:
        self.gateway = gateway
        self.executor = gateway.running.gateway.app.state.gateway.executor
        self.plans = self.executor.plans

    def ask(self, query: str, variables: dict | None, headers: dict[str, str], *, planned: bool) -> dict:
        """The answer's status and body (without the freshness report); a persisted document by its id."""
        payload: dict[str, Any] = {"variables": variables}
        if query.endswith(".graphql") and (PERSISTED / query).is_file():
            payload["documentId"] = "sha256:" + hashlib.sha256((PERSISTED / query).read_bytes()).hexdigest()
        else:
            payload["query"] = query
        self.executor.plans = self.plans if planned else None
        try:
            response = self.gateway.http.post("/graphql", json=payload, headers=headers)
        finally:
            self.executor.plans = self.plans
        body = {"status": response.status_code, **response.json()}
        body.pop("extensions", None)
        for error in body.get("errors", []):
            error["message"] = REQUEST_ID.sub("request id …", error["message"])
        return body

    def differences(self, query: str, variables: dict | None, headers: dict[str, str]) -> list[str]:
        """Where the plan executor's answer differs from graphql-core's (empty: identical)."""
        planned = self.ask(query, variables, headers, planned=True)
        reference = self.ask(query, variables, headers, planned=False)
        if planned.get("data", ...) == reference.get("data", ...) and "errors" in planned:
            # Where an error nulled a non-null position, graphql-core cancels the work left below
            # the nulled position and drops the errors that arrive after it: which ones it reports
            # depends on timing. The plan executor reports every error that occurred. So: what
            # graphql-core reports must be among them, in the same order, and every other error
            # must sit under a position the response shows as null.
            errors, expected = planned["errors"], reference.get("errors", [])
            kept = [error for error in errors if error in expected]
            extra = [error for error in errors if error not in expected]
            if kept == expected and all(_under_null(planned.get("data"), error.get("path", [])) for error in extra):
                planned["errors"] = kept
        return list(_differences(planned, reference))


def _under_null(data: Any, path: list) -> bool:
    """Whether the response shows null at the path or at one of its ancestors."""
    node = data
    for part in path:
        if node is None:
            return True
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return node is None


def _differences(planned: Any, reference: Any, at: str = "") -> Iterator[str]:
    if type(planned) is not type(reference):
        yield f"{at or '/'}: plan {planned!r} ≠ reference {reference!r}"
    elif isinstance(planned, dict):
        if list(planned) != list(reference):
            yield f"{at or '/'}: keys {list(planned)} ≠ {list(reference)}"
        for key in planned.keys() & reference.keys():
            yield from _differences(planned[key], reference[key], f"{at}/{key}")
    elif isinstance(planned, list):
        if len(planned) != len(reference):
            yield f"{at}: {len(planned)} items ≠ {len(reference)}"
        for index, (left, right) in enumerate(zip(planned, reference)):
            yield from _differences(left, right, f"{at}/{index}")
    elif planned != reference:
        yield f"{at}: plan {planned!r} ≠ reference {reference!r}"


@pytest.fixture(scope="module")
def both() -> Iterator[Both]:
    with in_process_with(**LIVE) as gateway:
        yield Both(gateway)


def headers_of(role: str) -> dict[str, str]:
    return bearer(*(() if role == "nobody" else (role,)), user=f"test-{role}")


def quote_variables(both: Both) -> dict:
    skus = both.ask(
        "{ customers(first: 1) { edges { node { id orders(first: 3) { lines { sku } } } } } }",
        None,
        headers_of("admin"),
        planned=False,
    )
    assert skus["status"] == 200
    node = skus["data"]["customers"]["edges"][0]["node"]
    lines = [{"sku": line["sku"], "quantity": "2"} for order in node["orders"] for line in order["lines"]][:5]
    return {"input": {"customerId": node["id"], "lines": lines}}


@pytest.mark.parametrize("role", PRINCIPALS)
def test_the_front_ends_queries_and_persisted_documents_answer_the_same_on_both_executors(both, role):
    requests: list[tuple[str, str, dict | None]] = [
        ("customer360", (QUERIES / "customer360.graphql").read_text(), {"first": 5}),
        ("quote", (QUERIES / "quote.graphql").read_text(), quote_variables(both)),
    ]
    requests += [(path.name, path.name, {"first": 5}) for path in sorted(PERSISTED.glob("*.graphql"))]
    requests.append(("typenames, fragments, @skip/@include", SHAPES, {"first": 3, "withOrders": False}))
    requests.append(("batch resolvers' arguments", BATCH_ARGUMENTS, {"status": "SHIPPED"}))
    for name, query, variables in requests:
        if name == "who_am_i.graphql":
            variables = None
        assert both.differences(query, variables, headers_of(role)) == [], name


@settings(max_examples=GENERATED_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_documents_answer_the_same_on_both_executors_for_every_role(both, world, data):
    doc = data.draw(documents(world), label="document")
    role = data.draw(st.sampled_from(PRINCIPALS), label="role")
    assert both.differences(doc.query, doc.variables, world.principals[role].headers) == []


def test_the_comparison_catches_a_plan_executor_that_drops_a_denial(both, monkeypatch):
    """The differential test can fail: a plan executor that forgets FORBIDDEN errors is caught."""
    from schema.plan_run import PlanRun

    query = "{ customers(first: 2) { edges { node { id name taxId } } } }"
    assert both.differences(query, None, headers_of("service_agent")) == []
    monkeypatch.setattr(PlanRun, "_record", lambda self, step, error, path: None)
    found = both.differences(query, None, headers_of("service_agent"))
    assert found and found[0].startswith("/: keys")  # the plan's answer lacks `errors`
