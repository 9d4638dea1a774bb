"""BI exports: /bi/<operationName>.csv and .json as flat rows, authorised like GraphQL, streamed."""

from __future__ import annotations

import csv
import io
import threading
import time
from decimal import Decimal

import httpx
import pytest

from conftest import bearer, in_process_with
from test_persisted import BI, BI_AUTH, sha256, trusted

OPEN = ("CONFIRMED", "PROCESSING")


@pytest.fixture(scope="module")
def gw(bi_gateway):
    """The shared gateway with live data and a bi_reader service account (conftest's `bi_gateway`)."""
    with httpx.Client(base_url=bi_gateway.url, timeout=120) as client:
        yield client


def graphql_nodes(client: httpx.Client, name: str, headers: dict, **variables) -> tuple[list[dict], list[dict]]:
    """Every customer node of a trusted operation, paging by hand over GraphQL; and the errors."""
    document_id = f"sha256:{sha256(trusted(name))}"
    nodes, errors, after = [], [], None
    while True:
        body = client.post("/graphql", json={"documentId": document_id, "variables": {**variables, "after": after}},
                           headers=headers).json()
        errors += body.get("errors", [])
        connection = body["data"]["customers"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes, errors
        after = connection["pageInfo"]["endCursor"]


def flat(value: dict, prefix: str = "") -> dict:
    """Nested objects as dotted keys (no lists here: the callers explode those themselves)."""
    out = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update(flat(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


def aging_rows(nodes: list[dict]) -> list[dict]:
    columns = ["id", "name", "tier", "region", "owner.id", "owner.name", "owner.team", "receivables.currency",
               "receivables.openBalance", "receivables.overdueBalance", "receivables.creditLimit",
               *(f"receivables.aging.{b}" for b in ("current", "d1to30", "d31to60", "d61to90", "over90"))]
    rows = []
    for node in nodes:
        cells = flat(node)
        rows.append({column: cells.get(column) for column in columns})
    return rows


def open_order_rows(nodes: list[dict]) -> list[dict]:
    """One row per line of every CONFIRMED or PROCESSING order, as the README describes."""
    rows = []
    for node in nodes:
        for order in node["orders"] or []:
            if order["status"] not in OPEN:
                continue
            head = {"id": node["id"], "name": node["name"], **{f"orders.{k}": v for k, v in order.items() if k != "lines"}}
            for line in order["lines"] or [{}]:
                cells = flat(line, "orders.lines.")
                rows.append({**head, **{k: cells.get(k) for k in (
                    "orders.lines.sku", "orders.lines.product.name", "orders.lines.product.uom", "orders.lines.quantity",
                    "orders.lines.shippedQuantity", "orders.lines.unitPrice", "orders.lines.amount")}})
    return rows


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_rows(response: httpx.Response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def as_csv(rows: list[dict]) -> list[dict]:
    return [{key: cell(value) for key, value in row.items()} for row in rows]


# --- the rows ----------------------------------------------------------------------------------


def test_csv_and_json_exports_equal_the_graphql_rows(gw):
    nodes, errors = graphql_nodes(gw, "ReceivablesAgingByCustomer", BI, tier="KEY")
    assert not errors and len(nodes) > 100  # several pages
    expected = aging_rows(nodes)

    exported = gw.get("/bi/ReceivablesAgingByCustomer.json", params={"tier": "KEY"}, headers=BI)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/json"
    assert exported.json() == expected
    assert list(exported.json()[0]) == list(expected[0])  # columns in document order

    as_text = gw.get("/bi/ReceivablesAgingByCustomer.csv", params={"tier": "KEY"}, headers=BI)
    assert as_text.headers["content-type"] == "text/csv; charset=utf-8"
    assert not as_text.content.startswith(b"\xef\xbb\xbf")
    assert csv_rows(as_text) == as_csv(expected)
    assert "X-Isthmus-Denied-Columns" not in as_text.headers


def test_nested_lists_are_exploded_into_rows_and_filtered(gw, systems):
    owner = systems.get("crm", "/customers/search", limit=1)[0]["owner_id"]
    nodes, errors = graphql_nodes(gw, "OpenOrdersByProduct", BI, ownerId=owner)
    assert not errors
    expected = open_order_rows(nodes)
    assert expected and {row["orders.status"] for row in expected} <= set(OPEN)
    exported = gw.get("/bi/OpenOrdersByProduct.json", params={"ownerId": owner}, headers=BI).json()
    assert exported == expected
    as_text = gw.get("/bi/OpenOrdersByProduct.csv", params={"ownerId": owner}, headers=BI)
    assert csv_rows(as_text) == as_csv(expected)


def test_bom_for_excel(gw):
    with_bom = gw.get("/bi/ReceivablesAgingByCustomer.csv", params={"tier": "KEY", "bom": "1"}, headers=BI)
    assert with_bom.content.startswith(b"\xef\xbb\xbfid,name,tier")
    assert with_bom.content.count(b"\xef\xbb\xbf") == 1
    assert with_bom.content.endswith(b"\r\n")


def test_every_shipped_operation_exports_for_a_bi_reader(gw):
    """Each over the 80 strategic customers: every operation has rows there (the whole customer base is
    24 pages; test_a_large_export_streams_in_flat_memory exports it)."""
    checks = {
        "ReceivablesAgingByCustomer": lambda r: r["id"],
        "OpenOrdersByProduct": lambda r: r["orders.status"] in OPEN and r["orders.lines.sku"],
        "ContractFulfilmentStatus": lambda r: r["contracts.number"] and r["contracts.fulfilment.orderedAmount"] is not None,
        "TicketsBreachingSla": lambda r: r["tickets.slaBreached"] is True and r["tickets.status"] in ("OPEN", "IN_PROGRESS"),
        "CustomersOverCreditLimit": lambda r: Decimal(r["receivables.creditAvailable"]) < 0,
    }
    params = {"tier": "STRATEGIC"}
    for name, holds in checks.items():
        response = gw.get(f"/bi/{name}.json", params=params, headers=BI)
        assert response.status_code == 200, (name, response.text[:500])
        rows = response.json()
        assert rows and all(holds(row) for row in rows), name
        assert "X-Isthmus-Denied-Columns" not in response.headers, name  # bi_reader may read all they select


# --- who sees what --------------------------------------------------------------------------


# The service desk may not read contract amounts nor invoices, so neither the fulfilment
# figures computed from them (the derivation rule).
AGENT_DENIED = [
    "contracts.amount", "contracts.fulfilment.invoicedAmount", "contracts.fulfilment.paidAmount",
    "contracts.fulfilment.progress",
]


def test_a_denied_field_is_an_empty_cell_and_its_column_is_listed(gw):
    params = {"tier": "KEY"}
    full = gw.get("/bi/ContractFulfilmentStatus.csv", params=params, headers=bearer("finance"))
    agent = gw.get("/bi/ContractFulfilmentStatus.csv", params=params, headers=bearer("service_agent"))
    assert full.status_code == agent.status_code == 200
    assert "X-Isthmus-Denied-Columns" not in full.headers
    assert agent.headers["X-Isthmus-Denied-Columns"].split(",") == AGENT_DENIED
    full_rows, agent_rows = csv_rows(full), csv_rows(agent)
    assert len(full_rows) == len(agent_rows) > 50
    assert any(row["contracts.amount"] and row["contracts.fulfilment.progress"] for row in full_rows)
    assert all(row[column] == "" for row in agent_rows for column in AGENT_DENIED)
    assert [{**row, **{column: "" for column in AGENT_DENIED}} for row in full_rows] == agent_rows
    # The same as GraphQL says to the same caller: null and FORBIDDEN.
    nodes, errors = graphql_nodes(gw, "ContractFulfilmentStatus", bearer("service_agent"), **params)
    assert all(c["amount"] is None for n in nodes for c in n["contracts"] or [])
    assert all(c["fulfilment"]["progress"] is None for n in nodes for c in n["contracts"] or [] if c["fulfilment"])
    assert errors and {e["extensions"]["code"] for e in errors} == {"FORBIDDEN"}
    json_rows = gw.get("/bi/ContractFulfilmentStatus.json", params=params, headers=bearer("service_agent"))
    assert json_rows.headers["X-Isthmus-Denied-Columns"].split(",") == AGENT_DENIED
    assert all(row["contracts.amount"] is None for row in json_rows.json())


def test_a_whole_denied_object_empties_all_its_columns(gw):
    response = gw.get("/bi/ReceivablesAgingByCustomer.csv", params={"tier": "KEY"}, headers=bearer("service_agent"))
    denied = response.headers["X-Isthmus-Denied-Columns"].split(",")
    assert denied == [c for c in csv_rows(response)[0] if c.startswith("receivables.")]
    assert all(row[c] == "" for row in csv_rows(response) for c in denied)


def test_a_filter_on_a_denied_column_reveals_no_rows(gw):
    """Filters see what the caller sees: a denied value is null, so it cannot select rows."""
    params = {"tier": "STRATEGIC"}
    finance = gw.get("/bi/CustomersOverCreditLimit.json", params=params, headers=bearer("finance"))
    agent = gw.get("/bi/CustomersOverCreditLimit.json", params=params, headers=bearer("service_agent"))
    assert finance.status_code == agent.status_code == 200
    assert finance.json() and agent.json() == []
    assert "receivables.creditAvailable" in agent.headers["X-Isthmus-Denied-Columns"].split(",")


def test_row_level_rules_apply_to_exports(gw, systems):
    customers = systems.get("crm", "/customers/search", limit=50)
    rep = customers[0]["owner_id"]
    rows = gw.get("/bi/ReceivablesAgingByCustomer.json", headers=bearer("sales_rep", user=rep)).json()
    assert rows and {row["owner.id"] for row in rows} == {rep}
    own = {c["id"] for c in systems.get("crm", "/customers/search", owner=rep, limit=500)}
    assert {row["id"] for row in rows} == own


# --- refusals ---------------------------------------------------------------------------------------


def test_exports_need_credentials_and_a_known_operation(gw):
    assert gw.get("/bi/ReceivablesAgingByCustomer.csv").status_code == 401
    unknown = gw.get("/bi/NoSuchReport.csv", headers=BI)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_DOCUMENT_NOT_FOUND"
    assert gw.get("/bi/ReceivablesAgingByCustomer.xlsx", headers=BI).status_code == 404
    who = gw.get("/bi/WhoAmI.json", headers=BI)  # a list of scalars (`me.roles`): `me` is the row, one per role
    assert who.json() == [{"id": "svc-bi", "name": None, "team": None, "customersSeen": "all", "roles": "bi_reader"}]


@pytest.mark.parametrize(
    "params, says",
    [
        ({"tier": "HUGE"}, "STRATEGIC"),  # an enum value: lists the allowed ones
        ({"nope": "1"}, "search, ownerId, tier"),  # not a parameter: lists the accepted ones
        ({"after": "abc"}, "set by the exporter"),
        ({"first": "5"}, "set by the exporter"),
        ({"tier": ["KEY", "SMALL"]}, "given 2 times"),
    ],
)
def test_a_bad_parameter_is_a_coded_400(gw, params, says):
    response = gw.get("/bi/ReceivablesAgingByCustomer.csv", params=params, headers=BI)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and says in error["message"]


def test_a_backend_down_on_the_first_page_is_an_http_error_not_an_empty_file(gw, systems):
    with systems.faults("erp", down=True):
        response = gw.get("/bi/ReceivablesAgingByCustomer.csv", params={"tier": "KEY"}, headers=BI)
    assert response.status_code == 503
    assert {e["extensions"]["code"] for e in response.json()["errors"]} == {"SOURCE_UNAVAILABLE"}


def test_a_backend_failing_mid_export_cuts_the_stream_off(gw, systems):
    received = b""
    with pytest.raises(httpx.HTTPError):
        with gw.stream("GET", "/bi/ReceivablesAgingByCustomer.csv", headers=BI) as response:
            assert response.status_code == 200
            try:
                for chunk in response.iter_bytes():
                    if not received:
                        systems.http.put(f"{systems.urls['erp']}/_faults", json={"down": True}).raise_for_status()
                    received += chunk
            finally:
                systems.http.put(f"{systems.urls['erp']}/_faults", json={"down": False}).raise_for_status()
    assert 0 < received.count(b"\n") < 2401


# --- streaming ----------------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def export_with_rss(client: httpx.Client, systems, pid: int, path: str, params: dict) -> dict:
    """Stream an export while sampling the gateway's RSS; what it cost in memory, and how many calls
    the CRM (one per page of customers) had had when the first rows came, and at the end."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_kib(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    before = rss_kib(pid)
    sampler.start()
    rows, first_rows_at, after_first_page, started = 0, None, None, time.perf_counter()
    systems.reset_stats()
    crm_calls_at_first_rows = None
    try:
        with client.stream("GET", path, params=params) as response:
            assert response.status_code == 200
            assert response.headers.get("transfer-encoding") == "chunked"
            for chunk in response.iter_bytes():
                rows += chunk.count(b"\n")
                if first_rows_at is None and rows > 1:
                    first_rows_at = time.perf_counter() - started
                    crm_calls_at_first_rows = systems.calls()["crm"]
                if after_first_page is None and rows > 150:
                    after_first_page = rss_kib(pid)
    finally:
        done.set()
        sampler.join()
    return {
        "rows": rows - 1,
        "before": before,
        "peak": max(samples + [before]),
        "after_first_page": after_first_page,
        "end": rss_kib(pid),
        "first_rows_at": first_rows_at,
        "seconds": time.perf_counter() - started,
        "crm_calls_at_first_rows": crm_calls_at_first_rows,
        "crm_calls": systems.calls()["crm"],
    }


def test_a_large_export_streams_in_flat_memory(systems, bi_gateway):
    """2,400 rows over 24 pages: memory after the first page stays flat to the end."""
    process = bi_gateway
    pid = process.process.pid
    with httpx.Client(base_url=process.url, timeout=300, headers=BI) as client:
        small_params = {"search": systems.get("crm", "/customers/search", limit=1)[0]["id"]}
        for _ in range(2):  # warm-up: code paths, pools
            export_with_rss(client, systems, pid, "/bi/ReceivablesAgingByCustomer.csv", small_params)
        small = export_with_rss(client, systems, pid, "/bi/ReceivablesAgingByCustomer.csv", small_params)
        large = export_with_rss(client, systems, pid, "/bi/ReceivablesAgingByCustomer.csv", {})
    print(f"\nRSS small export ({small['rows']} rows): {small['before']} -> peak {small['peak']} KiB "
          f"(+{small['peak'] - small['before']} KiB)")
    print(f"RSS large export ({large['rows']} rows): {large['before']} -> after first page {large['after_first_page']} "
          f"-> peak {large['peak']} -> end {large['end']} KiB (+{large['peak'] - large['before']} KiB; "
          f"+{large['peak'] - large['after_first_page']} KiB after the first page); first rows after "
          f"{large['first_rows_at']:.2f} s of {large['seconds']:.2f} s, when the CRM had had "
          f"{large['crm_calls_at_first_rows']} of its {large['crm_calls']} calls")
    assert small["rows"] == 1 and large["rows"] >= 2000
    # Rows arrive as pages come, not at the end: the first before the CRM was asked for the last page.
    assert large["crm_calls_at_first_rows"] < large["crm_calls"]
    # Constant memory: 23 more pages after the first add (next to) nothing ...
    assert large["peak"] - large["after_first_page"] < 16 * 1024
    # ... and the whole large export costs at most a page's working set more than a one-row export.
    assert (large["peak"] - large["before"]) - (small["peak"] - small["before"]) < 48 * 1024


# --- flattening, without HTTP -----------------------------------------------------------------


def plan_of(text: str):
    from schema import public
    from server.bi_plan import build_plan
    from server.persisted import TrustedDocument

    return build_plan(TrustedDocument(sha256(text), "T", text, "query", "t.graphql"), public)


def test_a_document_without_a_list_is_not_exportable():
    from server.bi_plan import NotExportable

    with pytest.raises(NotExportable):
        plan_of('query T { customer(id: "C1") { id name } }')


def test_side_by_side_lists_are_stacked_not_multiplied_and_empty_lists_keep_the_parent():
    from server.bi_plan import rows_of

    plan = plan_of("query T($after: String) { customers(first: 2, after: $after) { pageInfo { hasNextPage endCursor } "
                   "edges { node { id c: contacts { name } tickets { id } } } } }")
    assert [c.name for c in plan.columns] == ["id", "c.name", "tickets.id"]
    assert plan.paging is not None and plan.paging.page_size == 2 and plan.paging.first is None
    data = {"customers": {"edges": [
        {"node": {"id": "C1", "c": [{"name": "Ann"}, {"name": "Bo"}], "tickets": [{"id": "T1"}]}},
        {"node": {"id": "C2", "c": [], "tickets": None}},
    ]}}
    assert list(rows_of(plan, data)) == [
        {"id": "C1", "c.name": "Ann", "tickets.id": None},
        {"id": "C1", "c.name": "Bo", "tickets.id": None},
        {"id": "C1", "c.name": None, "tickets.id": "T1"},
        {"id": "C2", "c.name": None, "tickets.id": None},
    ]


def test_filters_compare_decimals_as_numbers_and_null_matches_only_null():
    from server.bi_plan import Filter

    assert Filter("x", "<", 0).matches("-0.01") and not Filter("x", "<", 0).matches("0.00")
    assert not Filter("x", "<", 0).matches(None)
    assert Filter("x", "==", None).matches(None) and not Filter("x", "!=", None).matches(None)
    assert Filter("x", "in", ["A", "B"]).matches("B") and Filter("x", "not in", ["A"]).matches(None)
    assert Filter("x", "==", 10).matches("10.00")


def test_csv_cells_never_carry_a_formula():
    from server.bi_encode import csv_cell

    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("+49 30 1234") == "'+49 30 1234"
    assert csv_cell("-12.50") == "-12.50" and csv_cell(None) == "" and csv_cell(False) == "false"


# --- as of when -----------------------------------------------------------------------------------


def as_of(response: httpx.Response) -> float:
    import datetime as dt

    stamp = response.headers["X-Isthmus-As-Of"]
    assert stamp.endswith("Z"), stamp
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_every_export_says_as_of_when_its_figures_are(gw, systems):
    """Live data: the as-of time is the moment the backends answered, within the request
    (each export of one customer: the time does not depend on the size)."""
    params = {"search": systems.get("crm", "/customers/search", tier="STRATEGIC", limit=1)[0]["id"]}
    for name in ("ReceivablesAgingByCustomer", "ContractFulfilmentStatus", "CustomersOverCreditLimit", "OpenOrdersByProduct"):
        for fmt in ("csv", "json"):
            started = time.time()
            response = gw.get(f"/bi/{name}.{fmt}", params=params, headers=BI)
            assert response.status_code == 200, (name, response.text[:300])
            assert started - 1 <= as_of(response) <= time.time(), (name, response.headers["X-Isthmus-As-Of"])


def test_cached_figures_are_dated_when_they_were_read_not_when_they_were_sent():
    """From the cache, the same figures keep the time they were read from the backends.
    A gateway with a cold cache of its own, in this process."""
    with in_process_with(auth=BI_AUTH) as gateway, \
            httpx.Client(transport=gateway.transport, base_url=gateway.url, timeout=120) as client:
        first = client.get("/bi/ReceivablesAgingByCustomer.csv", params={"tier": "STRATEGIC"}, headers=BI)
        assert first.status_code == 200
        time.sleep(2.0)
        asked = time.time()
        again = client.get("/bi/ReceivablesAgingByCustomer.csv", params={"tier": "STRATEGIC"}, headers=BI)
        assert again.status_code == 200 and again.content == first.content
        assert as_of(first) - 0.5 <= as_of(again) <= asked - 1.5  # read for the first export, not now


def test_a_filter_on_an_outer_list_prunes_before_exploding_and_keeps_the_rows_the_same():
    """`# bi.where` on an order's own cell is checked before the order's lines are exploded; the rows
    are those of filtering every exploded row, including a customer whose orders are all rejected
    (no empty row appears in their place) and one without orders (kept by `!=` on null)."""
    from server import bi_plan
    from server.bi_plan import rows_of

    text = ("# bi.where: orders.status != \"CANCELLED\"\nquery T { customers(first: 9) { edges { node { id "
            "orders(first: 9) { status lines { sku } } } } } }")
    plan = plan_of(text)
    data = {"customers": {"edges": [
        {"node": {"id": "C1", "orders": [{"status": "CANCELLED", "lines": [{"sku": "A"}, {"sku": "B"}]}]}},
        {"node": {"id": "C2", "orders": [{"status": "OPEN", "lines": [{"sku": "A"}]},
                                         {"status": "CANCELLED", "lines": [{"sku": "C"}]}]}},
        {"node": {"id": "C3", "orders": []}},
    ]}}
    expanded = []
    original = bi_plan._expand

    def counting(value, node):
        expanded.append(node)
        return original(value, node)

    bi_plan._expand = counting
    try:
        rows = list(rows_of(plan, data))
    finally:
        bi_plan._expand = original
    assert rows == [
        {"id": "C2", "orders.status": "OPEN", "orders.lines.sku": "A"},
        {"id": "C3", "orders.status": None, "orders.lines.sku": None},
    ]
    sku_leaves = [n for n in expanded if isinstance(n, bi_plan.Leaf) and n.column.name == "orders.lines.sku"]
    assert len(sku_leaves) == 1  # the cancelled orders' lines were never exploded


def test_an_export_page_is_charged_what_it_read_not_its_estimate():
    """Each page is charged its estimate before it runs and given back what it did not read: an
    export of open orders (estimated 240,200 a page: 100 orders of 10 lines for each of 25
    customers; about 18,000 read) goes on through a budget that holds 8 pages' estimates, unpaced."""
    with in_process_with(auth=BI_AUTH, cache={"enabled": False},
                         limits={"budget_per_window": 2_000_000, "budget_window": 600}) as gateway, \
            httpx.Client(transport=gateway.transport, base_url=gateway.url, timeout=120) as client:
        started = time.perf_counter()
        response = client.get("/bi/OpenOrdersByProduct.csv", params={"tier": "KEY"}, headers=BI)
        assert response.status_code == 200 and response.content.count(b"\n") > 100
        assert time.perf_counter() - started < 60  # unpaced: a page's estimate takes 72 s to refill
        assert client.get("/bi/OpenOrdersByProduct.csv", params={"tier": "KEY"}, headers=BI).status_code == 200


def test_what_a_page_read_is_counted_by_the_estimates_rule():
    from server.bi import read_cost

    assert read_cost({"a": 1, "b": [{"c": 1, "d": None}, {"c": 2, "d": None}], "e": None}) == 3 + 4


def test_the_supply_side_reports_export_for_a_bi_reader(gw, systems):
    """Supplier performance (ratings, no prices), orders at risk (one row per cause) and slow-moving stock
    (quantities; the value is a standard cost, a denied column for a bi_reader, there for procurement)."""
    suppliers = gw.get("/bi/SupplierPerformance.json", headers=BI)
    assert suppliers.status_code == 200 and "X-Isthmus-Denied-Columns" not in suppliers.headers
    rows = suppliers.json()
    assert [r["code"] for r in rows] == sorted(s["code"] for s in systems.get("srm", "/suppliers"))
    assert all(r["rating.onTimeRate"] is not None for r in rows if r["rating.receipts"])

    risky = gw.get("/bi/OrdersAtRisk.json", params={"tier": "STRATEGIC"}, headers=BI)
    assert risky.status_code == 200, risky.text[:500]
    rows = risky.json()
    assert rows and all(r["orders.deliveryRisk.atRisk"] is True for r in rows)
    assert {r["orders.deliveryRisk.causes.kind"] for r in rows} <= {"SUPPLIER_DELAY", "PRODUCTION_LATE", "SHORTAGE", None}
    assert all(r["orders.status"] in ("DRAFT", *OPEN) for r in rows)

    idle = gw.get("/bi/SlowMovingStock.json", params={"days": "365"}, headers=BI)
    assert idle.status_code == 200
    assert idle.headers["x-isthmus-denied-columns"] == "unitCost,value"
    rows = idle.json()
    assert rows and all(r["value"] is None and Decimal(r["onHand"]) > 0 and r["daysWithoutIssue"] != 0 for r in rows)
    buyer = gw.get("/bi/SlowMovingStock.json", params={"days": "365"}, headers=bearer("procurement", user="buyer")).json()
    assert [r["sku"] for r in buyer] == [r["sku"] for r in rows] and all(r["value"] is not None for r in buyer)
