"""GraphiQL served by the gateway itself: nothing from a CDN, assets as vendored, the demo's role picker in demo
mode only; and in Chromium with every host but 127.0.0.1 unresolvable, the page loads and runs a query."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import AUTH, TEST_SECRET, Gateway
from server.demo import DemoSite, Persona
from server.http import create_app
from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "server" / "static"


def vendoring():
    spec = importlib.util.spec_from_file_location("vendor_graphiql", ROOT / "scripts" / "vendor_graphiql.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def client(demo: DemoSite | None = None) -> httpx.AsyncClient:
    """The app over ASGI, its lifespan not run: the page, its assets and the demo routes need no backend."""
    app = create_app(Settings(auth=AUTH), demo=demo)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isthmus")


def page_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


def test_the_vendored_files_are_the_ones_the_manifest_records():
    module = vendoring()
    assert module.check() == []
    manifest = module.json.loads(module.MANIFEST.read_text())
    names = {package["name"]: package for package in manifest["packages"]}
    assert {"react", "react-dom", "graphiql", "@graphiql/plugin-explorer"} <= set(names)
    for package in names.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"]), package  # pinned, not a range
        assert package["licence"] and package["integrity"].startswith("sha512-")


async def test_the_page_asks_for_nothing_but_this_gateway():
    http = client()
    response = await http.get("/graphql")
    assert response.status_code == 200
    html = response.text
    urls = page_urls(html)
    assert "unpkg.com" not in html and "cdn" not in html.lower()
    assert urls and all(url.startswith("/graphiql/") or url.startswith("data:") for url in urls), urls
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    for url in urls:
        if url.startswith("/"):
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), url


def test_the_assets_are_package_data():
    """A wheel carries the page and its assets (and the demo's front-ends): pyproject's package-data covers every file."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, folder in (("server", "static"), ("demo", "web")):
        base = ROOT / package
        covered = {path for pattern in package_data[package] for path in base.glob(pattern) if path.is_file()}
        files = {path for path in (base / folder).rglob("*") if path.is_file()}
        assert files and files <= covered, sorted(str(path.relative_to(ROOT)) for path in files - covered)


async def test_a_gateway_from_settings_has_no_demo_tokens_picker_or_front_ends():
    http = client()
    assert "data-demo-tokens" not in (await http.get("/graphql")).text
    assert (await http.get("/demo/tokens")).status_code == 404
    assert (await http.get("/app/360/")).status_code == 404
    with pytest.raises(ValueError):  # no setting switches the demo on: there is none to set
        Settings(demo=True)


def test_the_running_isthmus_serve_has_no_demo_routes(gateway: Gateway):
    """The `isthmus serve` process (the `gateway` fixture) answers the demo's paths as unknown."""
    anonymous = httpx.Client(base_url=gateway.url, timeout=30)
    assert "data-demo-tokens" not in anonymous.get("/graphql").text
    assert anonymous.get("/demo/tokens").status_code == 404
    assert anonymous.get("/app/quote/").status_code == 404


async def test_demo_mode_hands_out_a_fresh_token_per_role():
    site = DemoSite(TEST_SECRET, [Persona("sales_rep", "R001", "Ann", "North"), Persona("admin", "demo-admin")])
    http = client(site)
    assert 'data-demo-tokens="/demo/tokens"' in (await http.get("/graphql")).text
    response = await http.get("/demo/tokens")
    assert response.headers["cache-control"] == "no-store"
    people = response.json()["people"]
    assert [person["role"] for person in people] == ["sales_rep", "admin"]
    claims = jwt.decode(people[0]["token"], TEST_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"], claims["team"]) == ("R001", ["sales_rep"], "North")


# ---------------------------------------------------------------------------
# In Chromium
# ---------------------------------------------------------------------------


def run_query(browser) -> str:
    """Press GraphiQL's run button; the result pane's text once it holds an answer."""
    driver = browser.driver
    previous = driver.find_element(By.CSS_SELECTOR, ".result-window").text
    driver.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    return browser.wait_for(
        lambda d: (text := d.find_element(By.CSS_SELECTOR, ".result-window").text) != previous
        and '"data"' in text
        and text,
        what="the query's result",
    )


def test_graphiql_loads_and_runs_queries_with_every_other_host_unreachable(demo_gateway: Gateway, browser):
    driver = browser.driver
    earlier = len(browser.requests())  # the session's browser has served other tests
    driver.get(f"{demo_gateway.url}/graphql")
    driver.execute_script("localStorage.clear()")  # a first visit: the session's browser may have saved a role
    driver.get(f"{demo_gateway.url}/graphql")
    browser.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, ".graphiql-execute-button"), what="GraphiQL")
    picker = Select(driver.find_element(By.ID, "demo-role"))
    assert picker.first_selected_option.get_attribute("value") == "admin"  # a role ready on the first visit

    result = run_query(browser)
    assert '"totalCount": 2400' in result and '"admin"' in result

    picker.select_by_value("sales_rep")
    headers = browser.text(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
    assert "Authorization" in headers and "Bearer" in headers
    result = run_query(browser)
    assert '"sales_rep"' in result and '"totalCount": 2400' not in result  # the rep's own customers only
    browser.screenshot("graphiql")

    gateway = urlsplit(demo_gateway.url).netloc
    requests = browser.requests()[earlier:]
    assert any(url.endswith("/graphiql/vendor/graphiql.min.js") for url in requests)
    assert any(url.endswith("/graphql") for url in requests)
    elsewhere = [url for url in requests if not url.startswith("data:") and urlsplit(url).netloc != gateway]
    assert elsewhere == []
    assert browser.console_errors() == []
