"""The root Query: each field names the resolver that answers it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry import Info
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from resolvers import availability, lookups
from resolvers import customers as find
from schema.contract import Contract
from schema.customer import Customer, CustomerConnection
from schema.derived import derived_from
from schema.enums import CustomerTier
from schema.mutation import Mutation
from schema.order import SalesOrder, prefetched
from schema.product import Availability, Product
from schema.quote import KittingAnalysis, QuoteEvaluation, QuoteInput, evaluate_quote, kitting_analysis

MUTATIONS = tuple(to_camel_case(field.python_name) for field in get_object_definition(Mutation, strict=True).fields)


@strawberry.type
class Principal:
    id: strawberry.ID
    name: str | None
    roles: list[str]
    allowed_mutations: list[str] = strawberry.field(
        description="The mutations the caller's roles may run (the policy's `write` lines), so a front-end can say "
        "so before a click; row-level rules still decide for which records."
    )


@strawberry.type
class Query:
    @strawberry.field(description="The authenticated principal, as the gateway sees it.")
    def me(self, info: Info) -> Principal:
        ctx = info.context
        principal = ctx.principal
        allowed = [name for name in MUTATIONS if ctx.can_write(f"Mutation.{name}")]
        return Principal(id=principal.id, name=principal.name, roles=list(principal.roles), allowed_mutations=allowed)

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await lookups.customer_by_id(info.context, id)

    @strawberry.field(
        description="Customers visible to the caller (row-level rules apply), newest activity first. `search` matches "
        "ids and names, and tax ids for callers who may read them.",
        metadata=derived_from("Customer.taxId", coarse="`search` matches tax ids only for callers who may read them"),
    )
    async def customers(
        self,
        info: Info,
        search: str | None = None,
        owner_id: strawberry.ID | None = None,
        tier: CustomerTier | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> CustomerConnection:
        return await find.customer_page(
            info.context,
            search=search,
            owner_id=owner_id,
            tier=tier.value if tier else None,
            first=20 if first is None else first,
            after=after,
        )

    @strawberry.field
    async def product(self, info: Info, sku: strawberry.ID) -> Product | None:
        return await lookups.product_by_sku(info.context, sku)

    @strawberry.field
    async def products(self, info: Info, skus: list[strawberry.ID]) -> list[Product | None]:
        find.check_page_size(len(skus), find.MAX_PAGE_SIZE * 5, name="skus")
        return await info.context.loaders.product_by_sku.load_many(skus)

    @strawberry.field
    async def contract(self, info: Info, id: strawberry.ID) -> Contract | None:
        return await lookups.contract_by_id(info.context, id)

    @strawberry.field
    async def order(self, info: Info, id: strawberry.ID) -> SalesOrder | None:
        return prefetched(info, [await lookups.order_by_id(info.context, id)])[0]

    @strawberry.field(description="Available-to-promise for one SKU: can `quantity` be promised by `date`?")
    async def atp(
        self,
        info: Info,
        sku: strawberry.ID,
        quantity: Decimal,
        warehouse: strawberry.ID | None = None,
        date: dt.date | None = None,
    ) -> Availability | None:
        return await availability.atp(info.context, sku, quantity, warehouse, date)

    @strawberry.field(
        description="Price a draft quote live: ATP and promise date per line, cost and margin, credit check, approvals."
    )
    async def quote(self, info: Info, input: QuoteInput) -> QuoteEvaluation:
        return await evaluate_quote(info, input)

    @strawberry.field(
        description="Kitting analysis: can `quantity` units of `sku` be built from component stock by `date`?"
    )
    async def buildable(
        self,
        info: Info,
        sku: strawberry.ID,
        quantity: Decimal,
        warehouse: strawberry.ID | None = None,
        date: dt.date | None = None,
    ) -> KittingAnalysis | None:
        return await kitting_analysis(info, sku, quantity, warehouse, date)
