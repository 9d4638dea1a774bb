"""The example front-ends (demo/web/, served by `isthmus demo` under /app/) in Chromium, against the API.

The customer-360 page shows what the API answers for the same customer and role; a rep
opening another rep's customer gets the refusal, not the customer; with the ERP down a
banner names it and the CRM, CLM and desk parts still render; the quote screen shows
margin and approvals to a sales manager and no cost to a rep.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import Gateway, Systems

PERSISTED = Path(__file__).resolve().parent.parent / "persisted"
NOT_VISIBLE = "not visible to your role"


def document(name: str) -> str:
    return (PERSISTED / name).read_text()


@pytest.fixture(scope="module")
def people(demo_gateway: Gateway) -> dict[str, dict]:
    """The demo's person per role, as the pages get them (GET /demo/tokens)."""
    return {person["role"]: person for person in demo_gateway.http.get("/demo/tokens").json()["people"]}


def api(gateway: Gateway, person: dict, file: str, variables: dict) -> dict:
    return gateway.query(document(file), variables, headers={"Authorization": f"Bearer {person['token']}"})


def money(value: str | None, currency: str | None = None) -> str:
    """As the pages format a Decimal string: thousands separators, two places, the currency after."""
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}" if currency else text


def customers_of(gateway: Gateway, person: dict, pages: int = 5) -> list[dict]:
    found, after = [], None
    for _ in range(pages):
        page = api(gateway, person, "customer_search.graphql", {"first": 20, "after": after})["data"]["customers"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return found


@pytest.fixture(scope="module")
def rich_customer(demo_gateway: Gateway, people) -> dict:
    """A customer of the demo's rep with orders, contracts, tickets and an open balance: every part of the page."""
    for node in customers_of(demo_gateway, people["sales_rep"]):
        customer = api(demo_gateway, people["sales_rep"], "customer_page.graphql", {"id": node["id"]})["data"]["customer"]
        if customer["orders"] and customer["contracts"] and customer["tickets"] and Decimal(customer["receivables"]["openBalance"]) > 0:
            return customer
    pytest.fail("the demo rep has no customer with orders, contracts, tickets and an open balance")


def open_page(browser, url: str, ready: str) -> None:
    browser.driver.get(url)
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, ready), what=ready)


def texts(browser, css: str, attribute: str | None = None) -> list[str]:
    elements = browser.driver.find_elements(By.CSS_SELECTOR, css)
    return [element.get_attribute(attribute) if attribute else element.text for element in elements]


# ---------------------------------------------------------------------------
# Customer 360
# ---------------------------------------------------------------------------


def test_the_360_page_shows_the_figures_the_api_gives(demo_gateway: Gateway, browser, people, rich_customer):
    customer = rich_customer
    open_page(browser, f"{demo_gateway.url}/app/360/?customer={customer['id']}&role=sales_rep", "#name")
    assert browser.text("#name") == f"{customer['name']} {customer['id']}"
    assert browser.text("[data-field=tier]") == customer["tier"]
    assert browser.text("[data-field=risk]") == customer["risk"]
    receivables = customer["receivables"]
    for field in ("creditLimit", "creditUsed", "creditAvailable", "openBalance", "overdueBalance"):
        assert browser.text(f"[data-field='receivables.{field}']") == money(receivables[field], receivables["currency"]), field
    aging = texts(browser, "#aging .bars .num")
    assert aging == [money(receivables["aging"][b], receivables["currency"]) for b in ("current", "d1to30", "d31to60", "d61to90", "over90")]
    assert texts(browser, "tr[data-order]", "data-order") == [order["number"] for order in customer["orders"]]
    assert texts(browser, "tr[data-order] [data-field=total]") == [money(o["total"], o["currency"]) for o in customer["orders"]]
    lines = [line for order in customer["orders"] for line in order["lines"]]
    assert texts(browser, "tr[data-sku]", "data-sku") == [line["sku"] for line in lines]
    assert texts(browser, "tr[data-sku] [data-field=available]") == [
        f"{Decimal(line['product']['availability']['available']):,.0f}" for line in lines
    ]
    assert texts(browser, "tr[data-contract]", "data-contract") == [contract["number"] for contract in customer["contracts"]]
    assert texts(browser, "tr[data-ticket]", "data-ticket") == [ticket["id"] for ticket in customer["tickets"]]
    assert len(texts(browser, "#timeline tr")) == len(customer["timeline"])
    assert texts(browser, "#banner") == [""]  # hidden: every system answered
    assert browser.console_errors() == []
    browser.screenshot("customer-360")


def test_the_360_search_pages_through_the_customers_the_rep_sees(demo_gateway: Gateway, browser, people):
    def page(after: str | None) -> dict:
        return api(demo_gateway, people["sales_rep"], "customer_search.graphql", {"first": 20, "after": after})["data"]["customers"]

    first = page(None)
    second = page(first["pageInfo"]["endCursor"])
    open_page(browser, f"{demo_gateway.url}/app/360/?role=sales_rep", "tr[data-customer]")
    assert browser.text("#count").startswith(f"{first['totalCount']} customers visible to you")
    assert texts(browser, "tr[data-customer]", "data-customer") == [edge["node"]["id"] for edge in first["edges"]]
    browser.driver.find_element(By.ID, "next").click()
    expected = [edge["node"]["id"] for edge in second["edges"]]
    browser.wait_for(lambda d: texts(browser, "tr[data-customer]", "data-customer") == expected, what="the second page")
    assert {edge["node"]["owner"]["id"] for edge in first["edges"] + second["edges"]} == {people["sales_rep"]["user"]}


def test_fields_a_role_may_not_read_are_said_to_be_not_visible_never_an_error_dump(
    demo_gateway: Gateway, browser, people, rich_customer
):
    answer = api(demo_gateway, people["service_agent"], "customer_page.graphql", {"id": rich_customer["id"]})
    denied = {tuple(error["path"][:2]) for error in answer["errors"] if error["extensions"]["code"] == "FORBIDDEN"}
    assert ("customer", "receivables") in denied  # the service desk may not read receivables or contract money
    open_page(browser, f"{demo_gateway.url}/app/360/?customer={rich_customer['id']}&role=service_agent", "#name")
    assert browser.text("#credit") == f"Credit\n{NOT_VISIBLE}"
    assert browser.text("#aging") == f"Receivables aging\n{NOT_VISIBLE}"
    amounts = [row.find_elements(By.CSS_SELECTOR, "td")[2].text for row in browser.driver.find_elements(By.CSS_SELECTOR, "tr[data-contract]")]
    assert amounts == [NOT_VISIBLE] * len(rich_customer["contracts"])
    page = browser.text("body")
    assert "FORBIDDEN" not in page and "Not authorised" not in page and texts(browser, "#banner") == [""]


def test_a_rep_cannot_open_another_reps_customer(demo_gateway: Gateway, browser, people):
    other = next(c for c in customers_of(demo_gateway, people["admin"], pages=1) if c["owner"]["id"] != people["sales_rep"]["user"])
    refused = api(demo_gateway, people["sales_rep"], "customer_page.graphql", {"id": other["id"]})
    assert refused["data"]["customer"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    open_page(browser, f"{demo_gateway.url}/app/360/?customer={other['id']}&role=sales_rep", "#refused")
    assert browser.text("#refused") == f"Customer {other['id']} was not found, or is not visible to you."
    assert other["name"] not in browser.text("body")


def test_with_the_erp_down_a_banner_names_it_and_the_other_systems_render(
    demo_gateway: Gateway, browser, people, rich_customer, systems: Systems
):
    customer = rich_customer
    with systems.faults("erp", down=True):
        open_page(browser, f"{demo_gateway.url}/app/360/?customer={customer['id']}&role=sales_rep", "#name")
        banner = browser.text("#banner")
        assert banner.startswith("ERP is not answering.")
        assert browser.text("#name") == f"{customer['name']} {customer['id']}"  # CRM
        assert texts(browser, "tr[data-contract]", "data-contract") == [c["number"] for c in customer["contracts"]]  # CLM
        assert texts(browser, "tr[data-ticket]", "data-ticket") == [t["id"] for t in customer["tickets"]]  # DESK
        assert "unavailable (ERP down)" in browser.text("#credit")
        assert "unavailable (ERP down)" in browser.text("#orders")
        assert {row for row in texts(browser, "#timeline tr", "data-source")} <= {"CRM", "CLM", "DESK"}
        assert "down" in browser.driver.find_element(By.CSS_SELECTOR, "[data-system=ERP]").get_attribute("class")
        assert "down" not in browser.driver.find_element(By.CSS_SELECTOR, "[data-system=CLM]").get_attribute("class")
        browser.screenshot("customer-360-erp-down")


# ---------------------------------------------------------------------------
# Quote screen
# ---------------------------------------------------------------------------

# Priced below cost on purpose: the quote then needs an approval, with reasons.
LINES = [("SKU-0184", "12", "20.00"), ("SKU-0450", "2", "9000.00")]


def quote_in_browser(browser, url: str, lines: list[tuple[str, str, str]] = LINES) -> None:
    """Type the lines into the quote screen as a person would, and wait until it has priced them all."""
    open_page(browser, url, "tr.line input[data-input=sku]")
    driver = browser.driver
    for index, (sku, quantity, price) in enumerate(lines):
        if index:
            driver.find_element(By.ID, "add-line").click()
        row = driver.find_elements(By.CSS_SELECTOR, "tr.line")[index]
        row.find_element(By.CSS_SELECTOR, "input[data-input=sku]").send_keys(sku, Keys.TAB)
        browser.wait_for(lambda d: row.find_element(By.CSS_SELECTOR, "[data-field=product]").text not in ("", "looking up…"))
        for field, value in (("quantity", quantity), ("unitPrice", price)):
            box = row.find_element(By.CSS_SELECTOR, f"input[data-input={field}]")
            box.clear()
            box.send_keys(value, Keys.TAB)
    total = sum(Decimal(quantity) * Decimal(price) for _, quantity, price in lines)
    browser.wait_for(lambda d: browser.text("#totals [data-field=total]") == money(str(total)), what="the priced quote")


def quote_api(gateway: Gateway, person: dict, customer: str) -> dict:
    lines = [{"sku": sku, "quantity": quantity, "unitPrice": price} for sku, quantity, price in LINES]
    return api(gateway, person, "quote_screen.graphql", {"input": {"customerId": customer, "lines": lines}})


def test_the_quote_screen_shows_margin_and_approvals_to_a_sales_manager(demo_gateway: Gateway, browser, people, rich_customer):
    expected = quote_api(demo_gateway, people["sales_manager"], rich_customer["id"])["data"]["quote"]
    assert expected["approval"]["required"] and expected["margin"] is not None
    quote_in_browser(browser, f"{demo_gateway.url}/app/quote/?customer={rich_customer['id']}&role=sales_manager")
    assert browser.text("#totals [data-field=cost]") == money(expected["cost"])
    assert browser.text("#totals [data-field=margin]") == money(expected["margin"])
    assert browser.text("#totals [data-field=marginPct]") == f"{expected['marginPct']:.1f} %"
    assert texts(browser, "tr.line [data-field=unitCost]") == [money(line["unitCost"]) for line in expected["lines"]]
    assert browser.text("[data-field=approvalRequired]") == f"Approval needed: {expected['approval']['level']}"
    assert texts(browser, "[data-field=approvalReasons] li") == expected["approval"]["reasons"]
    assert texts(browser, "tr.line [data-field=available]") == [
        f"{Decimal(line['availability']['available']):,.0f}" for line in expected["lines"]
    ]
    assert browser.driver.find_element(By.ID, "place-order").get_attribute("disabled") is None  # a manager places orders
    assert browser.console_errors() == []
    browser.screenshot("quote-sales-manager")


def test_the_quote_screen_shows_a_rep_no_cost(demo_gateway: Gateway, browser, people, rich_customer):
    rep = quote_api(demo_gateway, people["sales_rep"], rich_customer["id"])["data"]["quote"]
    manager = quote_api(demo_gateway, people["sales_manager"], rich_customer["id"])["data"]["quote"]
    assert rep["cost"] is None and rep["margin"] is None and all(line["unitCost"] is None for line in rep["lines"])
    quote_in_browser(browser, f"{demo_gateway.url}/app/quote/?customer={rich_customer['id']}&role=sales_rep")
    for field in ("cost", "margin", "marginPct"):
        assert browser.text(f"#totals [data-field={field}]") == NOT_VISIBLE, field
    assert texts(browser, "tr.line [data-field=unitCost]") == [NOT_VISIBLE] * len(LINES)
    assert texts(browser, "tr.line [data-field=margin]") == [NOT_VISIBLE] * len(LINES)
    page = browser.text("body")
    assert money(manager["cost"]) not in page and money(manager["margin"]) not in page
    assert texts(browser, "[data-field=approvalReasons] li") == rep["approval"]["reasons"]  # a rep sees why, not the cost
    browser.screenshot("quote-sales-rep")
