"""BI clients that cannot send headers or read minimal CSV: credentials in the `/bi/` URL (and nowhere
else), redacted in the access line; fully quoted CSV; HEAD; `{"error": ...}` bodies; and pandas and
shillelagh (SQL over HTTP, what Superset uses) reading every shipped export, CSV and JSON alike."""

from __future__ import annotations

import csv
import io
import json
import logging

import httpx
import pytest

from conftest import BI_AUTH, BI_KEY, in_process_with, token
from server.logs import JsonFormatter
from test_persisted import BI

PARAMS = {"tier": "STRATEGIC"}  # every export has rows there (test_bi.py)


@pytest.fixture(scope="module")
def gw(bi_gateway):
    with httpx.Client(base_url=bi_gateway.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def local():
    with in_process_with(auth=BI_AUTH) as gateway, \
            httpx.Client(transport=gateway.transport, base_url=gateway.url, timeout=120) as client:
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
