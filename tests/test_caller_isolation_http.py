"""No caller can hurt another, end to end: a gateway with its cache and breakers on, over real HTTP.

One caller's tiny deadline must not time out another caller who waits for the same
data, across real processes and sockets. That a crafted cursor cannot open the CRM's
circuit for everyone is proven in process (tests/test_caller_isolation.py: it is
refused before any backend call, and an unproven request's 500s never count) and its
coded answer over HTTP in tests/test_bad_input.py.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import bearer, gateway_with

PAGE = "query($first: Int) { customers(first: $first) { edges { node { id name } } } }"


def another_user(gateway) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, timeout=30, headers=bearer("finance", user="someone-else"))


def test_a_hasty_caller_does_not_time_out_a_patient_one_waiting_for_the_same_data(systems):
    with gateway_with(systems) as gateway, another_user(gateway) as patient, ThreadPoolExecutor(1) as pool:
        gateway.query(PAGE, {"first": 4})  # the document parsed and validated once: the hasty deadline is all fetch
        systems.reset_stats()
        with systems.faults("crm", latency_ms=400):
            hasty = pool.submit(gateway.post, PAGE, {"first": 5}, headers={"X-Request-Timeout": "0.05"})
            while systems.calls()["crm"] == 0:  # the hasty caller's miss has reached the CRM: a fill is in flight
                time.sleep(0.002)
            answer = patient.post("/graphql", json={"query": PAGE, "variables": {"first": 5}}).json()
            crm_calls = systems.calls()["crm"]
        hasty_answer = hasty.result().json()
    assert hasty_answer["errors"][0]["extensions"]["code"] == "SOURCE_TIMEOUT"  # its own deadline, its own loss
    assert "errors" not in answer, answer
    assert len(answer["data"]["customers"]["edges"]) == 5
    assert crm_calls == 1  # the patient caller waited for the hasty one's fill, not a fetch of its own
