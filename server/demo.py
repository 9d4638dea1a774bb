"""What only `isthmus demo` serves: a fresh token per role, and the example front-ends under /app/.

Not a setting: these routes exist only when `create_app(settings, demo=DemoSite(...))` is
given a site, which `isthmus demo` alone does. No settings file or ISTHMUS_* variable can
switch them on in a gateway `isthmus serve` starts. Anyone who reaches a demo gateway may
take any role: that is what a demo on 127.0.0.1 is for, and why it exists nowhere else.

- `GET /demo/tokens`: `{"people": [{"role", "user", "name", "team", "token"}, ...]}`, one
  person per role, each token minted on the request (so a long-running demo never hands
  out an expired one). GraphiQL's role picker and the front-ends' sign-in read it.
- `/app/...`: the example front-ends, static files (plain JavaScript modules, no build).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from server.auth import mint_token

TOKENS_PATH = "/demo/tokens"
APPS_PATH = "/app"


@dataclass(frozen=True)
class Persona:
    """Someone to be in the demo: sales staff are real reps of the demo CRM (their `sub` is their rep id)."""

    role: str
    user: str
    name: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class DemoSite:
    secret: str
    people: list[Persona] = field(default_factory=list)
    apps: Path | None = None  # the folder of the example front-ends, served under /app/
    ttl_seconds: int = 8 * 3600

    def tokens(self) -> list[dict[str, Any]]:
        return [
            {
                "role": person.role,
                "user": person.user,
                "name": person.name,
                "team": person.team,
                "token": mint_token(
                    self.secret,
                    user=person.user,
                    roles=[person.role],
                    team=person.team,
                    name=person.name,
                    ttl_seconds=self.ttl_seconds,
                ),
            }
            for person in self.people
        ]


def add_demo_routes(app: FastAPI, site: DemoSite) -> None:
    @app.get(TOKENS_PATH, include_in_schema=False)
    async def demo_tokens() -> JSONResponse:
        return JSONResponse({"people": site.tokens()}, headers={"Cache-Control": "no-store"})

    if site.apps is not None:
        app.mount(APPS_PATH, StaticFiles(directory=site.apps, html=True), name="apps")
