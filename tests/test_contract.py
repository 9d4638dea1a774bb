"""The printed schema honours the public API contract (docs/contract/schema.graphql)."""

from pathlib import Path

from graphql import build_schema, find_breaking_changes

from schema import public_sdl

CONTRACT = Path(__file__).resolve().parent.parent / "docs" / "contract" / "schema.graphql"


def test_printed_schema_breaks_nothing_in_the_contract():
    contract = build_schema(CONTRACT.read_text())
    actual = build_schema(public_sdl())
    broken = {change.description for change in find_breaking_changes(contract, actual)}
    assert broken == set()
