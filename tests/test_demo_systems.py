"""The demo systems over real HTTP: sizes, batch semantics, cross-system
consistency, the seeded situations, the control endpoints, determinism.

The systems are started once per session on free ports; the whole world
is then read back through the public APIs only, as the gateway will.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import httpx
import orjson
import pytest

from demo.generate import SYSTEMS, ensure_data, generate, read_meta

CENT = Decimal("0.01")

OPEN_ORDER = ("CONFIRMED", "PROCESSING")
OPEN_INVOICE = ("OPEN", "PARTIALLY_PAID")


def d(value: str) -> Decimal:
    return Decimal(value)


def chunks(values, size=400):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


@pytest.fixture(scope="session")
def api(systems):
    clients = {s: httpx.Client(base_url=url, timeout=60) for s, url in systems.urls.items()}
    yield clients
    for client in clients.values():
        client.close()


def items(client: httpx.Client, path: str, **params) -> list[dict]:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()["items"]


def batched(client: httpx.Client, path: str, param: str, keys, **params) -> list[dict]:
    result = []
    for part in chunks(keys):
        result += items(client, path, **{param: ",".join(part)}, **params)
    return result


@pytest.fixture(scope="session")
def world(api) -> dict:
    """Everything, read back through the APIs."""
    crm, erp, clm, desk = (api[s] for s in ("crm", "erp", "clm", "desk"))
    customers = items(crm, "/customers/search", limit=1000) + items(crm, "/customers/search", limit=1000, offset=1000)
    customers += items(crm, "/customers/search", limit=1000, offset=2000)
    parties = [c["refs"]["erp"] for c in customers if c["refs"]["erp"]]
    orders = batched(erp, "/orders", "party", parties)
    invoices = batched(erp, "/invoices", "party", parties)
    return {
        "anchor": date.fromisoformat(erp.get("/_meta").json()["anchor"]),
        "customers": customers,
        "parties": {p["code"]: p for p in batched(erp, "/parties", "codes", parties)},
        "products": {p["sku"]: p for p in items(erp, "/products")},
        "boms": items(erp, "/boms", skus=",".join(p["sku"] for p in items(erp, "/products"))),
        "stock": items(erp, "/stock"),
        "orders": orders,
        "invoices": invoices,
        "payments": batched(erp, "/payments", "invoice", [i["id"] for i in invoices]),
        "shipments": batched(erp, "/shipments", "order", [o["id"] for o in orders]),
        "contracts": batched(clm, "/contracts", "counterparty", [c["refs"]["clm"] for c in customers if c["refs"]["clm"]]),
        "tickets": batched(desk, "/tickets", "org", [c["refs"]["desk"] for c in customers if c["refs"]["desk"]]),
    }


# --- sizes and batch semantics ---------------------------------------------------------

def test_sizes(api, world):
    reps = items(api["crm"], "/reps")
    assert len(world["customers"]) == 2400
    assert 35 <= len(reps) <= 45 and len({r["team"] for r in reps}) == 6
    assert len(world["products"]) == 500
    assert sum(p["kind"] == "MANUFACTURED" for p in world["products"].values()) == 120
    assert len(items(api["erp"], "/warehouses")) == 4
    assert len(world["stock"]) == 500 * 4
    assert len(world["orders"]) >= 10_000
    assert sum(len(o["lines"]) for o in world["orders"]) >= 50_000
    assert len(world["invoices"]) >= 20_000
    assert len(world["contracts"]) >= 3_000
    assert len(world["tickets"]) >= 10_000
    contacts = batched(api["crm"], "/contacts", "customer", [c["id"] for c in world["customers"]])
    per_customer = Counter(c["customer_id"] for c in contacts)
    assert len(per_customer) == 2400 and set(per_customer.values()) <= {1, 2, 3, 4, 5}


def test_batch_lookup_returns_known_keys_and_omits_unknown(api, world):
    crm, erp, clm, desk = (api[s] for s in ("crm", "erp", "clm", "desk"))
    order_ids = [o["id"] for o in world["orders"][:300]]
    assert sorted(o["id"] for o in items(erp, "/orders", ids=",".join(order_ids + ["O999999"]))) == sorted(order_ids)
    found = items(crm, "/customers", ids="C00001, C00002,C00002,NOPE")
    assert [c["id"] for c in found] == ["C00001", "C00002"]
    assert [p["sku"] for p in items(erp, "/products", skus="SKU-0001,SKU-9999")] == ["SKU-0001"]
    assert items(erp, "/parties", codes="P99999") == []
    assert [c["id"] for c in items(clm, "/contracts", ids="K00001,K99999")] == ["K00001"]
    number = world["contracts"][0]["number"]
    assert [c["number"] for c in items(clm, "/contracts", numbers=number)] == [number]
    assert len(items(desk, "/tickets", ids="TK000001,TK999999")) == 1
    assert erp.get("/orders").status_code == 400  # exactly one selector
    assert erp.get("/orders", params={"party": "P00001", "ids": "O000001"}).status_code == 400


def test_list_answers_are_newest_first(world):
    by_party = defaultdict(list)
    for order in world["orders"]:
        by_party[order["party_code"]].append(order["ordered_at"])
    assert all(stamps == sorted(stamps, reverse=True) for stamps in by_party.values())


def test_every_ref_resolves_and_some_are_missing(api, world):
    customers = world["customers"]
    for system, path, param, key in (("erp", "/parties", "codes", "code"), ("clm", "/counterparties", "ids", "id"),
                                     ("desk", "/orgs", "ids", "id")):
        refs = [c["refs"][system] for c in customers if c["refs"][system]]
        assert 0.05 <= 1 - len(refs) / len(customers) <= 0.08, system
        assert len(set(refs)) == len(refs)
        assert {x[key] for x in batched(api[system], path, param, refs)} == set(refs)
        back = batched(api["crm"], "/customers/by-ref", "refs", refs[:300], system=system)
        assert {c["refs"][system] for c in back} == set(refs[:300])


def test_customer_search(api, world):
    crm = api["crm"]
    page = crm.get("/customers/search", params={"limit": 50}).json()
    assert page["total"] == 2400 and len(page["items"]) == 50
    by_id = sorted(page["items"], key=lambda c: c["id"])
    assert page["items"] == sorted(by_id, key=lambda c: c["last_activity_at"], reverse=True)
    local = next(c for c in world["customers"] if c["name_local"] and c["name_local"] != c["name"]
                 and not c["name_local"].isascii() and "ü" in c["name_local"])
    needle = local["name_local"].split()[0].upper()  # e.g. MÜLLER: case-insensitive, beyond ASCII
    found = crm.get("/customers/search", params={"q": needle, "limit": 1000}).json()
    assert local["id"] in {c["id"] for c in found["items"]} and found["total"] == len(found["items"])
    cjk = next(c for c in world["customers"] if c["name_local"] and "株式会社" in c["name_local"])
    assert cjk["id"] in {c["id"] for c in items(crm, "/customers/search", q=cjk["name_local"])}
    assert [c["id"] for c in items(crm, "/customers/search", q=cjk["tax_id"])] == [cjk["id"]]
    owner = world["customers"][0]["owner_id"]
    mine = crm.get("/customers/search", params={"owner": owner, "limit": 1000}).json()
    assert mine["total"] == sum(c["owner_id"] == owner for c in world["customers"])
    assert {c["owner_id"] for c in mine["items"]} == {owner}
    empty = {"q": "", "owner": owner, "tier": "", "limit": 1000, "offset": 0}
    assert crm.get("/customers/search", params=empty).json()["total"] == mine["total"]
    for row_filter in ("owner", "team"):  # row-level filters fail closed
        answer = crm.get("/customers/search", params={row_filter: ""}).json()
        assert (answer["items"], answer["total"], answer["more"]) == ([], 0, False)
    team = {r["id"]: r["team"] for r in items(crm, "/reps")}
    in_team = items(crm, "/customers/search", team=team[owner], tier="STRATEGIC,KEY", limit=1000)
    assert in_team and all(team[c["owner_id"]] == team[owner] and c["tier"] in ("STRATEGIC", "KEY") for c in in_team)


def test_activities_newest_per_customer(api, world):
    ids = [c["id"] for c in world["customers"][:200]]
    last3 = batched(api["crm"], "/activities", "customer", ids, last=3)
    every = batched(api["crm"], "/activities", "customer", ids)
    per_customer = defaultdict(list)
    for activity in every:
        per_customer[activity["customer_id"]].append(activity)
    expected = {a["id"] for acts in per_customer.values()
                for a in sorted(acts, key=lambda a: (a["at"], a["id"]), reverse=True)[:3]}
    assert {a["id"] for a in last3} == expected
    assert [a["at"] for a in last3] == sorted((a["at"] for a in last3), reverse=True)
    # read again: activities logged by other tests since `world` was read move a customer's newest
    newest = {c["id"]: c["last_activity_at"] for c in batched(api["crm"], "/customers", "ids", ids)}
    assert all(max(a["at"] for a in acts) == newest[cid] for cid, acts in per_customer.items())


# --- ERP consistency -------------------------------------------------------------------

def test_order_amounts_add_up(world):
    invoices_of, payments_of, shipments_of = defaultdict(list), defaultdict(list), defaultdict(list)
    for invoice in world["invoices"]:
        invoices_of[invoice["order_id"]].append(invoice)
    for payment in world["payments"]:
        payments_of[payment["invoice_id"]].append(payment)
    for shipment in world["shipments"]:
        shipments_of[shipment["order_id"]].append(shipment)
    contracts = {c["number"]: c for c in world["contracts"]}
    for order in world["orders"][::25]:
        lines = order["lines"]
        assert all(d(x["amount"]) == d(x["quantity"]) * d(x["unit_price"]) for x in lines)
        assert all(d(x["unit_cost"]) == d(world["products"][x["sku"]]["standard_cost"]) for x in lines)
        assert d(order["total"]) == sum(d(x["amount"]) for x in lines)
        assert d(order["shipped_amount"]) == sum(d(x["shipped_quantity"]) * d(x["unit_price"]) for x in lines)
        shipped = Counter()
        for shipment in shipments_of[order["id"]]:
            assert shipment["warehouse"] == order["warehouse"]
            for parcel in shipment["lines"]:
                shipped[parcel["sku"]] += d(parcel["quantity"])
        assert shipped == Counter({x["sku"]: d(x["shipped_quantity"]) for x in lines if d(x["shipped_quantity"])})
        # Taxes: per line, the product's rate; orders net with their tax beside; invoices gross.
        for x in lines:
            rate = d(world["products"][x["sku"]]["tax_rate"])
            assert d(x["tax_rate"]) == rate and d(x["tax_amount"]) == (d(x["amount"]) * rate).quantize(CENT, ROUND_HALF_UP)
        assert d(order["tax_amount"]) == sum(d(x["tax_amount"]) for x in lines)
        valid = [i for i in invoices_of[order["id"]] if i["status"] != "CANCELLED"]
        for invoice in invoices_of[order["id"]]:
            assert d(invoice["net_amount"]) + d(invoice["tax_amount"]) == d(invoice["amount"])
        assert d(order["invoiced_amount"]) == sum(d(i["net_amount"]) for i in valid)
        assert d(order["invoiced_tax_amount"]) == sum(d(i["tax_amount"]) for i in valid)
        terms = contracts[order["contract_number"]]["payment_terms"] if order["contract_number"] else \
            world["parties"][order["party_code"]]["payment_terms"]
        for invoice in invoices_of[order["id"]]:
            paid = sum(d(p["amount"]) for p in payments_of[invoice["id"]])
            assert invoice["party_code"] == order["party_code"]
            assert d(invoice["paid_amount"]) == paid
            if invoice["status"] == "CANCELLED":
                assert not paid
            else:
                assert invoice["status"] == ("PAID" if paid == d(invoice["amount"]) else "PARTIALLY_PAID" if paid
                                             else "OPEN")
            due = date.fromisoformat(invoice["issued_at"]) + timedelta(days=int(terms[3:]))
            assert invoice["due_date"] == due.isoformat()
        paid_net = sum(((d(i["paid_amount"]) * d(i["net_amount"]) / d(i["amount"])).quantize(CENT, ROUND_HALF_UP)
                        for i in valid), Decimal(0))
        assert d(order["paid_amount"]) == paid_net
        assert d(order["paid_amount"]) + d(order["paid_tax_amount"]) == sum(d(i["paid_amount"]) for i in valid)
        check_status(order, valid)


def check_status(order: dict, valid_invoices: list[dict]) -> None:
    shipped = [d(x["shipped_quantity"]) for x in order["lines"]]
    full = all(d(x["shipped_quantity"]) == d(x["quantity"]) for x in order["lines"])
    status = order["status"]
    if status in ("DRAFT", "CONFIRMED", "CANCELLED"):
        assert not any(shipped) and not valid_invoices, order["id"]
    elif status == "PROCESSING":
        assert any(shipped) and not full, order["id"]
    elif status == "SHIPPED":
        settled = d(order["invoiced_amount"]) == d(order["total"]) == d(order["paid_amount"])
        assert full and not settled, order["id"]
    else:
        assert status == "DONE" and full, order["id"]
        assert d(order["invoiced_amount"]) == d(order["total"]) == d(order["paid_amount"]), order["id"]


def test_every_status_occurs(world):
    assert {o["status"] for o in world["orders"]} == {"DRAFT", "CONFIRMED", "PROCESSING", "SHIPPED", "DONE", "CANCELLED"}
    assert {i["status"] for i in world["invoices"]} == {"OPEN", "PARTIALLY_PAID", "PAID", "CANCELLED"}


def test_allocated_is_the_open_order_quantity(api, world):
    open_quantity = Counter()
    for order in world["orders"]:
        if order["status"] in OPEN_ORDER:
            for line in order["lines"]:
                open_quantity[line["sku"], order["warehouse"]] += d(line["quantity"]) - d(line["shipped_quantity"])
    assert sum(open_quantity.values()) > 0
    for row in world["stock"]:
        assert d(row["allocated"]) == open_quantity[row["sku"], row["warehouse"]], row
    sample = sorted({sku for sku, _ in open_quantity})[:50]
    for row in items(api["erp"], "/stock", skus=",".join(sample)):
        assert d(row["allocated"]) == open_quantity[row["sku"], row["warehouse"]]


def test_boms_are_acyclic_at_most_three_levels_and_cost_is_not_the_rollup(world):
    products = world["products"]
    children: dict[str, list] = {}
    for line in world["boms"]:
        children.setdefault(line["parent_sku"], []).append((line["component_sku"], d(line["quantity"])))
    assert set(children) == {s for s, p in products.items() if p["kind"] == "MANUFACTURED"}

    def depth(sku, path=()):
        assert sku not in path, f"cycle through {sku}"
        below = children.get(sku, [])
        return 1 + max(depth(c, path + (sku,)) for c, _ in below) if below else 0

    assert max(depth(sku) for sku in children) == 3
    assert all(p["assembly_cost"] == "0.00" for s, p in products.items() if s not in children)
    for sku in children:
        rollup = d(products[sku]["assembly_cost"]) + sum(
            d(products[c]["standard_cost"]) * q for c, q in children[sku])
        standard = d(products[sku]["standard_cost"])
        assert standard != rollup and abs(standard - rollup) <= rollup * Decimal("0.1")


# --- the situations a customer-360 must surface ----------------------------------------

def test_overdue_invoices_in_every_aging_bucket(world):
    buckets = Counter()
    for invoice in world["invoices"]:
        if invoice["status"] in OPEN_INVOICE:
            late = (world["anchor"] - date.fromisoformat(invoice["due_date"])).days
            if late > 0:
                buckets["1-30" if late <= 30 else "31-60" if late <= 60 else "61-90" if late <= 90 else ">90"] += 1
    assert set(buckets) == {"1-30", "31-60", "61-90", ">90"} and min(buckets.values()) >= 20


def test_about_five_percent_of_customers_are_over_their_credit_limit(world):
    exposure = Counter()
    for invoice in world["invoices"]:
        if invoice["status"] in OPEN_INVOICE:
            exposure[invoice["party_code"]] += d(invoice["amount"]) - d(invoice["paid_amount"])
    for order in world["orders"]:
        if order["status"] in OPEN_ORDER:  # gross, like the invoices: the basis credit limits are set on
            exposure[order["party_code"]] += (d(order["total"]) + d(order["tax_amount"]) - d(order["invoiced_amount"])
                                              - d(order["invoiced_tax_amount"]))
    over = [p for p in world["parties"].values() if exposure[p["code"]] > d(p["credit_limit"])]
    at_limit = [p for p in world["parties"].values() if exposure[p["code"]] == d(p["credit_limit"])]
    assert 0.04 <= len(over) / len(world["parties"]) <= 0.07
    assert at_limit


def test_late_milestones_exist(world):
    anchor = world["anchor"].isoformat()
    late = [m for c in world["contracts"] if c["status"] == "ACTIVE" for m in c["milestones"]
            if m["status"] == "PENDING" and m["due_date"] < anchor]
    assert len(late) >= 50
    assert all((m["done_at"] is None) == (m["status"] == "PENDING") for c in world["contracts"] for m in c["milestones"])


def test_sla_breaches_exist(world):
    now = datetime.combine(world["anchor"], datetime.min.time()).strftime("%Y-%m-%dT%H:%M:%SZ")
    tickets = world["tickets"]
    resolved_late = [t for t in tickets if t["resolved_at"] and t["resolved_at"] > t["sla_due_at"]]
    open_late = [t for t in tickets if not t["resolved_at"] and t["sla_due_at"] < now]
    assert len(resolved_late) >= 100 and len(open_late) >= 20
    assert all((t["resolved_at"] is None) == (t["status"] in ("OPEN", "IN_PROGRESS")) for t in tickets)


def test_stock_shortages_with_and_without_receipts_and_exact_fits(world):
    anchor = world["anchor"].isoformat()
    kinds = Counter()
    for row in world["stock"]:
        available = d(row["on_hand"]) - d(row["allocated"])
        incoming = sum(d(r["quantity"]) for r in row["receipts"])
        if available < 0 and any(r["expected_date"] > anchor for r in row["receipts"]):
            kinds["short, receipts coming"] += 1
        if available < 0 and not row["receipts"]:
            kinds["short, nothing coming"] += 1
        if available < 0 and available + incoming == 0:
            kinds["short, receipts exactly cover"] += 1
        if available == 0 and d(row["allocated"]) > 0:
            kinds["exactly enough"] += 1
    assert len(kinds) == 4 and min(kinds.values()) >= 5, kinds
    kinds_of_receipt = {(world["products"][row["sku"]]["kind"], r["kind"]) for row in world["stock"] for r in row["receipts"]
                        if d(r["quantity"]) > 0}
    assert kinds_of_receipt == {("PURCHASED", "PURCHASE"), ("MANUFACTURED", "PRODUCTION")}
    # Planned production consumes components after today: negative PRODUCTION movements.
    consumption = [r for row in world["stock"] for r in row["receipts"] if d(r["quantity"]) < 0]
    assert len(consumption) >= 50
    assert all(r["kind"] == "PRODUCTION" and r["expected_date"] > anchor for r in consumption)


def test_cross_system_links_stay_within_one_customer(world):
    customer_of = {}
    for customer in world["customers"]:
        for system in ("erp", "clm", "desk"):
            if customer["refs"][system]:
                customer_of[system, customer["refs"][system]] = customer["id"]
    contracts = {c["number"]: c for c in world["contracts"]}
    orders = {o["id"]: o for o in world["orders"]}
    on_contract = [o for o in world["orders"] if o["contract_number"]]
    for order in on_contract:
        contract = contracts[order["contract_number"]]
        assert contract["kind"] == "SALES" and contract["status"] in ("ACTIVE", "COMPLETED")
        assert customer_of["clm", contract["counterparty_id"]] == customer_of["erp", order["party_code"]]
    framed = {customer_of["clm", c["counterparty_id"]] for c in world["contracts"]
              if c["kind"] == "SALES" and c["status"] in ("ACTIVE", "COMPLETED")}
    eligible = [o for o in world["orders"] if customer_of["erp", o["party_code"]] in framed]
    assert 0.45 <= len(on_contract) / len(eligible) <= 0.7
    with_links = [t for t in world["tickets"] if t["contract_number"] or t["order_id"]]
    assert len(with_links) > 1000
    for ticket in with_links:
        owner = customer_of["desk", ticket["org_id"]]
        if ticket["contract_number"]:
            assert customer_of["clm", contracts[ticket["contract_number"]]["counterparty_id"]] == owner
        if ticket["order_id"]:
            assert customer_of["erp", orders[ticket["order_id"]]["party_code"]] == owner


# --- control endpoints ------------------------------------------------------------------

def test_stats_count_api_calls_by_route_and_reset(api):
    erp = api["erp"]
    empty = {"calls": 0, "by_route": {}, "in_flight": 0, "max_concurrent": 0}
    assert erp.post("/_stats/reset").json() == empty
    erp.get("/orders", params={"party": "P00001"})
    erp.get("/orders", params={"ids": "O000001"})
    erp.get("/products", params={"skus": "SKU-0001"})
    erp.get("/orders")  # a failed call counts too
    erp.get("/openapi.json")
    erp.get("/_faults")
    assert erp.get("/_stats").json() == {"calls": 4, "by_route": {"/orders": 3, "/products": 1}, "in_flight": 0,
                                         "max_concurrent": 1}
    assert erp.post("/_stats/reset").json() == empty


def test_stats_report_the_most_calls_served_at_once(faulty):
    from concurrent.futures import ThreadPoolExecutor

    faulty.put("/_faults", json={"latency_ms": 200})
    faulty.post("/_stats/reset")
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: faulty.get("/contracts", params={"ids": "K000001"}), range(3)))
    stats = faulty.get("/_stats").json()
    assert stats["calls"] == 3 and stats["max_concurrent"] == 3 and stats["in_flight"] == 0


@pytest.fixture
def faulty(api):
    """The CLM client; its faults are cleared again whatever the test does."""
    clm = api["clm"]
    yield clm
    clm.put("/_faults", json={"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "status": 503, "down": False,
                              "malformed_rate": 0.0})


def test_faults_partial_update(faulty):
    assert faulty.put("/_faults", json={"latency_ms": 5}).json()["latency_ms"] == 5
    settings = faulty.put("/_faults", json={"jitter_ms": 2}).json()
    assert settings["latency_ms"] == 5 and settings["jitter_ms"] == 2 and settings["down"] is False
    assert faulty.put("/_faults", json={"no_such_fault": 1}).status_code == 422


def test_latency_fault(faulty):
    faulty.put("/_faults", json={"latency_ms": 200})
    started = time.perf_counter()
    assert faulty.get("/counterparties", params={"ids": "CP00001"}).status_code == 200
    assert time.perf_counter() - started >= 0.19
    started = time.perf_counter()
    faulty.get("/_stats")
    assert time.perf_counter() - started < 0.15  # control endpoints are never delayed


def test_down_fault(faulty):
    faulty.put("/_faults", json={"down": True, "latency_ms": 500})
    started = time.perf_counter()
    assert faulty.get("/contracts", params={"ids": "K00001"}).status_code == 503
    assert time.perf_counter() - started < 0.4  # at once, without the latency
    assert faulty.get("/_stats").status_code == 200


def test_error_fault(faulty):
    faulty.put("/_faults", json={"error_rate": 1.0, "status": 500})
    assert [faulty.get("/contracts", params={"ids": "K00001"}).status_code for _ in range(5)] == [500] * 5
    faulty.put("/_faults", json={"error_rate": 0.5})
    codes = Counter(faulty.get("/contracts", params={"ids": "K00001"}).status_code for _ in range(200))
    assert 60 <= codes[500] <= 140 and codes[500] + codes[200] == 200


def test_malformed_fault(faulty):
    faulty.put("/_faults", json={"malformed_rate": 1.0})
    response = faulty.get("/contracts", params={"ids": "K00001"})
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


# --- determinism ----------------------------------------------------------------------------

@pytest.mark.no_cover  # it runs demo/ only, which coverage does not measure: its tracing would double the time
def test_generation_is_deterministic(tmp_path):
    """Generated again here, the data equals what the demo systems serve (generated by whichever process
    first needed it, usually another one, with another hash seed): same seed and anchor, same rows."""
    first, second = ensure_data(), tmp_path
    anchor = date.fromisoformat(read_meta(first / "erp.sqlite")["anchor"])
    generate(second, anchor)
    for system in SYSTEMS:
        a = sqlite3.connect(first / f"{system}.sqlite")
        b = sqlite3.connect(second / f"{system}.sqlite")
        tables = [t for (t,) in a.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
        for table in tables:
            count = a.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert count == b.execute(f"SELECT count(*) FROM {table}").fetchone()[0], table
            sample = f"SELECT * FROM {table} WHERE rowid % 97 = 1 OR rowid = {count} ORDER BY rowid"
            assert a.execute(sample).fetchall() == b.execute(sample).fetchall(), table
        a.close()
        b.close()
    erp = sqlite3.connect(second / "erp.sqlite")
    assert erp.execute("SELECT value FROM meta WHERE key = 'anchor'").fetchone()[0] == anchor.isoformat()
    assert erp.execute("SELECT max(ordered_at) FROM orders").fetchone()[0] < anchor.isoformat()
    erp.close()

