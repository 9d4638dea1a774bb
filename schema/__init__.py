"""The GraphQL schema: thin strawberry types over the records, one module per domain.

One build, two views of it. `public` is the API of the contract; `subgraph` adds
Federation v2's `_service` and `_entities` for a router (setting
`federation.enabled`). They share every type and resolver, so the field plans,
the policy and the limits apply to both alike.
"""

from decimal import Decimal

from graphql import GraphQLObjectType, GraphQLSchema, GraphQLUnionType, print_schema, specified_directives

from schema.contract import Contract
from schema.customer import Customer
from schema.derived import derivations as _declared_derivations
from schema.direct import install_direct_resolvers
from schema.directives import fresh
from schema.federation import ENTITIES, SubgraphSchema, entity_type_name
from schema.mutation import Mutation
from schema.order import SalesOrder
from schema.product import Product
from schema.query import Query
from schema.scalars import DECIMAL
from schema.subscription import Subscription
from schema.ticket import ServiceTicket

ENTITY_TYPES = [Customer, Product, SalesOrder, Contract, ServiceTicket]

# 2.9: the newest version today's composition libraries (GraphQL Mesh, Hive Gateway) accept
_built = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # strawberry's federation Schema types `directives` as classes; it takes directive objects like ours
    directives=[fresh],  # type: ignore[list-item]
    types=ENTITY_TYPES,
    federation_version="2.9",
    scalar_overrides={Decimal: DECIMAL},
)
subgraph: GraphQLSchema = _built._schema
_entity = subgraph.get_type("_Entity")
if not isinstance(_entity, GraphQLUnionType):
    raise RuntimeError("the subgraph has no `_Entity` union: no type has a @key")
_entity.resolve_type = entity_type_name
install_direct_resolvers(subgraph, _built)
if {t.__name__ for t in ENTITY_TYPES} != set(ENTITIES) or set(ENTITIES) != {t.name for t in _entity.types}:
    raise RuntimeError("every @key type needs its look-up in schema.federation.ENTITIES")


def _without_federation(schema: GraphQLSchema) -> GraphQLSchema:
    query, fresh_directive = schema.query_type, schema.get_directive("fresh")
    if query is None or fresh_directive is None:
        raise RuntimeError("the subgraph lacks its Query type or the @fresh directive")
    public_query = GraphQLObjectType(
        name=query.name,
        fields={name: field for name, field in query.fields.items() if name not in ("_service", "_entities")},
        description=query.description,
        extensions=query.extensions,
    )
    # graphql's own directives and ours; federation's (@key, @link) are for routers only
    directives = [*specified_directives, fresh_directive]
    built = GraphQLSchema(
        query=public_query,
        mutation=schema.mutation_type,
        subscription=schema.subscription_type,
        directives=directives,
        extensions=schema.extensions,
    )
    # what strawberry's `Info.schema` reads: strawberry sets it on the schemas it builds, undeclared
    built._strawberry_schema = schema._strawberry_schema  # type: ignore[attr-defined]
    return built


public: GraphQLSchema = _without_federation(subgraph)


def derivations() -> dict[str, tuple[tuple[str, ...], str | None]]:
    """Every derived field's declared sources (see `schema.derived`), for the policy's derivation rule."""
    return _declared_derivations(subgraph)


def public_sdl() -> str:
    """The public API as SDL (what the contract is checked against)."""
    return print_schema(public)


def subgraph_sdl() -> str:
    """The subgraph's SDL with its federation directives, as `_service { sdl }` gives it to a router."""
    return _built.as_str()


__all__ = ["public", "subgraph", "derivations", "public_sdl", "subgraph_sdl"]
