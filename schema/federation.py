"""Apollo Federation v2: the subgraph a router composes, and how it finds entities.

Entities (`@key` types) are found through the same look-ups as the root fields —
the per-request loaders batch N representations into one backend call per source
method, and the row-level rules refuse what the caller may not see, alike for an
unknown key. Only these types may be asked for: a representation of any other
type is refused instead of being turned into an object from the caller's input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry import Info
from strawberry.federation.schema import FederationAny

from resolvers import lookups
from resolvers.context import Context
from resolvers.errors import BadUserInput
from schema.order import prefetched
from sources import records

MAX_REPRESENTATIONS = 1000


async def _order(ctx: Context, key: str, info: Any) -> records.Order:
    return prefetched(info, [await lookups.order_by_id(ctx, key)])[0]


# type name -> (key field, look-up, record class)
ENTITIES: dict[str, tuple[str, Callable[..., Awaitable[Any]], type]] = {
    "Customer": ("id", lambda ctx, key, info: lookups.customer_by_id(ctx, key), records.Customer),
    "Product": ("sku", lambda ctx, key, info: lookups.product_by_sku(ctx, key), records.Product),
    "SalesOrder": ("id", _order, records.Order),
    "Contract": ("id", lambda ctx, key, info: lookups.contract_by_id(ctx, key), records.Contract),
    "ServiceTicket": ("id", lambda ctx, key, info: lookups.ticket_by_id(ctx, key), records.Ticket),
}
_TYPE_OF_RECORD = {record: name for name, (_, _, record) in ENTITIES.items()}


def entity(info: Any, index: int, representation: Any) -> Awaitable[Any] | Exception:
    """The record one representation names, or the error for its place in the list."""
    if not isinstance(representation, dict):
        return BadUserInput(f"Representation {index} must be an object with `__typename` and its key.")
    type_name = representation.get("__typename")
    if type_name not in ENTITIES:
        return BadUserInput(
            f"Representation {index}: `__typename` must be one of {', '.join(sorted(ENTITIES))}, got {type_name!r}."
        )
    key_field, look_up, _ = ENTITIES[type_name]
    key = representation.get(key_field)
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        return BadUserInput(f"Representation {index} ({type_name}) needs its key `{key_field}` as a string.")
    return look_up(info.context, str(key), info)


def entity_type_name(record: Any, *_: Any) -> str | None:
    """`_Entity` is a union over records, not strawberry objects: name the type by record class."""
    return _TYPE_OF_RECORD.get(type(record))


class SubgraphSchema(strawberry.federation.Schema):
    """strawberry's federation schema, with `_entities` answered by `entity`."""

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[Any]:
        """Per representation its entity, an awaitable of it, or the error to report in its slot."""
        if len(representations) > MAX_REPRESENTATIONS:
            raise BadUserInput(
                f"`_entities` takes at most {MAX_REPRESENTATIONS} representations per call, got {len(representations)}."
            )
        return [entity(info, index, representation) for index, representation in enumerate(representations)]
