"""The root Query: each field names the resolver that answers it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry import Info
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from resolvers import availability, lookups, procurement
from resolvers import customers as find
from resolvers.alerts import Alert as AlertRecord
from resolvers.alerts import AlertKind, SourceName
from resolvers.stock_ageing import slow_moving_stock
from schema.contract import Contract
from schema.customer import Alert, Customer, CustomerConnection
from schema.derived import derived_from
from schema.enums import CustomerTier, RiskLevel
from schema.lookahead import selects
from schema.mutation import Mutation
from schema.order import SalesOrder, prefetched
from schema.product import Availability, Product
from schema.quote import KittingAnalysis, QuoteEvaluation, QuoteInput, evaluate_quote, kitting_analysis
from schema.requirements import MaterialDemandInput, MaterialRequirements, material_requirements
from schema.supply import Budget, ProductionOrder, PurchaseOrder, SlowMovingStock, Supplier
from schema.worklists import CustomerOrder, WorklistQuery, order_of

MUTATIONS = tuple(to_camel_case(field.python_name) for field in get_object_definition(Mutation, strict=True).fields)


@strawberry.type(description="Who is asking: what the credentials say, and which customers that lets them see.")
class Principal:
    id: strawberry.ID
    name: str | None
    roles: list[str]
    team: str | None
    customers_seen: str | None = strawberry.field(
        description="Which customers the roles let the caller see: `own`, `team`, `all`, or null for none."
    )
    allowed_mutations: list[str] = strawberry.field(
        description="The mutations the caller's roles may run (the policy's `write` lines), so a front-end can say "
        "so before a click; row-level rules still decide for which records."
    )


@strawberry.type
class Query(WorklistQuery):
    @strawberry.field(description="The authenticated principal, as the gateway sees it.")
    def me(self, info: Info) -> Principal:
        ctx = info.context
        principal = ctx.principal
        allowed = [name for name in MUTATIONS if ctx.can_write(f"Mutation.{name}")]
        return Principal(
            id=principal.id,
            name=principal.name,
            roles=list(principal.roles),
            team=principal.team,
            customers_seen=ctx.scope,
            allowed_mutations=allowed,
        )

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await lookups.customer_by_id(info.context, id)

    @strawberry.field(
        description="Customers visible to the caller (row-level rules apply), newest activity first (or `orderBy`). "
        "`search` matches ids and names, and tax ids for callers who may read them. `team`, `region`, `industry`, "
        "`tiers` narrow in the CRM; `hasOverdue` and `creditExceeded` (gross credit used above the limit) are asked "
        "of the ERP first and need Customer.receivables. `risk` (derived from three systems, needs Customer.risk) is "
        "checked by the gateway on the CRM's candidates, at most 2,000 of them per page, and counted only when "
        "`totalCount` or `summary` is selected (for at most 2,000 candidates). Cursors are keysets of `orderBy`.",
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
        risk: list[RiskLevel] | None = None,
    ) -> CustomerConnection:
        narrowing = find.Narrowing(
            team=team,
            region=region,
            industry=industry,
            tiers=None if tiers is None else [t.value for t in tiers],
            has_overdue=has_overdue,
            credit_exceeded=credit_exceeded,
            risk=None if risk is None else [level.value for level in risk],
            order=order_of(order_by, find.DEFAULT_ORDER),
            summary=selects(info, "summary"),
            count=selects(info, "totalCount"),
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
        return await availability.atp(info.context, sku, quantity, warehouse, date, path=info.path)

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

    @strawberry.field(
        description="What to buy for given sales orders, items or a quote: gross requirements netted through the "
        "BOM, level by level, against on hand, allocated and in-transit stock (all warehouses when `warehouse` is "
        "null; a quote's warehouse when it has one)."
    )
    async def material_requirements(
        self,
        info: Info,
        orders: list[strawberry.ID] | None = None,
        items: list[MaterialDemandInput] | None = None,
        quote: QuoteInput | None = None,
        warehouse: strawberry.ID | None = None,
    ) -> MaterialRequirements | None:
        return await material_requirements(info, orders, items, quote, warehouse)

    @strawberry.field(description="A supplier (SRM) by its code.")
    async def supplier(self, info: Info, code: strawberry.ID) -> Supplier | None:
        return await info.context.loaders.supplier_by_code.load(code)

    @strawberry.field(description="Every supplier (SRM), or those of `codes` the SRM knows, by code.")
    async def suppliers(self, info: Info, codes: list[strawberry.ID] | None = None) -> list[Supplier]:
        if codes is None:
            return await info.context.loaders.backends.srm.all_suppliers()
        found = await info.context.loaders.supplier_by_code.load_many(sorted(set(codes)))
        return [s for s in found if s is not None]

    @strawberry.field(description="A purchase order (SRM) by its number.")
    async def purchase_order(self, info: Info, number: strawberry.ID) -> PurchaseOrder | None:
        return await info.context.loaders.purchase_order_by_number.load(number)

    @strawberry.field(description="A production order (MES) by its id.")
    async def production_order(self, info: Info, id: strawberry.ID) -> ProductionOrder | None:
        return await info.context.loaders.production_order_by_id.load(id)

    @strawberry.field(description="This year's purchasing budgets per category (SRM).")
    async def budgets(self, info: Info) -> list[Budget] | None:
        return await info.context.loaders.backends.srm.budgets()

    @strawberry.field(description="Alerts for procurement: BUDGET_OVERRUN per category over its budget (SRM).")
    async def procurement_alerts(self, info: Info) -> list[Alert] | None:
        return [
            AlertRecord(
                AlertKind.BUDGET_OVERRUN,
                "HIGH" if procurement.overrun(b) > b.amount / 10 else "MEDIUM",
                f"{b.category}: committed {b.committed} and spent {b.spent} exceed the {b.year} budget {b.amount} "
                f"by {procurement.overrun(b)}.",
                SourceName.SRM,
                b.category,
            )
            for b in await info.context.loaders.backends.srm.budgets()
            if procurement.overrun(b) > 0
        ]

    @strawberry.field(
        description="Stock on hand with no issue for `days` days (or none in the ERP's history), largest value first."
    )
    async def slow_moving_stock(
        self, info: Info, days: int = 180, warehouse: strawberry.ID | None = None
    ) -> list[SlowMovingStock]:
        return await slow_moving_stock(info.context, days, warehouse)
