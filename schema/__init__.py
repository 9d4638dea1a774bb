"""The GraphQL schema: thin strawberry types over the records, one module per domain."""

import strawberry

from schema.directives import fresh
from schema.fast_path import install_direct_resolvers
from schema.query import Query

schema = strawberry.Schema(query=Query, directives=[fresh])
install_direct_resolvers(schema._schema)

__all__ = ["schema"]
