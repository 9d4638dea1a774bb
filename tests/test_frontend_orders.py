"""The quote screen places orders (demo/web/quote/, `PlaceOrder` and `ApproveOrder` by id) in Chromium.

What each test checks is read back from the demo ERP's own REST API (`/orders`, `/approvals`),
never from the page: one order per attempt however often it is clicked or retried, at the
gateway's prices; a draft waiting for approval until a sales manager approves it on the
screen; nothing written by a role the policy does not let place orders. The module starts
demo systems of its own, as tests/test_mutations.py does: its orders would otherwise show in
other modules' figures.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import AUTH, LIVE, SYSTEMS, TEST_SECRET, Gateway, Systems
from demo.launcher import start_systems
from server.wiring import build_authorizer
from test_frontends import money, open_page, quote_in_browser

QUOTE = """query Quote($input: QuoteInput!) {
  quote(input: $input) { total totalTax lines { sku quantity unitPrice amount taxAmount } approval { required level } }
}"""
PERMISSIONS = "{ me { allowedMutations } }"


@pytest.fixture(scope="module")
def own_systems() -> Iterator[Systems]:
    with start_systems(ports={system: 0 for system in SYSTEMS}) as running:
        yield Systems(running.urls)


@pytest.fixture(scope="module")
def shop(own_systems: Systems) -> Iterator[Gateway]:
    """`isthmus demo` over the module's systems (live data); the ERP answers within 2 s or not at all."""
    import app as isthmus
    from browser import DemoServer
    from server.http import create_app
    from server.settings import Settings

    site = isthmus.demo_site(TEST_SECRET, own_systems.get("crm", "/reps"))
    urls = {name: {"url": url} for name, url in own_systems.urls.items()}
    urls["erp"]["timeout"] = 2.0
    server = DemoServer(create_app(Settings(auth=AUTH, **urls, **LIVE), demo=site))
    try:
        yield Gateway(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def people(shop: Gateway) -> dict[str, dict]:
    return {person["role"]: person for person in shop.http.get("/demo/tokens").json()["people"]}


class Cases:
    """Customers of the demo's rep (one per test, so each counts its own orders) and lines for each case."""

    def __init__(self, systems: Systems, shop: Gateway, rep: str) -> None:
        self.systems, self.shop = systems, shop
        self.customers = [c for c in systems.get("crm", "/customers/search", limit=1000) if c["owner_id"] == rep and c["refs"]["erp"]]
        self.products = {p["sku"]: p for p in systems.get("erp", "/products")}
        self.taken: set[str] = set()

    def quote(self, customer: dict, lines: list[tuple[str, str, str]]) -> dict:
        variables = {"input": {"customerId": customer["id"], "lines": [
            {"sku": sku, "quantity": quantity, "unitPrice": price} for sku, quantity, price in lines]}}
        body = self.shop.query(QUOTE, variables)
        assert "errors" not in body, body
        return body["data"]["quote"]

    def take(self, *, level: str | None) -> tuple[dict, list[tuple[str, str, str]], dict]:
        """A customer not used yet and one line in stock whose quote needs approval at `level` (None: none)."""
        stock = self.systems.get("erp", "/stock", skus=",".join(list(self.products)[:60]))
        stocked = [row["sku"] for row in stock if Decimal(row["on_hand"]) - Decimal(row["allocated"]) > 20]
        for customer in self.customers:
            if customer["id"] in self.taken:
                continue
            for sku in stocked:
                product = self.products[sku]
                cost = Decimal(product["standard_cost"] or "0")
                if cost <= 0 or product["kind"] == "MANUFACTURED":
                    continue
                price = (cost / Decimal("0.9") if level else cost * 2).quantize(Decimal("0.01"))
                lines = [(sku, "2", str(price))]
                evaluated = self.quote(customer, lines)
                if evaluated["approval"] == {"required": level is not None, "level": level}:
                    self.taken.add(customer["id"])
                    return customer, lines, evaluated
                break  # this customer's credit or risk decides it: try the next
        raise AssertionError("no customer and product of the demo rep for this case")


@pytest.fixture(scope="module")
def cases(own_systems: Systems, shop: Gateway, people) -> Cases:
    return Cases(own_systems, shop, people["sales_rep"]["user"])


def erp_orders(systems: Systems, customer: dict) -> list[dict]:
    return systems.get("erp", "/orders", party=customer["refs"]["erp"])


def placed(browser, state: str) -> dict[str, Any]:
    """Wait for the placement's outcome; its shown order number, status and key."""
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, f"#placement[data-state={state}]"), what=state)
    shown = {}
    for field in ("orderNumber", "key", "approvalId", "approvalLevel", "outcome"):
        found = browser.driver.find_elements(By.CSS_SELECTOR, f"#placement [data-field={field}]")
        shown[field] = found[0].text if found else None
    return shown


def quote_url(shop: Gateway, customer: dict, role: str) -> str:
    return f"{shop.url}/app/quote/?customer={customer['id']}&role={role}"


def test_a_rep_places_an_order_once_at_the_gateways_prices_even_when_double_clicked(
    own_systems: Systems, shop: Gateway, browser, cases: Cases
):
    customer, lines, evaluated = cases.take(level=None)
    before = {order["id"] for order in erp_orders(own_systems, customer)}
    quote_in_browser(browser, quote_url(shop, customer, "sales_rep"), lines)
    button = browser.driver.find_element(By.ID, "place-order")
    browser.wait_for(lambda d: button.is_enabled(), what="Place order enabled")
    own_systems.reset_stats()

    ActionChains(browser.driver).double_click(button).perform()
    shown = placed(browser, "PLACED")

    new = [order for order in erp_orders(own_systems, customer) if order["id"] not in before]
    assert len(new) == 1, new
    (order,) = new
    assert order["status"] == "CONFIRMED" and order["number"] == shown["orderNumber"]
    def figures(line: dict, *names: str) -> tuple:
        return (line["sku"], *(Decimal(line[name]) for name in names))

    assert [figures(line, "quantity", "unit_price", "amount", "tax_amount") for line in order["lines"]] == [
        figures(line, "quantity", "unitPrice", "amount", "taxAmount") for line in evaluated["lines"]
    ]
    assert (order["total"], order["tax_amount"]) == (evaluated["total"], evaluated["totalTax"])
    assert own_systems.by_route()["erp"]["POST /orders"] == 1
    assert not button.is_enabled()  # the quote is placed: a third click cannot place it again
    assert browser.text("#place-order-note") == "This quote is placed; change it to place another order."
    assert browser.console_errors() == []
    browser.screenshot("quote-order-placed")


def test_a_retry_after_an_unknown_outcome_sends_the_same_key_and_leaves_one_order(
    own_systems: Systems, shop: Gateway, browser, cases: Cases
):
    customer, lines, _ = cases.take(level=None)
    before = {order["id"] for order in erp_orders(own_systems, customer)}
    quote_in_browser(browser, quote_url(shop, customer, "sales_rep"), lines)
    button = browser.driver.find_element(By.ID, "place-order")
    browser.wait_for(lambda d: button.is_enabled(), what="Place order enabled")
    with own_systems.faults("erp", latency_after_ms=3000):  # the ERP writes, then answers after the gateway gave up
        button.click()
        unknown = placed(browser, "OUTCOME_UNKNOWN")
    assert "Retry with the same key" in unknown["outcome"]
    assert len([o for o in erp_orders(own_systems, customer) if o["id"] not in before]) == 1  # it was written

    browser.driver.find_element(By.ID, "retry").click()
    settled = placed(browser, "PLACED")

    new = [order for order in erp_orders(own_systems, customer) if order["id"] not in before]
    assert [order["number"] for order in new] == [settled["orderNumber"]]
    assert settled["key"] == unknown["key"]


def test_an_order_needing_approval_is_pending_for_the_rep_and_a_sales_manager_approves_it_on_the_screen(
    own_systems: Systems, shop: Gateway, browser, cases: Cases, people
):
    customer, lines, _ = cases.take(level="SALES_MANAGER")
    before = {order["id"] for order in erp_orders(own_systems, customer)}
    quote_in_browser(browser, quote_url(shop, customer, "sales_rep"), lines)
    button = browser.driver.find_element(By.ID, "place-order")
    browser.wait_for(lambda d: button.is_enabled(), what="Place order enabled")
    button.click()
    pending = placed(browser, "PENDING_APPROVAL")

    (order,) = [order for order in erp_orders(own_systems, customer) if order["id"] not in before]
    assert order["status"] == "DRAFT" and order["number"] == pending["orderNumber"]
    (request,) = own_systems.get("erp", "/approvals", orders=order["id"])
    assert request["status"] == "PENDING" and request["requested_by"] == people["sales_rep"]["user"]
    assert (pending["approvalId"], pending["approvalLevel"]) == (order["id"], request["level"]) == (order["id"], "SALES_MANAGER")
    link = browser.driver.find_element(By.ID, "approval-link").get_attribute("href")
    browser.screenshot("quote-pending-approval")

    open_page(browser, f"{link}&role=sales_manager", "#approve-order")
    assert browser.text("[data-field=orderNumber]") == order["number"]
    assert browser.text("[data-field=total]") == money(order["total"], order["currency"])
    approve = browser.driver.find_element(By.ID, "approve-order")
    assert approve.is_enabled()
    approve.click()
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "#approval-outcome[data-state=PLACED]"), what="approved")

    (confirmed,) = [o for o in erp_orders(own_systems, customer) if o["id"] == order["id"]]
    assert confirmed["status"] == "CONFIRMED"
    (decided,) = own_systems.get("erp", "/approvals", orders=order["id"])
    assert decided["status"] == "APPROVED" and decided["decided_by"] == people["sales_manager"]["user"]
    assert len([o for o in erp_orders(own_systems, customer) if o["id"] not in before]) == 1
    assert not approve.is_enabled()
    assert browser.console_errors() == []


def test_a_role_that_may_not_place_orders_sees_the_button_disabled_with_the_reason(
    own_systems: Systems, shop: Gateway, browser, cases: Cases, people
):
    assert not build_authorizer().can_write(("service_agent",), "Mutation.placeOrder")  # the policy, not the page
    answer = shop.query(PERMISSIONS, headers={"Authorization": f"Bearer {people['service_agent']['token']}"})
    assert "placeOrder" not in answer["data"]["me"]["allowedMutations"]
    customer, lines, _ = cases.take(level=None)
    own_systems.reset_stats()
    # The service desk may not price quotes either (Query.quote): the screen looks the product up and stops there.
    open_page(browser, quote_url(shop, customer, "service_agent"), "tr.line input[data-input=sku]")
    browser.driver.find_element(By.CSS_SELECTOR, "tr.line input[data-input=sku]").send_keys(lines[0][0], Keys.TAB)
    browser.wait_for(lambda d: browser.text("tr.line [data-field=product]") not in ("", "looking up…"), what="the product")
    button = browser.driver.find_element(By.ID, "place-order")
    assert not button.is_enabled()
    assert browser.text("#place-order-note") == "Your role (service_agent) may not place orders: sellers and finance place them."
    ActionChains(browser.driver).double_click(button).perform()
    assert "POST /orders" not in own_systems.by_route()["erp"]


def test_an_order_the_stock_cannot_cover_is_refused_naming_the_line_and_nothing_is_written(
    own_systems: Systems, shop: Gateway, browser, cases: Cases
):
    customer, lines, _ = cases.take(level=None)
    (sku, _, price), *rest = lines
    too_many = [(sku, "99999999", price), *rest]
    own_systems.reset_stats()
    quote_in_browser(browser, quote_url(shop, customer, "sales_rep"), too_many)
    button = browser.driver.find_element(By.ID, "place-order")
    browser.wait_for(lambda d: button.is_enabled(), what="Place order enabled")
    button.click()
    refused = placed(browser, "BAD_USER_INPUT")
    assert refused["outcome"].startswith("Please check line 1, quantity.")
    assert "invalid" in browser.driver.find_element(By.CSS_SELECTOR, "tr.line input[data-input=quantity]").get_attribute("class")
    assert "POST /orders" not in own_systems.by_route()["erp"]
