"""A failing backend costs only the fields that needed it; the rest of the answer stands."""


def erp_errors(body):
    return [e for e in body.get("errors", []) if e["extensions"].get("source") == "ERP"]


def test_with_the_erp_down_the_360_page_keeps_crm_clm_and_desk_data(systems, gateway, page_query):
    with systems.faults("erp", down=True):
        response = gateway.post(page_query, {"first": 10})
    assert response.status_code == 200
    body = response.json()
    nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
    assert len(nodes) == 10
    assert all(node["name"] and node["owner"]["name"] for node in nodes)  # CRM
    assert any(node["contracts"] for node in nodes)  # CLM
    assert any(node["tickets"] for node in nodes)  # DESK
    assert any(c["milestones"] for node in nodes for c in node["contracts"] or [])
    with_erp = [node for node in nodes if node["refs"]["erp"]]
    assert with_erp and all(node["orders"] is None and node["receivables"] is None for node in with_erp)
    errors = erp_errors(body)
    assert errors and all(e["extensions"]["code"] == "SOURCE_UNAVAILABLE" for e in errors)
    # One error per failed backend call, not one per customer.
    assert len(errors) <= 6
    assert all("Traceback" not in e["message"] and "http" not in e["message"].lower() for e in body["errors"])


def test_with_the_erp_down_alerts_still_come_from_the_other_systems(systems, gateway):
    customers = systems.get("crm", "/customers/search", limit=200)
    with systems.faults("erp", down=True):
        body = gateway.query(
            "{ customers(first: 100) { edges { node { id alerts { kind source } } } } }"
        )
    alerts = [a for e in body["data"]["customers"]["edges"] for a in e["node"]["alerts"]]
    assert alerts and {a["source"] for a in alerts} <= {"CLM", "DESK"}
    assert any(e["extensions"]["code"] == "SOURCE_UNAVAILABLE" for e in erp_errors(body))
    assert customers


def test_a_slow_erp_times_out_within_its_timeout(systems, impatient_gateway):
    customer = next(c for c in systems.get("crm", "/customers/search", limit=20) if c["refs"]["erp"])
    with systems.faults("erp", latency_ms=3000):  # six times the 0.5 s timeout: any ERP answer would mean none applied
        body = impatient_gateway.query(
            'query($id: ID!) { customer(id: $id) { name receivables { openBalance } } }', {"id": customer["id"]}
        )
    assert body["data"]["customer"]["name"] == customer["name"]
    assert body["data"]["customer"]["receivables"] is None
    assert [e["extensions"]["code"] for e in erp_errors(body)] == ["SOURCE_TIMEOUT"]


def test_a_malformed_erp_answer_is_a_bad_response_for_its_fields_only(systems, gateway):
    customer = next(c for c in systems.get("crm", "/customers/search", limit=20) if c["refs"]["erp"])
    with systems.faults("erp", malformed_rate=1.0):
        body = gateway.query(
            'query($id: ID!) { customer(id: $id) { name receivables { openBalance } } }', {"id": customer["id"]}
        )
    assert body["data"]["customer"]["name"] == customer["name"]
    assert body["data"]["customer"]["receivables"] is None
    assert {e["extensions"]["code"] for e in erp_errors(body)} == {"SOURCE_BAD_RESPONSE"}
