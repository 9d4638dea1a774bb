"""The GraphQL schema: thin strawberry types over the records, one module per domain."""

import strawberry

from schema.query import Query

schema = strawberry.Schema(query=Query)

__all__ = ["schema"]
