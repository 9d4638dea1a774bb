"""Change events: the demo systems' signed webhooks, the gateway's endpoint, and what it makes stale.

In process: the signature and timestamp rules, the de-duplication, what each change makes
stale, and the demo's sender (retry with back-off, 409 as delivered, a bounded queue) over
a mock transport. End to end: the demo systems send to a gateway process with its cache on;
a payment shows on the next read of the contract, and forged or replayed events are refused.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import orjson
import pytest

from bench.harness import GatewayProcess
from conftest import AUTH, SYSTEMS, Gateway, Systems, bearer
from demo.webhooks import Outbox, signed_headers
from server.changes import SeenEvents
from server.errors import EventExpired, EventSignatureInvalid
from server.events import Verifier
from sources.changes import Change, ChangeData, decode

SECRET = "whsec_" + base64.b64encode(b"isthmus-test-webhook-key-0123456789").decode()


# --- in process ----------------------------------------------------------------------------


def test_the_gateway_verifies_what_the_demo_signs():
    body = b'{"type":"invoice.overdue","data":{"invoice_id":"I1","party_code":"P1"}}'
    verifier = Verifier(SECRET, tolerance=300)
    assert verifier.verify(signed_headers(SECRET, "evt_1", body), body) == "evt_1"
    # a rotated secret: any one of the signatures may verify
    headers = signed_headers(SECRET, "evt_1", body)
    headers["webhook-signature"] = "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]
    assert verifier.verify(headers, body) == "evt_1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),  # the body changed
        lambda h, b: ({**h, "webhook-id": "evt_2"}, b),  # another id under the same signature
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
        lambda h, b: (signed_headers("whsec_" + base64.b64encode(b"another key").decode(), "evt_1", b), b),
    ],
)
def test_a_forged_event_is_refused(tamper):
    body = b'{"type":"payment.received","data":{}}'
    headers, sent = tamper(signed_headers(SECRET, "evt_1", body), body)
    with pytest.raises(EventSignatureInvalid):
        Verifier(SECRET, tolerance=300).verify(headers, sent)


@pytest.mark.parametrize("offset", [-301, 301])
def test_an_event_outside_the_tolerance_is_refused_either_way(offset):
    body = b'{"type":"payment.received","data":{}}'
    now = 1_800_000_000
    headers = signed_headers(SECRET, "evt_1", body, timestamp=now + offset)
    with pytest.raises(EventExpired):
        Verifier(SECRET, tolerance=300, clock=lambda: now).verify(headers, body)
    assert Verifier(SECRET, tolerance=302, clock=lambda: now).verify(headers, body) == "evt_1"


def test_an_event_id_is_taken_once_per_system():
    async def claims() -> list[bool]:
        seen = SeenEvents(None, keep=60, max_ids=10)
        return [await seen.claim("erp", "e1"), await seen.claim("erp", "e1"), await seen.claim("clm", "e1")]

    assert asyncio.run(claims()) == [True, False, True]


def test_a_change_makes_exactly_its_entries_stale():
    payment = decode(
        "erp", "e1", b'{"type":"payment.received","data":{"invoice_id":"I9","party_code":"P7","order_id":"O3"}}'
    )
    assert payment.stale() == {
        "ERP": {
            "invoices_by_party": ["P7"],
            "open_items_by_party": ["P7"],
            "orders": ["O3"],
            "orders_by_party": ["P7"],
        }
    }
    order = Change("erp", "e2", "order.status_changed", ChangeData(order_id="O3", party_code="P7", skus=["A", "B"]))
    assert order.stale() == {"ERP": {"orders": ["O3"], "orders_by_party": ["P7"], "stock": ["A", "B"]}}
    contract = Change(
        "clm", "e3", "contract.status_changed", ChangeData(contract_id="K1", contract_number="CN-1", counterparty_id="CP")
    )
    assert contract.stale() == {
        "CLM": {"contracts": ["K1"], "contracts_by_number": ["CN-1"], "contracts_by_counterparty": ["CP"]}
    }
    ticket = Change("desk", "e4", "ticket.updated", ChangeData(ticket_id="T1", org_id="G1", order_id="O3"))
    assert ticket.stale() == {"DESK": {"tickets": ["T1"], "tickets_by_org": ["G1"], "tickets_by_order": ["O3"]}}
    assert Change("crm", "e5", "activity.logged", ChangeData(customer_id="C1")).stale() == {
        "CRM": {"activities_by_customer": ["C1"]}
    }
    assert payment.customers() == [("erp", "P7")] and payment.orders() == ["O3"]


def sender(answers: list[int | Exception], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = answers.pop(0) if answers else 200
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, json={})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def test_the_demo_retries_while_the_gateway_is_unreachable_and_signs_each_attempt(monkeypatch):
    monkeypatch.setattr("demo.webhooks.FIRST_BACKOFF", 0.01)
    seen: list[httpx.Request] = []

    async def run() -> tuple[bool, dict]:
        outbox = Outbox("erp", "http://gw", SECRET, client=sender([httpx.ConnectError("down"), 503, 429], seen))
        event = outbox.emit("invoice.overdue", {"invoice_id": "I1"})
        return await outbox.delivered(event), outbox.status()

    delivered, status = asyncio.run(run())
    assert delivered and status["sent"] == 1 and status["retried"] == 3 and status["queued"] == 0
    assert [str(r.url) for r in seen] == ["http://gw/events/erp"] * 4
    assert len({r.headers["webhook-id"] for r in seen}) == 1  # one event, four attempts
    verifier = Verifier(SECRET, tolerance=300)
    assert all(verifier.verify(r.headers, r.content) == seen[0].headers["webhook-id"] for r in seen)


def test_the_demo_takes_409_as_delivered_and_drops_what_is_refused():
    async def run() -> tuple[bool, bool, dict]:
        outbox = Outbox("desk", "http://gw", SECRET, client=sender([409, 401], []))
        first = outbox.emit("ticket.updated", {"ticket_id": "T1"})
        second = outbox.emit("ticket.updated", {"ticket_id": "T2"})
        return await outbox.delivered(first), await outbox.delivered(second), outbox.status()

    first, second, status = asyncio.run(run())
    assert (first, second) == (True, False)
    assert status["sent"] == 1 and status["refused"] == 1 and status["queued"] == 0


def test_the_demo_queue_is_bounded(monkeypatch):
    monkeypatch.setattr("demo.webhooks.MAX_QUEUED", 3)

    async def run() -> dict:
        outbox = Outbox("erp", "http://gw", SECRET, client=sender([httpx.ConnectError("down")] * 100, []))
        for n in range(5):
            outbox.emit("order.created", {"order_id": f"O{n}"})
        return outbox.status()

    status = asyncio.run(run())
    assert status["queued"] == 3 and status["dropped"] == 2


# --- end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events_gateway(systems: Systems) -> Iterator[Gateway]:
    """A gateway with its cache on (production TTLs) and the event endpoint; the demo systems send to it."""
    with GatewayProcess(systems.urls, auth=AUTH, events={"secret": SECRET}) as process:
        for system in SYSTEMS:
            target(systems, system, process.url)
        try:
            yield Gateway(process.url)
        finally:
            for system in SYSTEMS:
                target(systems, system, None)


def target(systems: Systems, system: str, url: str | None) -> None:
    systems.http.put(f"{systems.urls[system]}/_events/target", json={"url": url, "secret": SECRET}).raise_for_status()


def open_invoices_on_a_contract(systems: Systems) -> tuple[str, list[dict]]:
    """A contract whose orders have at least two open invoices (newest customers first), and those invoices."""
    for customer in systems.get("crm", "/customers/search", limit=200):
        party = customer["refs"]["erp"]
        if not party or not customer["refs"]["clm"]:
            continue
        numbers = {o["id"]: o["contract_number"] for o in systems.get("erp", "/orders", party=party) if o["contract_number"]}
        invoices = [i for i in systems.get("erp", "/invoices", party=party) if i["status"] == "OPEN" and i["order_id"] in numbers]
        by_contract: dict[str, list[dict]] = {}
        for invoice in invoices:
            by_contract.setdefault(numbers[invoice["order_id"]], []).append(invoice)
        for number, open_ones in by_contract.items():
            if len(open_ones) >= 2:
                (contract,) = systems.get("clm", "/contracts", numbers=number)
                return contract["id"], open_ones
    pytest.fail("the demo data has no contract with two open invoices")


CONTRACT = """query($id: ID!) { contract(id: $id) {
  invoices { id status openAmount paidAmount }
  fulfilment { paidAmount paidGross invoicedGross }
} }"""


def pay(systems: Systems, invoice_id: str) -> dict:
    response = systems.http.post(f"{systems.urls['erp']}/_events", json={"action": "payment", "invoice_id": invoice_id})
    response.raise_for_status()
    return response.json()


def test_a_payment_settles_the_contract_on_the_next_read(systems, events_gateway):
    contract_id, (quiet, announced, *_) = open_invoices_on_a_contract(systems)
    before = events_gateway.query(CONTRACT, {"id": contract_id})["data"]["contract"]  # now in the cache (30 s)
    status = {i["id"]: i["status"] for i in before["invoices"]}
    assert status[quiet["id"]] == status[announced["id"]] == "OPEN"

    # Without an event the cache does not know: a payment nobody announces stays unseen for the TTL.
    target(systems, "erp", None)
    try:
        assert pay(systems, quiet["id"])["event"] is None
    finally:
        target(systems, "erp", events_gateway.url)
    stale = events_gateway.query(CONTRACT, {"id": contract_id})["data"]["contract"]
    assert {i["id"]: i["status"] for i in stale["invoices"]}[quiet["id"]] == "OPEN"

    # With one, the next read shows it (and the quiet one too: the party's invoices were read again).
    assert pay(systems, announced["id"])["delivered"] is True
    after = events_gateway.query(CONTRACT, {"id": contract_id})["data"]["contract"]
    now = {i["id"]: i for i in after["invoices"]}
    assert now[announced["id"]]["status"] == now[quiet["id"]]["status"] == "PAID"
    assert Decimal(now[announced["id"]]["openAmount"]) == 0
    paid = Decimal(announced["amount"]) + Decimal(quiet["amount"])
    assert Decimal(after["fulfilment"]["paidGross"]) == Decimal(before["fulfilment"]["paidGross"]) + paid
    assert after["fulfilment"]["paidGross"] == sum_paid(after["invoices"])


def sum_paid(invoices: list[dict]) -> str:
    return str(sum((Decimal(i["paidAmount"]) for i in invoices), Decimal("0.00")))


def metric(gateway: Gateway, line_start: str) -> float:
    text = httpx.get(f"{gateway.url}/metrics", headers=bearer("admin")).text
    found = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


def test_forged_and_replayed_webhooks_are_refused_and_counted(systems, events_gateway):
    url = f"{events_gateway.url}/events/erp"
    body = orjson.dumps({"type": "order.status_changed", "data": {"order_id": "O000001", "party_code": "P00001"}})
    counted = {o: metric(events_gateway, f'isthmus_events_total{{outcome="{o}",system="erp"}}') for o in
               ("accepted", "forged", "expired", "duplicate")}

    forged = signed_headers("whsec_" + base64.b64encode(b"a guess").decode(), "evt_forged", body)
    answer = httpx.post(url, content=body, headers=forged)
    assert answer.status_code == 401 and answer.json()["errors"][0]["extensions"]["code"] == "EVENT_SIGNATURE_INVALID"
    assert httpx.post(url, content=body, headers={"content-type": "application/json"}).status_code == 401

    headers = signed_headers(SECRET, f"evt_test_{time.time_ns()}", body)
    assert httpx.post(url, content=body, headers=headers).status_code == 200
    replayed = httpx.post(url, content=body, headers=headers)  # the same event again, captured and re-sent
    assert replayed.status_code == 409 and replayed.json()["errors"][0]["extensions"]["code"] == "EVENT_DUPLICATE"
    old = signed_headers(SECRET, f"evt_test_{time.time_ns()}", body, timestamp=int(time.time()) - 3600)
    expired = httpx.post(url, content=body, headers=old)
    assert expired.status_code == 400 and expired.json()["errors"][0]["extensions"]["code"] == "EVENT_EXPIRED"

    after = {o: metric(events_gateway, f'isthmus_events_total{{outcome="{o}",system="erp"}}') for o in counted}
    assert {o: after[o] - counted[o] for o in counted} == {"accepted": 1, "forged": 2, "expired": 1, "duplicate": 1}
