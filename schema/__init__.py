"""The GraphQL schema: thin strawberry types over the records, one module per domain."""

import strawberry

from schema.directives import fresh
from schema.query import Query

schema = strawberry.Schema(query=Query, directives=[fresh])

__all__ = ["schema"]
