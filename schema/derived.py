"""Derived fields say what they are computed from, where they are defined.

    progress: float | None = strawberry.field(metadata=derived_from("Contract.amount"))

The field guard then denies the field to a caller who may not read every source (the
derivation rule, `policies.derivations`), so a restricted value cannot be recomputed
from a derived one. `coarse` marks a field answered to everyone in a form from which no
source value can be recomputed, and says why.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema

from schema.direct import DEFINITION

KEY = "isthmus.derived_from"


def derived_from(*sources: str, coarse: str | None = None) -> dict[str, Any]:
    """Field metadata: the `Type.field`s the value is computed from."""
    if not sources or not all("." in source for source in sources):
        raise ValueError(f"derived_from needs Type.field names, got {sources!r}")
    return {KEY: (tuple(sources), coarse)}


def derivations(schema: GraphQLSchema) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """`Type.field` -> (sources, coarse) for every field that declares a derivation."""
    found: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get(DEFINITION)
            declared = (getattr(definition, "metadata", None) or {}).get(KEY)
            if declared is not None:
                found[f"{type_.name}.{name}"] = declared
    return found
