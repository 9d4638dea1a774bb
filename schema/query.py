"""The root Query: each field names the resolver that answers it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry import Info

from resolvers import availability, lookups
from resolvers import customers as find
from resolvers.worklists import Order
from schema.contract import Contract
from schema.customer import Customer, CustomerConnection
from schema.derived import derived_from
from schema.enums import CustomerTier
from schema.lookahead import selects
from schema.order import SalesOrder, prefetched
from schema.product import Availability, Product
from schema.quote import KittingAnalysis, QuoteEvaluation, QuoteInput, evaluate_quote, kitting_analysis
from schema.worklists import CustomerOrder, WorklistQuery, order_of


@strawberry.type
class Principal:
    id: strawberry.ID
    name: str | None
    roles: list[str]


@strawberry.type
class Query(WorklistQuery):
    @strawberry.field(description="The authenticated principal, as the gateway sees it.")
    def me(self, info: Info) -> Principal:
        principal = info.context.principal
        return Principal(id=principal.id, name=principal.name, roles=list(principal.roles))

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await lookups.customer_by_id(info.context, id)

    @strawberry.field(
        description="Customers visible to the caller (row-level rules apply), newest activity first (or `orderBy`). "
        "`search` matches ids and names, and tax ids for callers who may read them. `team`, `region`, `industry`, "
        "`tiers` narrow in the CRM; `hasOverdue` and `creditExceeded` (gross credit used above the limit) are asked "
        "of the ERP first and need Customer.receivables.",
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
        team: str | None = None,
        region: list[str] | None = None,
        industry: list[str] | None = None,
        tiers: list[CustomerTier] | None = None,
        has_overdue: bool | None = None,
        credit_exceeded: bool | None = None,
        order_by: CustomerOrder | None = None,
    ) -> CustomerConnection:
        narrowing = find.Narrowing(
            team=team,
            region=region,
            industry=industry,
            tiers=None if tiers is None else [t.value for t in tiers],
            has_overdue=has_overdue,
            credit_exceeded=credit_exceeded,
            sort="" if order_by is None else order_of(order_by, Order("last_activity_at", True)).spelled,
            summary=selects(info, "summary"),
        )
        return await find.customer_page(
            info.context,
            search=search,
            owner_id=owner_id,
            tier=tier.value if tier else None,
            first=20 if first is None else first,
            after=after,
            narrowing=narrowing,
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
