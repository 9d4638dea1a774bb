"""Writes through to the systems of record, over real HTTP: orders from quotes, approvals, activities, tickets.

The module starts demo systems of its own (its writes live in their memory and would show
in other modules' figures) and gateway processes with the production defaults: the
cross-request cache on, so that reading a write back proves the stale entries were dropped.
Counts are taken at the systems (`/_stats`: writes count as "POST /orders", ...), figures
from their REST APIs.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bench.harness import GatewayProcess
from conftest import AUTH, SYSTEMS, Gateway, Systems, bearer
from demo.launcher import start_systems

PLACE = """mutation Place($input: PlaceOrderInput!, $key: String!) {
  placeOrder(input: $input, idempotencyKey: $key) {
    status
    order { id number status total totalTax lines { sku quantity unitPrice amount taxAmount } }
    approval { orderId level reasons status requestedBy decidedBy }
    activity { id subject }
    steps { name system done reference errorCode }
  }
}"""
APPROVE = """mutation Approve($id: ID!, $key: String!) {
  approveOrder(orderId: $id, idempotencyKey: $key) { status order { id status } approval { status decidedBy } steps { name done } }
}"""
QUOTE = """query Quote($input: QuoteInput!) {
  quote(input: $input) { total totalTax lines { sku amount taxAmount } approval { required level } }
}"""
CUSTOMER = """query Customer($id: ID!) {
  customer(id: $id) {
    id owner { id name }
    orders(first: 50) { id number status total }
    receivables { creditUsed }
    tickets { id status subject }
    activities(last: 5) { id subject }
  }
}"""
AVAILABLE = 'query($sku: ID!) { product(sku: $sku) { availability { onHand allocated } } }'
LOG = """mutation Log($input: LogActivityInput!, $key: String!) {
  logActivity(input: $input, idempotencyKey: $key) { activity { id kind subject by { id } } }
}"""
OPEN = """mutation Open($input: OpenTicketInput!, $key: String!) {
  openTicket(input: $input, idempotencyKey: $key) { ticket { id status subject order { id } } }
}"""
UPDATE = """mutation Update($input: UpdateTicketStatusInput!, $key: String!) {
  updateTicketStatus(input: $input, idempotencyKey: $key) { ticket { id status resolvedAt } }
}"""


def key() -> str:
    return f"test-{uuid.uuid4().hex}"


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture(scope="module")
def own_systems():
    with start_systems(ports={system: 0 for system in SYSTEMS}) as running:
        yield Systems(running.urls)


@pytest.fixture(scope="module")
def gateway(own_systems):
    """Production defaults (cache and breakers on); the ERP answers within 1 s or not at all."""
    with GatewayProcess(own_systems.urls, auth=AUTH, erp={"timeout": 1.0}) as process:
        yield Gateway(process.url)


class Sample:
    """A sales rep, its manager's team, and customers it owns that can order, have tickets, and are no risk."""

    def __init__(self, systems: Systems, gateway: Gateway) -> None:
        reps = {rep["id"]: rep for rep in systems.get("crm", "/reps")}
        customers = systems.get("crm", "/customers/search", limit=1000)
        self.gateway = gateway
        self.systems = systems
        self.usable: dict[str, list[dict]] = {}
        for customer in customers:
            if customer["refs"]["erp"] and customer["refs"]["desk"]:
                self.usable.setdefault(customer["owner_id"], []).append(customer)
        self.rep_id = max(self.usable, key=lambda rep: len(self.usable[rep]))
        self.rep = reps[self.rep_id]
        self.customers = self.usable[self.rep_id]
        self.outsider = next(c for c in customers if c["owner_id"] != self.rep_id and c["team"] != self.rep["team"])
        self.products = {p["sku"]: p for p in systems.get("erp", "/products")}
        self.taken: set[str] = set()

    @property
    def as_rep(self) -> dict[str, str]:
        return bearer("sales_rep", user=self.rep_id, team=self.rep["team"])

    @property
    def as_manager(self) -> dict[str, str]:
        return bearer("sales_manager", user="M-test", team=self.rep["team"])

    def quote(self, customer: dict, lines: list[dict]) -> dict:
        body = self.gateway.query(QUOTE, {"input": {"customerId": customer["id"], "lines": lines}},
                                  headers=bearer("admin", user="quote-admin"))
        assert "errors" not in body, body
        return body["data"]["quote"]

    def order_lines(self, *, approval: bool) -> tuple[dict, list[dict], dict]:
        """A customer not used yet and lines in stock whose quote needs approval (or not), with the quote."""
        stocked = [row["sku"] for row in self.systems.get("erp", "/stock", skus=",".join(list(self.products)[:60]))
                   if Decimal(row["on_hand"]) - Decimal(row["allocated"]) > 20]
        for customer in self.customers:
            if customer["id"] in self.taken:
                continue
            for sku in stocked:
                product = self.products[sku]
                cost = Decimal(product["standard_cost"] or "0")
                if cost <= 0 or product["kind"] == "MANUFACTURED":
                    continue
                price = (cost / Decimal("0.9")).quantize(Decimal("0.01")) if approval else (cost * 2).quantize(Decimal("0.01"))
                lines = [{"sku": sku, "quantity": "2", "unitPrice": str(price)}]
                evaluated = self.quote(customer, lines)
                wanted = {"required": True, "level": "SALES_MANAGER"} if approval else {"required": False, "level": None}
                if evaluated["approval"] == wanted:
                    self.taken.add(customer["id"])
                    return customer, lines, evaluated
                break  # this customer's credit or risk decides it: try the next
        raise AssertionError("no customer and product in the demo data for this case")


@pytest.fixture(scope="module")
def sample(own_systems, gateway) -> Sample:
    return Sample(own_systems, gateway)


def erp_orders(systems: Systems, customer: dict) -> list[dict]:
    return systems.get("erp", "/orders", party=customer["refs"]["erp"])


def place(gateway: Gateway, headers: dict, customer: dict, lines: list[dict], idempotency_key: str, **extra: Any) -> dict:
    return gateway.query(PLACE, {"input": {"customerId": customer["id"], "lines": lines, **extra}, "key": idempotency_key},
                         headers=headers)


# --- placing an order -------------------------------------------------------------------------


def test_an_order_from_a_quote_is_in_the_erp_at_the_gateways_prices_and_in_the_next_read(sample, own_systems, gateway):
    customer, lines, evaluated = sample.order_lines(approval=False)
    sku = lines[0]["sku"]
    before = gateway.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)["data"]["customer"]
    stock_before = gateway.query(AVAILABLE, {"sku": sku})["data"]["product"]["availability"]
    own_systems.reset_stats()

    body = place(gateway, sample.as_rep, customer, lines, key())

    assert "errors" not in body, body
    placed = body["data"]["placeOrder"]
    assert placed["status"] == "PLACED" and placed["approval"] is None
    assert [(s["name"], s["system"], s["done"]) for s in placed["steps"]] == [("order", "ERP", True), ("activity", "CRM", True)]
    (in_erp,) = [o for o in erp_orders(own_systems, customer) if o["id"] == placed["order"]["id"]]
    assert in_erp["status"] == "CONFIRMED"
    # the gateway's evaluation and the ERP's record agree line by line
    assert [(line["sku"], line["amount"], line["tax_amount"]) for line in in_erp["lines"]] == [
        (line["sku"], line["amount"], line["taxAmount"]) for line in evaluated["lines"]
    ]
    assert (in_erp["total"], in_erp["tax_amount"]) == (evaluated["total"], evaluated["totalTax"])
    assert own_systems.by_route()["erp"]["POST /orders"] == 1
    # the next read, through the same cache, shows the write: orders, credit used, stock, activities
    after = gateway.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)["data"]["customer"]
    assert after["orders"][0]["id"] == placed["order"]["id"]
    gross = Decimal(evaluated["total"]) + Decimal(evaluated["totalTax"])
    assert Decimal(after["receivables"]["creditUsed"]) == Decimal(before["receivables"]["creditUsed"]) + gross
    assert after["activities"][0]["id"] == placed["activity"]["id"]
    stock_after = gateway.query(AVAILABLE, {"sku": sku})["data"]["product"]["availability"]
    assert Decimal(stock_after["allocated"]) == Decimal(stock_before["allocated"]) + 2


def test_an_approval_required_quote_waits_and_only_a_role_the_rule_names_approves_it(sample, own_systems, gateway):
    customer, lines, _ = sample.order_lines(approval=True)
    body = place(gateway, sample.as_rep, customer, lines, key())
    placed = body["data"]["placeOrder"]
    assert placed["status"] == "PENDING_APPROVAL", body
    assert placed["approval"]["level"] == "SALES_MANAGER" and placed["approval"]["status"] == "PENDING"
    order_id = placed["order"]["id"]
    assert [o["status"] for o in erp_orders(own_systems, customer) if o["id"] == order_id] == ["DRAFT"]

    # a rep may not approve at all; finance may approve, but not at a sales manager's level
    as_rep = gateway.query(APPROVE, {"id": order_id, "key": key()}, headers=sample.as_rep)
    assert codes(as_rep) == ["FORBIDDEN"] and as_rep["data"]["approveOrder"] is None
    as_finance = gateway.query(APPROVE, {"id": order_id, "key": key()}, headers=bearer("finance", user="F-test"))
    assert codes(as_finance) == ["FORBIDDEN"] and "SALES_MANAGER" in as_finance["errors"][0]["message"]
    assert [o["status"] for o in erp_orders(own_systems, customer) if o["id"] == order_id] == ["DRAFT"]

    approved = gateway.query(APPROVE, {"id": order_id, "key": key()}, headers=sample.as_manager)
    assert "errors" not in approved, approved
    assert approved["data"]["approveOrder"]["status"] == "PLACED"
    assert approved["data"]["approveOrder"]["approval"] == {"status": "APPROVED", "decidedBy": "M-test"}
    assert [o["status"] for o in erp_orders(own_systems, customer) if o["id"] == order_id] == ["CONFIRMED"]
    again = gateway.query(APPROVE, {"id": order_id, "key": key()}, headers=sample.as_manager)
    assert codes(again) == ["BAD_USER_INPUT"]  # nothing waits any more


def test_twenty_concurrent_requests_with_one_key_make_one_order(sample, own_systems, gateway):
    customer, lines, _ = sample.order_lines(approval=False)
    count = len(erp_orders(own_systems, customer))
    own_systems.reset_stats()
    shared_key = key()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: place(gateway, sample.as_rep, customer, lines, shared_key), range(20)))
    assert all("errors" not in answer for answer in answers), answers
    assert len({repr(answer["data"]) for answer in answers}) == 1
    assert len(erp_orders(own_systems, customer)) == count + 1
    assert own_systems.by_route()["erp"]["POST /orders"] == 1
    assert own_systems.by_route()["crm"]["POST /activities"] == 1


def test_a_key_reused_with_other_input_is_refused_and_writes_nothing(sample, own_systems, gateway):
    customer, lines, _ = sample.order_lines(approval=False)
    used = key()
    first = place(gateway, sample.as_rep, customer, lines, used)
    assert first["data"]["placeOrder"]["status"] == "PLACED"
    own_systems.reset_stats()
    other = [{**lines[0], "quantity": "3"}]
    refused = place(gateway, sample.as_rep, customer, other, used)
    assert codes(refused) == ["IDEMPOTENCY_KEY_REUSED"] and refused["data"]["placeOrder"] is None
    assert "POST /orders" not in own_systems.by_route()["erp"]
    # the same input with the key answers the first outcome, writing nothing
    assert place(gateway, sample.as_rep, customer, lines, used)["data"] == first["data"]
    assert "POST /orders" not in own_systems.by_route()["erp"]


def test_an_erp_timeout_after_the_write_is_outcome_unknown_and_a_retry_leaves_one_order(sample, own_systems, gateway):
    customer, lines, _ = sample.order_lines(approval=False)
    count = len(erp_orders(own_systems, customer))
    used = key()
    with own_systems.faults("erp", latency_after_ms=1500):  # the ERP writes, then answers after the gateway gave up
        unknown = place(gateway, sample.as_rep, customer, lines, used)
    assert codes(unknown) == ["OUTCOME_UNKNOWN"], unknown
    assert unknown["data"]["placeOrder"] is None
    assert len(erp_orders(own_systems, customer)) == count + 1  # it was written
    settled = place(gateway, sample.as_rep, customer, lines, used)
    assert "errors" not in settled, settled
    assert settled["data"]["placeOrder"]["status"] == "PLACED"
    orders = erp_orders(own_systems, customer)
    assert len(orders) == count + 1
    assert settled["data"]["placeOrder"]["order"]["id"] in {o["id"] for o in orders}


def test_the_crm_down_after_the_erp_step_names_the_done_and_missing_step_and_a_retry_completes_it(
    sample, own_systems, gateway
):
    customer, lines, _ = sample.order_lines(approval=False)
    gateway.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)  # the customer and its owner are cached
    count = len(erp_orders(own_systems, customer))
    used = key()
    with own_systems.faults("crm", down=True):
        partial = place(gateway, sample.as_rep, customer, lines, used)
    placed = partial["data"]["placeOrder"]
    assert placed["status"] == "INCOMPLETE", partial
    assert [(s["name"], s["done"], s["errorCode"]) for s in placed["steps"]] == [
        ("order", True, None), ("activity", False, "SOURCE_UNAVAILABLE")
    ]
    assert [(e["extensions"]["code"], e["extensions"]["source"]) for e in partial["errors"]] == [("SOURCE_UNAVAILABLE", "CRM")]
    own_systems.reset_stats()
    completed = place(gateway, sample.as_rep, customer, lines, used)
    assert "errors" not in completed, completed
    done = completed["data"]["placeOrder"]
    assert done["status"] == "PLACED" and done["order"]["id"] == placed["order"]["id"]
    assert [(s["name"], s["done"]) for s in done["steps"]] == [("order", True), ("activity", True)]
    assert "POST /orders" not in own_systems.by_route()["erp"]  # the order step is not sent again
    assert len(erp_orders(own_systems, customer)) == count + 1
    subjects = [a["subject"] for a in own_systems.get("crm", "/activities", customer=customer["id"], last=5)]
    assert subjects.count(done["activity"]["subject"]) == 1


def test_bad_input_names_the_field_and_writes_nothing(sample, own_systems, gateway):
    customer = sample.customers[0]
    own_systems.reset_stats()
    zero = place(gateway, sample.as_rep, customer, [{"sku": "SKU-0001", "quantity": "0", "unitPrice": "10"}], key())
    assert codes(zero) == ["BAD_USER_INPUT"] and "lines[0].quantity" in zero["errors"][0]["message"]
    unknown = place(gateway, sample.as_rep, customer, [{"sku": "SKU-9999", "quantity": "1", "unitPrice": "10"}], key())
    assert codes(unknown) == ["BAD_USER_INPUT"] and "input.lines[0].sku" in unknown["errors"][0]["message"]
    bad_key = place(gateway, sample.as_rep, customer, [{"sku": "SKU-0001", "quantity": "1", "unitPrice": "10"}], "a key")
    assert codes(bad_key) == ["BAD_USER_INPUT"] and "idempotencyKey" in bad_key["errors"][0]["message"]
    long = gateway.query(LOG, {"input": {"customerId": customer["id"], "kind": "CALL", "subject": "x" * 201}, "key": key()},
                         headers=sample.as_rep)
    assert codes(long) == ["BAD_USER_INPUT"] and "input.subject" in long["errors"][0]["message"]
    writes = [route for routes in own_systems.by_route().values() for route in routes if " " in route]
    assert writes == []


def test_mutations_are_never_served_over_get_and_trusted_only_callers_cannot_send_them(own_systems, gateway, sample):
    query = LOG.replace("\n", " ")
    variables = '{"input": {"customerId": "C00001", "kind": "CALL", "subject": "hi"}, "key": "k"}'
    response = gateway.http.get(f"{gateway.url}/graphql", params={"query": query, "variables": variables})
    assert response.status_code == 405 and codes(response.json()) == ["METHOD_NOT_ALLOWED"]
    with GatewayProcess(own_systems.urls, auth=AUTH, persisted={"trusted_only": True}) as process:
        trusted_only = httpx.post(f"{process.url}/graphql", headers=sample.as_rep,
                                  json={"query": LOG, "variables": {"input": {"customerId": "C00001", "kind": "CALL",
                                                                            "subject": "hi"}, "key": key()}})
    assert trusted_only.status_code == 403 and codes(trusted_only.json()) == ["DOCUMENT_NOT_TRUSTED"]


# --- activities and tickets: row and field level ----------------------------------------------


def test_a_rep_logs_activities_only_on_its_own_customers_and_an_outsider_looks_unknown(sample, own_systems, gateway):
    mine = sample.customers[-1]
    logged = gateway.query(LOG, {"input": {"customerId": mine["id"], "kind": "CALL", "subject": "Follow-up call"},
                                 "key": key()}, headers=sample.as_rep)
    assert "errors" not in logged, logged
    assert logged["data"]["logActivity"]["activity"]["by"] == {"id": sample.rep_id}
    read = gateway.query(CUSTOMER, {"id": mine["id"]}, headers=sample.as_rep)["data"]["customer"]
    assert read["activities"][0]["id"] == logged["data"]["logActivity"]["activity"]["id"]

    own_systems.reset_stats()
    outsider = gateway.query(LOG, {"input": {"customerId": sample.outsider["id"], "kind": "CALL", "subject": "x"},
                                   "key": key()}, headers=sample.as_rep)
    unknown = gateway.query(LOG, {"input": {"customerId": "C99999", "kind": "CALL", "subject": "x"}, "key": key()},
                            headers=sample.as_rep)
    assert codes(outsider) == codes(unknown) == ["FORBIDDEN"]
    assert outsider["errors"][0]["message"].replace(sample.outsider["id"], "ID") == unknown["errors"][0]["message"].replace(
        "C99999", "ID"
    )
    procurement = gateway.query(LOG, {"input": {"customerId": mine["id"], "kind": "CALL", "subject": "x"}, "key": key()},
                                headers=bearer("procurement", user="P-test"))
    assert codes(procurement) == ["FORBIDDEN"] and "Mutation.logActivity" in procurement["errors"][0]["message"]
    assert "POST /activities" not in own_systems.by_route()["crm"]


def test_a_ticket_opened_on_an_order_shows_in_the_next_read_and_the_desk_moves_it_along(sample, own_systems, gateway):
    customer = sample.customers[-2]
    order = erp_orders(own_systems, customer)[0]
    before = gateway.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)["data"]["customer"]
    opened = gateway.query(OPEN, {"input": {"customerId": customer["id"], "subject": "Parts arrived damaged",
                                            "kind": "COMPLAINT", "priority": "P2", "orderId": order["id"]},
                                  "key": key()}, headers=sample.as_rep)
    assert "errors" not in opened, opened
    ticket = opened["data"]["openTicket"]["ticket"]
    assert ticket["status"] == "OPEN" and ticket["order"] == {"id": order["id"]}
    after = gateway.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)["data"]["customer"]
    assert [t["id"] for t in after["tickets"]] == [ticket["id"]] + [t["id"] for t in before["tickets"]]

    agent = bearer("service_agent", user="S-test")
    # a rep may open tickets but not move them; the desk may
    as_rep = gateway.query(UPDATE, {"input": {"ticketId": ticket["id"], "status": "RESOLVED", "note": "x"}, "key": key()},
                           headers=sample.as_rep)
    assert codes(as_rep) == ["FORBIDDEN"]
    resolved = gateway.query(UPDATE, {"input": {"ticketId": ticket["id"], "status": "RESOLVED",
                                                "note": "Replacement parts shipped"}, "key": key()}, headers=agent)
    assert "errors" not in resolved, resolved
    assert resolved["data"]["updateTicketStatus"]["ticket"]["status"] == "RESOLVED"
    read = gateway.query(CUSTOMER, {"id": customer["id"]}, headers=agent)["data"]["customer"]
    assert read["tickets"][0] == {"id": ticket["id"], "status": "RESOLVED", "subject": "Parts arrived damaged"}
    notes = own_systems.get("desk", f"/tickets/{ticket['id']}/notes")
    assert [(n["status"], n["note"]) for n in notes] == [("RESOLVED", "Replacement parts shipped")]
    backwards = gateway.query(UPDATE, {"input": {"ticketId": ticket["id"], "status": "OPEN", "note": "again"},
                                       "key": key()}, headers=agent)
    assert codes(backwards) == ["BAD_USER_INPUT"] and "input.status" in backwards["errors"][0]["message"]


def test_a_ticket_cannot_name_an_order_the_caller_may_not_see(sample, own_systems, gateway):
    customer = sample.customers[-3]
    foreign = erp_orders(own_systems, sample.outsider)[0]
    own_systems.reset_stats()
    answer = gateway.query(OPEN, {"input": {"customerId": customer["id"], "subject": "x", "kind": "INQUIRY",
                                            "orderId": foreign["id"]}, "key": key()}, headers=sample.as_rep)
    unknown = gateway.query(OPEN, {"input": {"customerId": customer["id"], "subject": "x", "kind": "INQUIRY",
                                             "orderId": "O9999999"}, "key": key()}, headers=sample.as_rep)
    assert codes(answer) == codes(unknown) == ["FORBIDDEN"]
    assert answer["errors"][0]["message"].replace(foreign["id"], "ID") == unknown["errors"][0]["message"].replace(
        "O9999999", "ID"
    )
    assert "POST /tickets" not in own_systems.by_route()["desk"]


# --- two replicas on a real Redis -------------------------------------------------------------


@pytest.fixture(scope="module")
def replicas(own_systems):
    from contextlib import ExitStack

    from bench.redis_server import RedisServer, redis_binary

    if redis_binary() is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    with RedisServer() as server, ExitStack() as stack:
        settings = {"auth": AUTH, "redis": {"url": server.url}, "resilience": {"breaker": False}}
        yield [Gateway(stack.enter_context(GatewayProcess(own_systems.urls, **settings)).url) for _ in range(2)]


def test_a_write_through_one_replica_shows_in_the_next_read_through_the_other(sample, own_systems, replicas):
    one, two = replicas
    customer, lines, _ = sample.order_lines(approval=False)
    before = two.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)["data"]["customer"]  # cached on two
    placed = place(one, sample.as_rep, customer, lines, key())["data"]["placeOrder"]
    assert placed["status"] == "PLACED"
    after = two.query(CUSTOMER, {"id": customer["id"]}, headers=sample.as_rep)["data"]["customer"]
    assert [o["id"] for o in after["orders"]] == [placed["order"]["id"]] + [o["id"] for o in before["orders"]][:49]
    assert after["activities"][0]["id"] == placed["activity"]["id"]
    assert Decimal(after["receivables"]["creditUsed"]) > Decimal(before["receivables"]["creditUsed"])


def test_a_key_used_on_one_replica_is_honoured_on_the_other(sample, own_systems, replicas):
    one, two = replicas
    customer, lines, _ = sample.order_lines(approval=False)
    used = key()
    first = place(one, sample.as_rep, customer, lines, used)
    own_systems.reset_stats()
    assert place(two, sample.as_rep, customer, lines, used)["data"] == first["data"]
    refused = place(two, sample.as_rep, customer, [{**lines[0], "quantity": "5"}], used)
    assert codes(refused) == ["IDEMPOTENCY_KEY_REUSED"]
    assert "POST /orders" not in own_systems.by_route()["erp"]


def test_twenty_concurrent_requests_with_one_key_across_two_replicas_make_one_order(sample, own_systems, replicas):
    customer, lines, _ = sample.order_lines(approval=False)
    count = len(erp_orders(own_systems, customer))
    own_systems.reset_stats()
    shared_key = key()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: place(replicas[i % 2], sample.as_rep, customer, lines, shared_key), range(20)))
    assert all("errors" not in answer for answer in answers), answers
    assert len({repr(answer["data"]) for answer in answers}) == 1
    assert len(erp_orders(own_systems, customer)) == count + 1
    assert own_systems.by_route()["erp"]["POST /orders"] == 1
