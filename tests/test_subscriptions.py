"""Subscriptions over real WebSockets (graphql-transport-ws) and SSE (graphql-sse) against the demo systems.

An invoice made overdue through the ERP's `/_events` reaches a finance subscriber's `alerts` within
1 s, and the owning rep's, never another rep's; a denied field is null in a pushed payload; a
token's expiry ends the connection; a principal's subscriptions are limited; protocol rules hold.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.harness import GatewayProcess
from conftest import AUTH, SYSTEMS, Gateway, Systems, bearer, token

SECRET = "whsec_" + base64.b64encode(b"isthmus-test-subscriptions-key").decode()
ALERTS = """subscription($kinds: [AlertKind!], $customer: ID) {
  alerts(kinds: $kinds, customerId: $customer) {
    action changes alert { kind severity refId message } customer { id name }
  }
}"""


@pytest.fixture(scope="module")
def live_gateway(systems: Systems) -> Iterator[Gateway]:
    """A gateway with its cache on, the event endpoint and subscriptions; the demo systems send to it."""
    with GatewayProcess(
        systems.urls, auth=AUTH, events={"secret": SECRET}, subscriptions={"max_per_principal": 3}
    ) as process:
        for system in SYSTEMS:
            retarget(systems, system, process.url)
        try:
            yield Gateway(process.url)
        finally:
            for system in SYSTEMS:
                retarget(systems, system, None)


def retarget(systems: Systems, system: str, url: str | None) -> None:
    systems.http.put(f"{systems.urls[system]}/_events/target", json={"url": url, "secret": SECRET}).raise_for_status()


def ws_url(gateway: Gateway) -> str:
    return gateway.url.replace("http://", "ws://") + "/graphql"


def socket(gateway: Gateway) -> ClientConnection:
    return connect(ws_url(gateway), subprotocols=["graphql-transport-ws"], open_timeout=10)


@contextmanager
def session(gateway: Gateway, bearer_token: str) -> Iterator[ClientConnection]:
    """A connection initialised with the token and acknowledged."""
    with socket(gateway) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer_token}"}}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "connection_ack"}
        yield ws


def subscribe(ws: ClientConnection, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
    ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}))


def receive(ws: ClientConnection, timeout: float) -> dict[str, Any] | None:
    try:
        return json.loads(ws.recv(timeout=timeout))
    except TimeoutError:
        return None


def subscribers(gateway: Gateway) -> float:
    text = httpx.get(f"{gateway.url}/metrics", headers=bearer("admin")).text
    line = next(line for line in text.splitlines() if line.startswith("isthmus_subscriptions "))
    return float(line.split()[1])


def wait_for_subscribers(gateway: Gateway, count: int) -> None:
    until = time.monotonic() + 10
    while subscribers(gateway) < count:
        assert time.monotonic() < until, f"fewer than {count} subscriptions started"
        time.sleep(0.05)


def invoice_due_later(systems: Systems) -> tuple[dict, dict, str]:
    """A customer of a rep with an open invoice not yet due, that invoice, and another rep."""
    today = dt.date.today().isoformat()
    customers = systems.get("crm", "/customers/search", limit=300)
    for customer in customers:
        if not customer["refs"]["erp"] or not customer["owner_id"]:
            continue
        open_ones = [
            i for i in systems.get("erp", "/invoices", party=customer["refs"]["erp"])
            if i["status"] == "OPEN" and i["due_date"] >= today
        ]
        if open_ones:
            other = next(c["owner_id"] for c in customers if c["owner_id"] and c["owner_id"] != customer["owner_id"])
            return customer, open_ones[0], other
    pytest.fail("no customer with an open invoice not yet due")


def test_an_overdue_invoice_reaches_finance_within_a_second_and_the_owner_but_no_other_rep(systems, live_gateway):
    customer, invoice, other_rep = invoice_due_later(systems)
    with (
        session(live_gateway, token("finance", user="fin-1")) as finance,
        session(live_gateway, token("sales_rep", user=customer["owner_id"])) as owner,
        session(live_gateway, token("sales_rep", user=other_rep)) as stranger,
        session(live_gateway, token("service_agent", user="svc-1")) as service,
    ):
        before = subscribers(live_gateway)
        subscribe(finance, "f", ALERTS, {"kinds": ["OVERDUE_RECEIVABLE"], "customer": customer["id"]})
        subscribe(owner, "o", ALERTS, {"kinds": ["OVERDUE_RECEIVABLE"]})
        subscribe(stranger, "s", ALERTS, {})
        subscribe(service, "a", ALERTS, {"customer": customer["id"]})  # may not read receivables
        wait_for_subscribers(live_gateway, before + 4)

        started = time.monotonic()
        answer = systems.http.post(
            f"{systems.urls['erp']}/_events",
            json={"action": "invoice_overdue", "invoice_id": invoice["id"], "days": 3, "wait": False},
        )
        answer.raise_for_status()
        pushed = receive(finance, timeout=5)
        elapsed = time.monotonic() - started
        assert pushed is not None and pushed["type"] == "next" and pushed["id"] == "f", pushed
        event = pushed["payload"]["data"]["alerts"]
        assert elapsed < 1.0, f"the finance subscriber heard of it after {elapsed:.2f} s"
        assert event["action"] in ("RAISED", "UPDATED") and event["changes"] == ["invoice.overdue"]
        assert event["alert"]["kind"] == "OVERDUE_RECEIVABLE" and event["customer"]["id"] == customer["id"]

        told = receive(owner, timeout=5)
        assert told is not None and told["payload"]["data"]["alerts"]["customer"]["id"] == customer["id"]
        assert receive(stranger, timeout=1.0) is None  # another rep's customer: never told
        assert receive(service, timeout=0.5) is None  # a receivable alert, for a role that may not read them


def test_a_denied_field_is_null_in_a_pushed_payload(systems, live_gateway):
    customer, invoice, _ = invoice_due_later(systems)
    query = "subscription($id: ID!) { customerChanged(id: $id) { changes customer { id name taxId } } }"
    with session(live_gateway, token("service_agent", user="svc-2")) as ws:
        before = subscribers(live_gateway)
        subscribe(ws, "c", query, {"id": customer["id"]})
        wait_for_subscribers(live_gateway, before + 1)
        pay = {"action": "payment", "invoice_id": invoice["id"], "amount": "1.00"}
        systems.http.post(f"{systems.urls['erp']}/_events", json=pay).raise_for_status()
        pushed = receive(ws, timeout=5)
    assert pushed is not None and pushed["type"] == "next", pushed
    data, errors = pushed["payload"]["data"]["customerChanged"], pushed["payload"]["errors"]
    assert data["customer"] == {"id": customer["id"], "name": customer["name"], "taxId": None}
    assert data["changes"] == ["payment.received"]
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [
        (["customerChanged", "customer", "taxId"], "FORBIDDEN")
    ]


def test_another_reps_customer_cannot_be_subscribed_to(systems, live_gateway):
    customer, _, other_rep = invoice_due_later(systems)
    query = "subscription($id: ID!) { customerChanged(id: $id) { customer { id } } }"
    with session(live_gateway, token("sales_rep", user=other_rep)) as ws:
        subscribe(ws, "x", query, {"id": customer["id"]})
        refused = receive(ws, timeout=5)
    assert refused is not None and refused["type"] == "error" and refused["id"] == "x"
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["FORBIDDEN"]


def test_a_token_expiry_ends_the_connection(live_gateway):
    short = token("finance", user="fin-short", ttl=2)
    with session(live_gateway, short) as ws:
        subscribe(ws, "a", ALERTS, {})
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "expired" in closed.value.rcvd.reason


def test_a_principal_holds_a_limited_number_of_subscriptions(live_gateway):
    with session(live_gateway, token("finance", user="fin-limit")) as ws:
        for n in range(4):
            subscribe(ws, f"s{n}", ALERTS, {})
        refused = receive(ws, timeout=5)
    assert refused is not None and refused["type"] == "error" and refused["id"] == "s3", refused
    assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


@pytest.mark.parametrize(
    ("init", "code"),
    [({"Authorization": "Bearer not-a-token"}, 4403), ({}, 4403)],
)
def test_a_connection_without_valid_credentials_is_closed(live_gateway, init, code):
    with socket(live_gateway) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


def test_protocol_rules(live_gateway):
    with socket(live_gateway) as ws, pytest.raises(ConnectionClosed) as closed:
        subscribe(ws, "early", ALERTS)  # before connection_init
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with session(live_gateway, token("finance", user="fin-proto")) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws, timeout=5) == {"type": "pong"}
        subscribe(ws, "same", ALERTS)
        subscribe(ws, "same", ALERTS)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409


def test_a_subscription_is_not_served_as_a_plain_post(live_gateway):
    response = live_gateway.post("subscription { alerts { action } }")
    assert response.status_code == 400 and "graphql-transport-ws" in response.json()["errors"][0]["message"]


def test_server_sent_events_carry_the_same_events(systems, live_gateway):
    customer, invoice, _ = invoice_due_later(systems)
    query = "subscription($id: ID!) { customerChanged(id: $id) { changes customer { id } } }"
    headers = {**bearer("finance", user="fin-sse"), "Accept": "text/event-stream"}
    with httpx.Client(timeout=10) as client:
        before = subscribers(live_gateway)
        with client.stream(
            "POST", f"{live_gateway.url}/graphql", json={"query": query, "variables": {"id": customer["id"]}}, headers=headers
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            wait_for_subscribers(live_gateway, before + 1)
            pay = {"action": "payment", "invoice_id": invoice["id"], "amount": "1.00"}
            systems.http.post(f"{systems.urls['erp']}/_events", json=pay).raise_for_status()
            lines = stream.iter_lines()
            event = next(line for line in lines if line.startswith("event:"))
            data = next(line for line in lines if line.startswith("data:"))
    assert event == "event: next"
    assert json.loads(data.removeprefix("data:"))["data"]["customerChanged"] == {
        "changes": ["payment.received"], "customer": {"id": customer["id"]}
    }
