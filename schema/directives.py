"""Executable directives the gateway understands."""

import strawberry
from strawberry.directive import DirectiveLocation


@strawberry.directive(
    locations=[DirectiveLocation.FIELD],
    description="Serve this field and everything below it from data at most `maxAge` seconds old "
    "(0: straight from the system of record). Stricter than the caches' TTLs, never looser.",
)
def fresh(max_age: int) -> None:
    """Applied by the executor (schema/plan_run.py; schema/reference.py), which scopes the requirement to the subtree."""
