"""The executor and the field guard, in process: the gateway over the demo apps, no process or socket.

What a document costs before execution (parse, validation, the document cache), what
the field guard does with a denied field (null, FORBIDDEN at its path, no backend call
for it), and how errors reach the client (one per failed backend call, a code for
every error, no internals). The same rules over real HTTP, for every role and field,
are tests/test_field_access.py, tests/test_failures.py and tests/test_bad_input.py.
"""

from __future__ import annotations

import pytest

from conftest import bearer
from in_process import InProcess, gateway_over_demo

PAGE = (
    "query($first: Int) { customers(first: $first) { edges { node { id name taxId receivables { openBalance } } } } }"
)


@pytest.fixture(scope="module")
async def gw():
    async with gateway_over_demo(cache={"enabled": False}, resilience={"breaker": False, "retries": 0}) as running:
        yield running


async def ask(gw: InProcess, query: str, variables: dict | None = None, *roles: str, user: str = "tester") -> dict:
    response = await gw.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(*(roles or ("admin",)), user=user)
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_a_denied_field_is_null_and_forbidden_at_its_path_and_costs_no_backend_call(gw):
    await gw.reset_stats()
    body = await ask(gw, PAGE, {"first": 3}, "service_agent")
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == 3 and all(edge["node"]["name"] for edge in edges)
    assert all(edge["node"]["taxId"] is None and edge["node"]["receivables"] is None for edge in edges)
    assert set(codes(body)) == {"FORBIDDEN"}
    paths = {tuple(error["path"]) for error in body["errors"]}
    assert paths == {("customers", "edges", n, "node", field) for n in range(3) for field in ("taxId", "receivables")}
    assert (await gw.by_route())["erp"] == {}  # receivables come from the ERP: denied, never asked


async def test_a_role_that_may_read_the_fields_gets_them(gw):
    body = await ask(gw, PAGE, {"first": 3}, "finance")
    assert "errors" not in body, body["errors"]
    assert all(edge["node"]["receivables"]["openBalance"] is not None for edge in body["data"]["customers"]["edges"])


async def test_one_failed_backend_call_is_one_error_naming_every_path_it_cost(gw):
    await gw.faults("erp", down=True)
    try:
        body = await ask(gw, PAGE, {"first": 4}, "finance")
    finally:
        await gw.faults("erp", down=False)
    assert all(edge["node"]["name"] for edge in body["data"]["customers"]["edges"])  # the CRM's part stands
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE" and error["extensions"]["source"] == "ERP"
    assert [error["path"], *error["extensions"]["affectedPaths"][1:]] == [
        ["customers", "edges", n, "node", "receivables"] for n in range(4)
    ]


async def test_an_unexpected_error_is_internal_with_the_request_id_and_no_internals(gw, monkeypatch, caplog):
    async def broken(keys):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(gw.app.state.services.backends.crm, "customers", broken)
    response = await gw.client.post(
        "/graphql",
        json={"query": '{ customer(id: "C00001") { id name } }'},
        headers={**bearer("admin"), "X-Request-Id": "req-exec-1"},
    )
    body = response.json()
    assert response.status_code == 200
    assert codes(body) == ["INTERNAL"]
    assert "req-exec-1" in body["errors"][0]["message"]
    assert "secret" not in response.text and "ZeroDivisionError" not in response.text
    assert any("req-exec-1" in record.getMessage() for record in caplog.records)  # the log has the details


async def test_a_document_is_parsed_and_validated_once_for_every_request_that_sends_it(gw):
    executor = gw.app.state.services.executor
    query = "{ me { id } }"
    assert executor.prepare(query) is executor.prepare(query)
    for text, code in (("{ me { id ", "GRAPHQL_PARSE_FAILED"), ("{ me { nope } }", "GRAPHQL_VALIDATION_FAILED")):
        prepared = executor.prepare(text)
        assert prepared.document is None and [e["extensions"]["code"] for e in prepared.errors] == [code]
        body = await ask(gw, text)
        assert codes(body) == [code] and "data" not in body


async def test_a_bad_variable_is_bad_user_input_without_data(gw):
    body = await ask(gw, PAGE, {"first": "many"}, "finance")
    assert codes(body) == ["BAD_USER_INPUT"] and "data" not in body


async def test_the_reference_executor_guards_fields_as_the_plan_executor_does(gw):
    """The field guard is where both executors pass: graphql-core's own path (`Executor(plans=False)`)
    denies the same fields with the same answer."""
    executor = gw.app.state.gateway.executor
    planned = await ask(gw, PAGE, {"first": 3}, "service_agent")
    plans, executor.plans = executor.plans, None
    try:
        reference = await ask(gw, PAGE, {"first": 3}, "service_agent")
    finally:
        executor.plans = plans
    assert reference == planned
    assert set(codes(reference)) == {"FORBIDDEN"}
    assert all(edge["node"]["taxId"] is None for edge in reference["data"]["customers"]["edges"])


@pytest.mark.parametrize("planned", [True, False], ids=["plan", "reference"])
async def test_a_requests_records_go_with_the_request_without_waiting_for_the_garbage_collector(gw, planned):
    """Nothing keeps a finished request's context (and through its loaders, every record it read)
    in a reference cycle: the tuned collector runs full collections rarely, and under load such
    cycles held hundreds of MB."""
    import gc
    import weakref

    from server import gateway as pipeline

    contexts: list[weakref.ref] = []
    context_for = pipeline.Gateway.context_for

    def remembered(self, *args, **kwargs):
        context = context_for(self, *args, **kwargs)
        contexts.append(weakref.ref(context))
        return context

    executor = gw.app.state.gateway.executor
    plans = executor.plans
    gc.collect()
    gc.disable()
    try:
        pipeline.Gateway.context_for = remembered
        executor.plans = plans if planned else None
        body = await ask(gw, PAGE, {"first": 3}, "finance")
        assert len(body["data"]["customers"]["edges"]) == 3
        assert contexts and all(ref() is None for ref in contexts)
    finally:
        pipeline.Gateway.context_for = context_for
        executor.plans = plans
        gc.enable()
