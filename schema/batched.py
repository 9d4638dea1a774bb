"""Field metadata naming a field's batch resolver (`resolvers.batches`).

    @strawberry.field(metadata=batched(owners))
    async def owner(self, info: Info) -> SalesRep | None:
        return await one(owners, self, info)

The plan executor calls `owners` once for all the objects of a layer; graphql-core's
executor calls the field's own resolver, which answers through the same function.
"""

from __future__ import annotations

from typing import Any

from resolvers.batches import Batch

KEY = "isthmus.batch"


def batched(batch: Batch) -> dict[str, Any]:
    """Field metadata: the batch resolver (merge with other metadata, e.g. `{**derived_from(...), **batched(f)}`)."""
    return {KEY: batch}


def batch_of(definition: Any) -> Batch | None:
    """The batch resolver a strawberry field declares, if any."""
    found: Batch | None = (getattr(definition, "metadata", None) or {}).get(KEY)
    return found
