"""Operation plans: compiled once per document, operation and policy decisions, kept in a bounded cache.

In process: the gateway over the demo apps. What the plan executor answers is held to
graphql-core's answers by tests/test_differential.py; here, the plan cache's life.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import bearer
from in_process import InProcess, gateway_over_demo
from schema.plan import PlanCache

POLICIES = Path(__file__).resolve().parent.parent / "policies"
TAX_IDS = "{ customers(first: 2) { edges { node { id taxId } } } }"


async def ask(gw: InProcess, query: str, *roles: str) -> dict:
    response = await gw.client.post("/graphql", json={"query": query}, headers=bearer(*roles))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_plan_cache_keeps_at_most_its_bound():
    async with gateway_over_demo(plan_cache_size=3) as gw:
        plans = gw.app.state.gateway.executor.plans
        assert isinstance(plans, PlanCache) and plans.maxsize == 3
        for first in range(1, 7):
            body = await ask(gw, f"{{ customers(first: {first}) {{ edges {{ node {{ id }} }} }} }}", "admin")
            assert len(body["data"]["customers"]["edges"]) == first
        assert len(plans) == 3


async def test_one_plan_per_document_and_decisions_reused_across_requests():
    async with gateway_over_demo() as gw:
        plans = gw.app.state.gateway.executor.plans
        for _ in range(3):
            await ask(gw, TAX_IDS, "finance")
        assert len(plans) == 1
        await ask(gw, TAX_IDS, "service_agent")  # other decisions: a plan of their own
        assert len(plans) == 2


async def test_a_policy_reload_empties_the_plan_cache_and_the_same_document_gets_the_new_decision(tmp_path):
    for name in ("model.conf", "policy.csv"):
        shutil.copy(POLICIES / name, tmp_path / name)
    async with gateway_over_demo(policy_dir=str(tmp_path)) as gw:
        plans = gw.app.state.gateway.executor.plans
        before = await ask(gw, TAX_IDS, "service_agent")
        assert {error["extensions"]["code"] for error in before["errors"]} == {"FORBIDDEN"}
        await ask(gw, TAX_IDS, "finance")
        assert len(plans) == 2

        policy = tmp_path / "policy.csv"
        policy.write_text(policy.read_text() + "\np, service_agent, Customer.taxId, read, allow\n")
        reload = await gw.client.post("/admin/policy/reload", headers=bearer("admin"))
        assert reload.json()["reloaded"] is True

        after = await ask(gw, TAX_IDS, "service_agent")
        assert "errors" not in after and all(e["node"]["taxId"] for e in after["data"]["customers"]["edges"])
        assert len(plans) == 1  # the finance plan of the old policy is gone too


async def test_a_plan_compiled_for_one_role_never_answers_another():
    """The same document, alternating a role that may read `taxId` and one that may not: each gets
    its own decision, whichever compiled its plan first."""
    async with gateway_over_demo() as gw:
        for roles in (("finance",), ("service_agent",), ("finance",), ("service_agent",)):
            body = await ask(gw, TAX_IDS, *roles)
            tax_ids = [edge["node"]["taxId"] for edge in body["data"]["customers"]["edges"]]
            if roles == ("finance",):
                assert "errors" not in body and all(tax_ids)
            else:
                assert tax_ids == [None, None]
                assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}


async def test_a_field_an_include_variable_left_out_of_one_plan_is_planned_and_guarded_when_included():
    """`@include(if: $show)` picks the plan: a plan made with the field left out is not reused when
    the variable brings it in, and the field guard applies to it then."""
    query = "query($show: Boolean!) { customers(first: 2) { edges { node { id taxId @include(if: $show) } } } }"
    async with gateway_over_demo() as gw:
        for show in (False, True, False, True):
            response = await gw.client.post(
                "/graphql", json={"query": query, "variables": {"show": show}}, headers=bearer("service_agent")
            )
            body = response.json()
            nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
            if show:
                assert all(node["taxId"] is None for node in nodes)
                assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
            else:
                assert all("taxId" not in node for node in nodes) and "errors" not in body
        assert len(gw.app.state.gateway.executor.plans) == 2
