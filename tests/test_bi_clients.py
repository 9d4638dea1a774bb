"""BI clients that cannot send headers or read minimal CSV: credentials in the `/bi/` URL (and nowhere
else), redacted in the access line; fully quoted CSV; HEAD; `{"error": ...}` bodies; and pandas and
shillelagh (SQL over HTTP, what Superset uses) reading every shipped export, CSV and JSON alike."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import logging
import math
import tempfile
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from conftest import BI_AUTH, BI_KEY, in_process_with, token
from test_persisted import BI

from server.bi_encode import csv_cell
from server.bi_plan import NUMBER
from server.logs import JsonFormatter

PARAMS = {"tier": "STRATEGIC"}  # every export has rows there (test_bi.py)


@pytest.fixture(scope="module")
def gw(bi_gateway):
    with httpx.Client(base_url=bi_gateway.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def local_gateway():
    with in_process_with(auth=BI_AUTH) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def local(local_gateway):
    with httpx.Client(transport=local_gateway.transport, base_url=local_gateway.url, timeout=120) as client:
        yield client


# --- credentials in the URL -------------------------------------------------------------------


def test_bi_takes_an_access_token_or_an_api_key_in_the_url_and_nothing_else_does(local):
    by_key = local.get("/bi/WhoAmI.json", params={"api_key": BI_KEY})
    assert by_key.status_code == 200 and by_key.json()[0]["id"] == "svc-bi"
    by_token = local.get("/bi/WhoAmI.json", params={"access_token": token("finance", user="F1")})
    assert by_token.status_code == 200 and by_token.json()[0]["id"] == "F1"
    assert local.get("/bi/WhoAmI.json", params={"api_key": "wrong"}).status_code == 401
    both = local.get("/bi/WhoAmI.json", params={"api_key": BI_KEY}, headers=BI)
    assert both.status_code == 401 and "one credential" in both.json()["error"]["message"]
    # Outside /bi/ a credential in the URL is no credential.
    query = local.get("/graphql", params={"query": "{ me { id } }", "api_key": BI_KEY})
    assert query.status_code == 401
    assert local.get("/persisted/manifest", params={"access_token": token("admin")}).status_code == 401


def test_the_access_line_never_holds_the_credential_of_the_url(local, caplog):
    secret = token("finance", user="F2")
    with caplog.at_level(logging.INFO, logger="isthmus.access"):
        assert local.get("/bi/WhoAmI.csv", params={"access_token": secret, "bom": "1"}).status_code == 200
        assert local.get("/bi/WhoAmI.csv", params={"api_key": BI_KEY}).status_code == 200
        assert local.get("/bi/WhoAmI.csv", params={"api_key": BI_KEY + "x"}).status_code == 401
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "isthmus.access"]
    assert len(lines) == 3
    assert all(secret not in line and BI_KEY not in line for line in lines)
    assert [json.loads(line)["query"] for line in lines] == [
        "access_token=[redacted]&bom=1", "api_key=[redacted]", "api_key=[redacted]"]


# --- quoting, HEAD, error bodies -----------------------------------------------------------------


def test_quoting_all_quotes_every_text_and_leaves_numbers_bare(local):
    response = local.get("/bi/CustomersOverCreditLimit.csv", params={**PARAMS, "quoting": "all"}, headers=BI)
    assert response.status_code == 200
    text = response.text
    assert text.startswith('"id","name","tier",')
    rows = list(csv.reader(io.StringIO(text), quoting=csv.QUOTE_NONNUMERIC))
    header, body = rows[0], rows[1:]
    assert body
    limit = header.index("receivables.creditLimit")
    assert all(isinstance(row[limit], float) for row in body)  # a number, written bare
    assert all(isinstance(row[0], str) for row in body)  # ids stay text, whatever they look like
    minimal = local.get("/bi/CustomersOverCreditLimit.csv", params=PARAMS, headers=BI)
    assert list(csv.reader(io.StringIO(minimal.text)))[1:] == [[str(c) if not isinstance(c, float) else c for c in r]
                                                               for r in list(csv.reader(io.StringIO(text)))[1:]]
    bad = local.get("/bi/CustomersOverCreditLimit.csv", params={"quoting": "some"}, headers=BI)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BAD_USER_INPUT"


def test_head_answers_as_get_without_a_body(local):
    for fmt in ("csv", "json"):
        get = local.get(f"/bi/CustomersOverCreditLimit.{fmt}", params=PARAMS, headers=BI)
        head = local.head(f"/bi/CustomersOverCreditLimit.{fmt}", params=PARAMS, headers=BI)
        assert head.status_code == get.status_code == 200 and head.content == b""
        same = ("content-type", "content-disposition", "cache-control", "vary")
        assert {h: head.headers.get(h) for h in same} == {h: get.headers.get(h) for h in same}
        assert "x-isthmus-as-of" in head.headers
    assert local.head("/bi/CustomersOverCreditLimit.csv").status_code == 401
    assert local.head("/bi/NoSuch.csv", headers=BI).status_code == 404


def test_bi_errors_carry_error_beside_the_graphql_errors(local):
    for response, code in [
        (local.get("/bi/NoSuch.csv", headers=BI), "PERSISTED_DOCUMENT_NOT_FOUND"),
        (local.get("/bi/WhoAmI.csv"), "UNAUTHENTICATED"),
        (local.get("/bi/CustomersOverCreditLimit.csv", params={"tier": "HUGE"}, headers=BI), "BAD_USER_INPUT"),
    ]:
        body = response.json()
        assert body["error"]["code"] == code and body["error"]["message"] == body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"] == code
    # GraphQL's own errors keep their shape.
    assert "error" not in local.get("/graphql", params={"query": "{ me { id } }"}).json()


def test_a_backend_down_is_an_error_body_a_sql_client_can_show(gw, systems):
    with systems.faults("erp", down=True):
        response = gw.get("/bi/ReceivablesAgingByCustomer.json", params=PARAMS, headers=BI)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SOURCE_UNAVAILABLE" and response.json()["error"]["message"]


# --- pandas and shillelagh read every shipped export ---------------------------------------------

# Every export a BI tool can open: the reports of persisted/ and the front-ends' documents, each with
# parameters that keep it quick (CustomerPage needs a customer). QuoteScreen is not among them: quotes
# are for sellers, a bi_reader's export of it has no rows and every column denied.
EXPORTS = {
    "ReceivablesAgingByCustomer": PARAMS,
    "OpenOrdersByProduct": PARAMS,
    "ContractFulfilmentStatus": PARAMS,
    "TicketsBreachingSla": PARAMS,
    "CustomersOverCreditLimit": PARAMS,
    "CustomerSearch": PARAMS,
    "CustomerPage": {"id": "C00276"},
    "WhoAmI": {},
    "SupplierPerformance": {},
    "OrdersAtRisk": PARAMS,
    "SlowMovingStock": {"days": "365"},
    "PurchaseReconciliationExceptions": {},
    "OrderToApprove": {"id": "O012354"},
    "MyPermissions": {},
    # worklists and dashboard tiles (README "Worklists")
    "OverdueInvoices": {},
    "LateOrders": {},
    "ContractsExpiring": {},
    "OpportunitiesClosing": {},
    "SlaBreachWorklist": {},
    "TeamCustomersOverCreditLimit": {},
    "TileOverdueByAging": {},
    "TileReceivablesKpis": {},
    "TileOnTimeDelivery": {},
    "TileSlaBreachRate": {},
}
SELLERS_ONLY = {"QuoteScreen": {"input": '{"customerId": "C00276", "lines": [{"sku": "P-1000", "quantity": "1", "unitPrice": "10"}]}'}}
# The documented ways to authenticate, all as the one principal (a bi_reader token for svc-bi), so
# that every client's rows, WhoAmI's included, are the same whichever way it took.
TOKEN = token("bi_reader", user="svc-bi")
KEY_HEADER, BEARER_HEADER = {"X-API-Key": BI_KEY}, {"Authorization": f"Bearer {TOKEN}"}
KEY_IN_URL, TOKEN_IN_URL = {"api_key": BI_KEY}, {"access_token": TOKEN}


def test_every_export_is_among_those_the_clients_read(local_gateway, local):
    exports = local_gateway.running.gateway.app.state.exports
    assert set(exports.plans) == set(EXPORTS) | set(SELLERS_ONLY)
    for name, params in SELLERS_ONLY.items():
        denied = local.get(f"/bi/{name}.json", params=params, headers=BI)
        assert denied.status_code == 200 and denied.json() == []
        assert denied.headers["x-isthmus-denied-columns"] == ",".join(c.name for c in exports.plans[name].columns)


@pytest.fixture(scope="module")
def sent(gw):
    """The rows each export sends as JSON, exactly (what every client's rows are compared with)."""
    rows = {}
    for name, params in EXPORTS.items():
        response = gw.get(f"/bi/{name}.json", params=params, headers=BI)
        assert response.status_code == 200
        rows[name] = response.json()
        assert rows[name], f"{name} has no rows with {params}: the comparison would prove nothing"
    return rows


def url(gateway, name: str, fmt: str, **params: str) -> str:
    return f"{gateway.url}/bi/{name}.{fmt}?{urlencode({**EXPORTS[name], **params})}"


def same(read: Any, sent: Any) -> bool:
    """A cell a client read is the cell the export sent: null as null or an empty cell, a number by its
    value (a Decimal string read as a number too), a boolean as itself or as CSV's `true`/`false`."""
    if sent is None:
        return read is None or read == "" or (isinstance(read, float) and math.isnan(read))
    if isinstance(sent, bool):
        return read in (sent, "true" if sent else "false")
    if isinstance(sent, int | float) or (isinstance(read, int | float) and NUMBER.match(sent)):
        return not isinstance(read, bool) and Decimal(str(read)) == Decimal(str(sent))
    return read in (sent, csv_cell(sent))


def assert_same_rows(columns: list[str], rows: list[Any], sent: list[dict[str, Any]], how: str) -> None:
    assert columns == list(sent[0]), how
    assert len(rows) == len(sent), how
    for number, (read, row) in enumerate(zip(rows, sent, strict=True)):
        cells = dict(zip(columns, read, strict=True))
        wrong = {c: (cells[c], row[c]) for c in columns if not same(cells[c], row[c])}
        assert not wrong, f"{how}: row {number} differs (read, sent): {wrong}"


def frame_rows(frame: Any) -> tuple[list[str], list[Any]]:
    return list(frame.columns), [list(row) for row in frame.itertuples(index=False)]


@pytest.mark.parametrize("name", EXPORTS)
def test_pandas_reads_the_same_rows_from_csv_and_json_whichever_way_it_authenticates(bi_gateway, sent, name):
    """As the README says to read them: CSV with `keep_default_na=False` (the region `NA`), JSON with
    `precise_float=True` (its fast parser reads 0.4396 as 0.43960000000000005) and `dtype=False`."""
    pd = pytest.importorskip("pandas")
    as_csv = {"keep_default_na": False, "na_values": [""]}
    as_json = {"precise_float": True, "dtype": False}
    for how, frame in [
        ("CSV, X-API-Key", pd.read_csv(url(bi_gateway, name, "csv"), storage_options=KEY_HEADER, **as_csv)),
        ("CSV, access_token", pd.read_csv(url(bi_gateway, name, "csv", **TOKEN_IN_URL), **as_csv)),
        ("JSON, Bearer", pd.read_json(url(bi_gateway, name, "json"), storage_options=BEARER_HEADER, **as_json)),
        ("JSON, api_key", pd.read_json(url(bi_gateway, name, "json", **KEY_IN_URL), **as_json)),
    ]:
        assert_same_rows(*frame_rows(frame), sent[name], f"{name}, {how}")


def test_pandas_reads_the_region_na_as_a_missing_value_unless_told_not_to(bi_gateway, sent):
    """The pitfall the README warns of: by default pandas takes `NA` (North America) for a missing value,
    in quoted CSV too; `keep_default_na=False` keeps it; JSON has no such problem."""
    pd = pytest.importorskip("pandas")
    name = "ReceivablesAgingByCustomer"
    regions = [row["region"] for row in sent[name]]
    assert "NA" in regions
    for quoting in ("minimal", "all"):
        default = pd.read_csv(url(bi_gateway, name, "csv", quoting=quoting), storage_options=KEY_HEADER)
        assert default["region"].isna().sum() == regions.count("NA")
        told = pd.read_csv(url(bi_gateway, name, "csv", quoting=quoting), storage_options=KEY_HEADER,
                           keep_default_na=False, na_values=[""])
        assert list(told["region"]) == regions
    assert list(pd.read_json(url(bi_gateway, name, "json"), storage_options=KEY_HEADER)["region"]) == regions


@pytest.fixture
def sql(tmp_path, monkeypatch):
    """A shillelagh connection (SQL over web APIs, what Superset uses) with its CSV and, where its extra
    is installed, JSON adapter; downloads and its HTTP cache in tmp_path, the cache off (each query reads)."""
    db = pytest.importorskip("shillelagh.backends.apsw.db")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # csvfile's download
    monkeypatch.setattr("shillelagh.lib.create_namespaced_cache_key", lambda name: str(tmp_path / name))
    adapters = ["csvfile"] + (["genericjsonapi"] if importlib.util.find_spec("jsonpath") else [])
    connection = db.connect(":memory:", adapters=adapters, adapter_kwargs={"genericjsonapi": {"cache_expiration": -1}})
    try:
        yield connection.cursor(), adapters
    finally:
        connection.close()


def select_all(cursor: Any, table: str) -> tuple[list[str], list[Any]]:
    cursor.execute(f'SELECT * FROM "{table}"')
    return [d[0] for d in cursor.description], cursor.fetchall()


@pytest.mark.parametrize("name", EXPORTS)
def test_shillelagh_reads_the_same_rows_from_csv_and_json_with_the_credential_in_the_url(bi_gateway, sent, sql, name):
    """Its CSV adapter sends no headers and reads only fully quoted CSV: `quoting=all` and the credential
    in the URL. Its JSON adapter asks with HEAD first, then GET; it may send headers (`_s_headers`)."""
    cursor, adapters = sql
    by_csv_key = select_all(cursor, url(bi_gateway, name, "csv", quoting="all", **KEY_IN_URL))
    assert_same_rows(*by_csv_key, sent[name], f"{name}, shillelagh CSV, api_key")
    by_csv_token = select_all(cursor, url(bi_gateway, name, "csv", quoting="all", **TOKEN_IN_URL))
    assert_same_rows(*by_csv_token, sent[name], f"{name}, shillelagh CSV, access_token")
    if "genericjsonapi" not in adapters:
        pytest.skip("shillelagh's JSON adapter needs its extra: pip install -c constraints.txt -e '.[test]'")
    by_json_token = select_all(cursor, url(bi_gateway, name, "json", **TOKEN_IN_URL))
    assert_same_rows(*by_json_token, sent[name], f"{name}, shillelagh JSON, access_token")
    headers = importlib.import_module("prison").dumps(KEY_HEADER)
    by_json_header = select_all(cursor, url(bi_gateway, name, "json", _s_headers=headers))
    assert_same_rows(*by_json_header, sent[name], f"{name}, shillelagh JSON, X-API-Key")
