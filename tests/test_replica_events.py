"""Change events across two replicas on a real Redis: an event delivered to one replica makes the
other's cache forget what it changed, and reaches subscribers on either replica, and a replayed
event is refused by the other replica too."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import orjson
import pytest
from websockets.sync.client import ClientConnection, connect

from bench.harness import GatewayProcess
from bench.redis_server import RedisServer, redis_binary
from conftest import AUTH, Gateway, Systems, token
from demo.webhooks import signed_headers

pytestmark = pytest.mark.skipif(
    redis_binary() is None, reason="redis-server is not installed (apt-get install redis-server; .ci/run does)"
)

SECRET = "whsec_" + base64.b64encode(b"isthmus-test-replica-events").decode()
BALANCE = "query($id: ID!) { customer(id: $id) { receivables { openBalance } } }"


@pytest.fixture(scope="module")
def replicas(systems):
    settings = {"auth": AUTH, "resilience": {"breaker": False}, "events": {"secret": SECRET}}
    with RedisServer() as redis_server, ExitStack() as stack:
        settings["redis"] = {"url": redis_server.url}
        yield [Gateway(stack.enter_context(GatewayProcess(systems.urls, **settings)).url) for _ in range(2)]


def an_open_invoice(systems: Systems) -> tuple[dict, dict]:
    for customer in systems.get("crm", "/customers/search", limit=300, offset=300):
        if customer["refs"]["erp"]:
            for invoice in systems.get("erp", "/invoices", party=customer["refs"]["erp"]):
                if invoice["status"] == "OPEN":
                    return customer, invoice
    pytest.fail("no open invoice")


@contextmanager
def subscribed(replica: Gateway, customer_id: str) -> Iterator[ClientConnection]:
    with connect(replica.url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        yield subscribe(ws, customer_id)


def subscribe(ws: ClientConnection, customer_id: str) -> ClientConnection:
    ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token('finance')}"}}))
    assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
    query = "subscription($id: ID!) { customerChanged(id: $id) { changes customer { id } } }"
    ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"id": customer_id}}}))
    return ws


def wait_for_subscription(replica: Gateway) -> None:
    until = time.monotonic() + 10
    while "isthmus_subscriptions 1.0" not in replica.http.get(f"{replica.url}/metrics").text:
        assert time.monotonic() < until
        time.sleep(0.05)


def test_an_event_to_one_replica_reaches_the_others_cache_and_subscribers(systems, replicas):
    one, two = replicas
    customer, invoice = an_open_invoice(systems)
    before = two.query(BALANCE, {"id": customer["id"]})["data"]["customer"]["receivables"]["openBalance"]
    # the payment is made with nobody told: both replicas (and Redis) keep the old balance for the TTL
    paid = systems.http.post(f"{systems.urls['erp']}/_events", json={"action": "payment", "invoice_id": invoice["id"]})
    assert paid.status_code == 200 and paid.json()["event"] is None
    assert two.query(BALANCE, {"id": customer["id"]})["data"]["customer"]["receivables"]["openBalance"] == before

    with subscribed(one, customer["id"]) as on_one, subscribed(two, customer["id"]) as on_two:
        wait_for_subscription(one)
        wait_for_subscription(two)
        body = orjson.dumps({"type": "payment.received", "data": paid.json()["data"]})
        headers = signed_headers(SECRET, f"evt_replicas_{time.time_ns()}", body)
        assert httpx.post(f"{one.url}/events/erp", content=body, headers=headers).status_code == 200
        for ws in (on_one, on_two):
            pushed = json.loads(ws.recv(timeout=5))
            assert pushed["type"] == "next", pushed
            assert pushed["payload"]["data"]["customerChanged"] == {
                "changes": ["payment.received"], "customer": {"id": customer["id"]}
            }
        # the same event sent to the other replica is a replay there too
        assert httpx.post(f"{two.url}/events/erp", content=body, headers=headers).status_code == 409

    after = two.query(BALANCE, {"id": customer["id"]})["data"]["customer"]["receivables"]["openBalance"]
    assert float(after) == pytest.approx(float(before) - float(invoice["amount"]))
