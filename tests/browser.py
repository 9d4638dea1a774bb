"""A real browser for the tests of GraphiQL and the example front-ends: Debian's Chromium, driven by selenium.

`missing()` says why the browser tests cannot run here (they skip with that reason): no
selenium, no `chromium`, or no `chromedriver` (`apt-get install chromium chromium-driver`;
`.ci/run` installs both). Chromium resolves no host name but 127.0.0.1 (every other name is
NOTFOUND), so a page that tried to load anything from the internet would fail to; and
`requests()` lists every URL the browser asked for, so a test can show none left loopback.

`DemoServer` runs a demo-mode gateway (`isthmus demo`'s `DemoSite`: tokens per role, the
front-ends) over uvicorn in a thread of the test process, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable

import uvicorn

from demo.launcher import free_port

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots; gitignored
CHROMIUM = ("chromium", "chromium-browser")
BLOCK_ALL_BUT_LOOPBACK = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def missing() -> str | None:
    """Why there is no browser to test with, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


class Browser:
    """Headless Chromium with every host but 127.0.0.1 unresolvable, and its network log."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = next(filter(None, map(shutil.which, CHROMIUM)))
        for argument in (
            "--headless=new",
            "--no-sandbox",  # tests run as root in CI containers
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1400,1000",
            f"--host-resolver-rules={BLOCK_ALL_BUT_LOOPBACK}",
            # Chromium's own background traffic (updates, safe browsing, ...) is not the page's.
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        # The system's chromedriver: selenium never downloads a driver.
        self.driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        self.driver.set_page_load_timeout(30)
        self._seen: list[str] = []

    def requests(self) -> list[str]:
        """Every URL the browser asked for since it started (reading the log drains it: kept here)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self._seen.append(message["params"]["request"]["url"])
        return list(self._seen)

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def wait_for(self, condition: Callable[[Any], Any], timeout: float = 20, what: str = "the page") -> Any:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # A page that re-renders replaces the elements a condition was reading: ask again.
        wait = WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
        return wait.until(condition, f"waited {timeout:.0f} s for {what}")

    def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def quit(self) -> None:
        self.driver.quit()


class DemoServer:
    """A demo-mode gateway app served over HTTP from a thread of this process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="demo-gateway", daemon=True)
        self.thread.start()
        until = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > until:
                raise RuntimeError("the demo gateway did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
