"""The worklists' and dashboard tiles' trusted documents export through `/bi/` like the others: as the
caller, every page (keyset cursors streamed), the rows the GraphQL answer holds.

In process: a gateway with the bi_reader service account over the demo apps.
"""

from __future__ import annotations

import httpx
import pytest

from conftest import BI_AUTH, LIVE, bearer, in_process_with
from test_persisted import BI, trusted

WORKLISTS = {  # operation -> the connection its rows are the nodes of
    "OverdueInvoices": "invoices",
    "SlaBreachWorklist": "tickets",
    "ContractsExpiring": "contracts",
    "OpportunitiesClosing": "opportunities",
    "LateOrders": "orders",
    "TeamCustomersOverCreditLimit": "customers",
}
TILES = {
    "TileOverdueByAging": ["current", "d1to30", "d31to60", "d61to90", "over90"],
    "TileReceivablesKpis": ["dso", "count", "openAmount", "overdueAmount"],
    "TileOnTimeDelivery": ["onTimeDeliveryRate", "deliveredCount", "onTimeCount", "count"],
    "TileSlaBreachRate": ["slaBreachRate", "slaBreachedCount", "count"],
}


@pytest.fixture(scope="module")
def gw():
    with in_process_with(auth=BI_AUTH, **LIVE) as gateway, httpx.Client(
        transport=gateway.transport, base_url="http://isthmus", timeout=120
    ) as client:
        yield client


def total_of(client: httpx.Client, name: str, root: str, headers: dict) -> int:
    answer = client.post("/graphql", json={"query": trusted(name), "variables": {"first": 1}}, headers=headers).json()
    # a role that may not read a column (bi_reader: Opportunity.amount) gets it null, the rows stand
    assert all(error["extensions"]["code"] == "FORBIDDEN" for error in answer.get("errors", [])), answer
    return answer["data"][root]["totalCount"]


@pytest.mark.parametrize("name", list(WORKLISTS))
def test_a_worklist_exports_every_row_it_counts(gw, name):
    headers = BI if name != "TeamCustomersOverCreditLimit" else bearer("sales_manager", team="EMEA North")
    response = gw.get(f"/bi/{name}.json", headers=headers)
    assert response.status_code == 200, response.text[:500]
    rows = response.json()
    assert rows and len(rows) == total_of(gw, name, WORKLISTS[name], headers)


def test_the_overdue_invoices_export_is_ordered_and_filtered_as_asked(gw):
    rows = gw.get("/bi/OverdueInvoices.json", params={"region": "EMEA", "minOpenAmount": "20000"}, headers=BI).json()
    assert rows and all(row["customer.region"] == "EMEA" and float(row["openAmount"]) >= 20000 for row in rows)
    assert [float(row["openAmount"]) for row in rows] == sorted((float(row["openAmount"]) for row in rows), reverse=True)
    assert all(row["daysOverdue"] >= 31 for row in rows)


@pytest.mark.parametrize(("name", "keys"), list(TILES.items()))
def test_a_tile_exports_one_row_per_figure(gw, name, keys):
    response = gw.get(f"/bi/{name}.json", headers=BI)
    assert response.status_code == 200, response.text[:500]
    rows = response.json()
    column = "key" if name == "TileOverdueByAging" else "name"
    assert [row[column] for row in rows] == keys
