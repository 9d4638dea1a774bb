"""GraphiQL served by the gateway itself: the page and its assets come from this package, not a CDN.

The scripts and stylesheets are vendored at pinned versions into `server/static/graphiql/vendor/`
(`scripts/vendor_graphiql.py` refreshes them and records versions, SHA-256s and licences in
its MANIFEST.json), so the page works on a network that reaches nothing but the gateway.
Its Content-Security-Policy allows only this origin (and `data:` for GraphiQL's fonts and
icons), so a script that tried to reach another host would be refused by the browser.

In demo mode (`isthmus demo`, never from settings: see `server/demo.py`) the page carries
the URL of the demo's tokens and shows a role picker that fills GraphiQL's Headers tab.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static" / "graphiql"
TEMPLATE = STATIC.parent / "graphiql.html"
ASSETS_PATH = "/graphiql"
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # CodeMirror and GraphiQL set style attributes
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def page(request: Request, demo_tokens: str | None = None) -> HTMLResponse:
    """The GraphiQL page for GET /graphql; `demo_tokens`: the path of the demo's tokens (demo mode only)."""
    root = request.scope.get("root_path", "")
    text = template()
    demo = f' data-demo-tokens="{html.escape(root + demo_tokens)}"' if demo_tokens else ""
    text = text.replace("{static}", html.escape(root + ASSETS_PATH)).replace(
        "{endpoint}", html.escape(root + "/graphql")
    )
    return HTMLResponse(text.replace("{demo}", demo), headers={"Content-Security-Policy": CSP})


@functools.cache
def template() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


def add_graphiql_assets(app: FastAPI) -> None:
    """The page's own script and stylesheet and the vendored GraphiQL, React and explorer plugin."""
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="graphiql")
