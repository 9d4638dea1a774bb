"""The quote screen and the kitting analysis: thin types over `resolvers.quote` and `resolvers.kitting`.

The resolvers load everything a quote needs up front (concurrently, batched), so no field
here loads anything: plain figures are plain attributes, and the few fields that may have
failed (a line's product, cost or availability, the credit check) are small synchronous
resolvers that return the value or raise the error that cost it, at their own path.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry import Info

from resolvers import kitting
from resolvers import quote as quoting
from resolvers.errors import value_or_raise as unwrap
from schema.customer import Customer
from schema.derived import derived_from
from schema.lookahead import selects
from schema.product import Availability, Product

# --- input -----------------------------------------------------------------------


@strawberry.input(description="One line of a draft quote.")
class QuoteLineInput:
    sku: strawberry.ID
    quantity: Decimal = strawberry.field(description="Positive; at most 1,000,000,000.")
    unit_price: Decimal = strawberry.field(description="Positive, in EUR; at most 1,000,000,000,000.")
    requested_date: dt.date | None = strawberry.field(
        default=None, description="When the customer wants the line (not in the past); today when null."
    )


@strawberry.input(description="A draft quote: 1 to 200 lines for one customer.")
class QuoteInput:
    customer_id: strawberry.ID = strawberry.field(description="The CRM customer id.")
    currency: str | None = strawberry.field(
        default=None,
        description="EUR (the ERP's only currency) or null; the gateway does not convert, other currencies are refused.",
    )
    lines: list[QuoteLineInput]
    warehouse: strawberry.ID | None = strawberry.field(
        default=None, description="Check availability in this warehouse; in all warehouses together when null."
    )


# --- quote -------------------------------------------------------------------------


def _line_known(line: quoting.QuoteLine) -> None:
    if line.error is not None:
        raise line.error


def _line_cost(line: quoting.QuoteLine) -> None:
    _line_known(line)
    if line.cost_error is not None:
        raise line.cost_error


@strawberry.type(
    description="One evaluated quote line. A line whose SKU is unknown has null product, cost and availability, each with a NOT_FOUND error at its path."
)
class QuoteLineEvaluation:
    sku: strawberry.ID
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal = strawberry.field(description="Net: quantity x unitPrice, in cents (half-up), before tax.")
    requested_date: dt.date = strawberry.field(
        description="The date the availability is checked for: the requested date, else today."
    )

    @strawberry.field(description="Net: the same as `amount`.")
    def net_amount(self) -> Decimal:
        return self.amount

    @strawberry.field(description="Tax: amount x the product's tax rate in the ERP, in cents (half-up).")
    def tax_amount(self) -> Decimal | None:
        _line_known(self)
        unwrap(self.tax_error)
        return self.tax_amount

    @strawberry.field(description="Gross: netAmount + taxAmount.")
    def gross_amount(self) -> Decimal | None:
        _line_known(self)
        unwrap(self.tax_error)
        return self.gross_amount

    @strawberry.field
    def product(self) -> Product | None:
        _line_known(self)
        return unwrap(self.product)

    @strawberry.field(
        description="Rolled-up BOM cost where the product has a BOM, else its standard cost.",
        metadata=derived_from("Product.rolledUpCost", "Product.standardCost"),
    )
    def unit_cost(self) -> Decimal | None:
        _line_cost(self)
        return self.unit_cost

    @strawberry.field(
        description="(amount - unitCost x quantity) / amount x 100. With a price the caller chooses it is the cost, "
        "so it is answered only to callers who may read unitCost.",
        metadata=derived_from("QuoteLineEvaluation.unitCost"),
    )
    def margin_pct(self) -> float | None:
        _line_cost(self)
        return self.margin_pct

    @strawberry.field(
        description="ATP for this line's quantity, at the quote's warehouse (all when null), by requestedDate."
    )
    def availability(self) -> Availability | None:
        _line_known(self)
        return unwrap(self.availability)


@strawberry.type
class CreditCheck:
    currency: str | None
    credit_limit: Decimal | None = strawberry.field(
        description="From the ERP; null when the customer has no limit there."
    )
    credit_used: Decimal | None = strawberry.field(
        description="Open receivables + confirmed, not yet invoiced orders (before this quote), on `basis`."
    )
    basis: str | None = strawberry.field(
        description="GROSS (the default) or NET: the basis of every credit figure here."
    )
    quote_amount: Decimal | None = strawberry.field(
        description="This quote on `basis`: its totalGross or its totalNet."
    )
    credit_available: Decimal | None = strawberry.field(description="creditLimit - creditUsed (before this quote).")
    credit_used_with_quote: Decimal | None = strawberry.field(
        description="creditUsed + this quote on the same basis (totalGross on GROSS, totalNet on NET)."
    )
    exceeded_by: Decimal | None = strawberry.field(
        description="How much creditUsedWithQuote is over the limit (0 when within); null without a limit."
    )
    ok: bool = strawberry.field(description="This quote fits within the credit limit.")


# Whether a quote needs approval moves with its price across the margin and credit
# thresholds: a caller who can vary the price can search for the cost and the credit
# available. So the approval is answered only to callers who may read both, or whose role
# the policy lets learn them this way (a `derive` line: a rep learns the price floor).
APPROVAL_SOURCES = derived_from("QuoteEvaluation.cost", "QuoteEvaluation.credit")


@strawberry.type
class Approval:
    required: bool = strawberry.field(metadata=APPROVAL_SOURCES)
    level: str | None = strawberry.field(
        description="The highest level any applying rule asks for (levels as in policies/approvals.toml), null when none.",
        metadata=APPROVAL_SOURCES,
    )
    reasons: list[str] = strawberry.field(
        description="Every applying rule, in words, with the numbers the caller may read.", metadata=APPROVAL_SOURCES
    )


@strawberry.type(
    description="A draft quote priced live. Totals, cost, margin, credit check and complete date cover the valid lines (see invalidLines)."
)
class QuoteEvaluation:
    currency: str = strawberry.field(description="The currency of every amount: EUR.")
    warehouse: strawberry.ID | None
    lines: list[QuoteLineEvaluation]
    invalid_lines: list[int] = strawberry.field(
        description="Indexes (0-based, as in `lines`) of the lines left out of the totals because their SKU is unknown."
    )
    total: Decimal = strawberry.field(description="Net: the valid lines' amounts, before tax.")
    approval: Approval

    @strawberry.field(description="Net: the same as `total`.")
    def total_net(self) -> Decimal:
        return self.total

    @strawberry.field(description="Tax: the valid lines' taxAmount.")
    def total_tax(self) -> Decimal | None:
        unwrap(self.tax_error)
        return self.total_tax

    @strawberry.field(description="Gross: totalNet + totalTax, what the customer would pay.")
    def total_gross(self) -> Decimal | None:
        unwrap(self.tax_error)
        return self.total_gross

    @strawberry.field
    def customer(self) -> Customer | None:
        return unwrap(self.customer)

    @strawberry.field(
        description="Sum of the valid lines' costs; null when one of them is unknown.",
        metadata=derived_from("QuoteLineEvaluation.unitCost"),
    )
    def cost(self) -> Decimal | None:
        unwrap(self.cost_error)
        return self.cost

    @strawberry.field(description="total - cost.", metadata=derived_from("QuoteEvaluation.cost"))
    def margin(self) -> Decimal | None:
        unwrap(self.cost_error)
        return self.margin

    @strawberry.field(
        description="margin / total x 100; answered only to callers who may read the cost (see lines.marginPct).",
        metadata=derived_from("QuoteEvaluation.cost"),
    )
    def margin_pct(self) -> float | None:
        unwrap(self.cost_error)
        return self.margin_pct

    @strawberry.field(metadata=derived_from("Customer.receivables"))
    def credit(self) -> CreditCheck | None:
        return unwrap(self.credit)

    @strawberry.field(description="The latest of the lines' promise dates; null when a line cannot be promised.")
    def earliest_complete_date(self) -> dt.date | None:
        unwrap(self.date_error)
        return self.earliest_complete_date


async def evaluate_quote(info: Info, input: QuoteInput) -> quoting.QuoteEvaluation:
    approval = selects(info, "approval")
    wants = quoting.Wants(
        stock=selects(info, "lines.availability") or selects(info, "earliestCompleteDate"),
        credit=selects(info, "credit"),
        approval=approval,
    )
    return await quoting.evaluate(
        info.context,
        customer_id=input.customer_id,
        lines=input.lines,
        currency=input.currency,
        warehouse=input.warehouse,
        wants=wants,
        path=info.path,
    )


# --- kitting -----------------------------------------------------------------------


@strawberry.type(
    description="One direct component of a kit: what the asked kits need of it and what is available by the date."
)
class Shortage:
    required: Decimal = strawberry.field(description="Kits asked x quantityPerKit.")
    available: Decimal = strawberry.field(
        description="ATP by the date, as `Availability.available`: the least projected quantity (on hand - allocated "
        "+ planned movements) over the date and every later planned date; negative when open orders already need more."
    )
    missing: Decimal = strawberry.field(description="required - available when positive, else 0: what to buy or make.")
    quantity_per_kit: Decimal
    buildable_quantity: Decimal = strawberry.field(description="Whole kits this component alone allows.")

    @strawberry.field
    def component(self, info: Info) -> Product | None:
        return info.context.loaders.product_by_sku.load_now(self.component_sku)


@strawberry.type(
    description="Can `quantity` kits be built from their direct components' stock by `date`? (One BOM level: sub-assemblies count with their own stock.)"
)
class KittingAnalysis:
    sku: strawberry.ID
    quantity: Decimal
    warehouse: strawberry.ID | None
    date: dt.date = strawberry.field(description="The date availability is counted by: the asked date, else today.")
    buildable_quantity: Decimal = strawberry.field(description="Whole kits the available components allow.")
    complete: bool = strawberry.field(description="buildableQuantity covers quantity: no component is missing.")
    shortages: list[Shortage] = strawberry.field(description="The components with something missing.")
    components: list[Shortage] = strawberry.field(description="Every direct component, short or not.")

    @strawberry.field
    def product(self, info: Info) -> Product | None:
        return info.context.loaders.product_by_sku.load_now(self.sku)


async def kitting_analysis(
    info: Info, sku: str, quantity: Decimal, warehouse: str | None, date: dt.date | None
) -> kitting.KittingAnalysis:
    return await kitting.buildable(info.context, sku, quantity, warehouse, date, path=info.path)
