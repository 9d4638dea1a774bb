"""Pricing a draft quote live: per line amount, cost, margin and ATP; totals, credit check, approval.

- Amount of a line = quantity x unit price (cents, half-up). Unit cost = the BOM
  roll-up where the product has a BOM, else its standard cost (`costing.roll_up`
  does both). Margin = amount - unit cost x quantity; margin % = margin / amount x 100.
- Availability of a line: ATP for the line's quantity, at the quote's warehouse (all
  when null), by the line's requested date (today when null): `availability.compute`,
  line by line, each line on its own (two lines of one SKU do not share the stock).
- A line whose SKU the ERP does not know fails on its own: its product, cost, margin and
  availability are errors (NOT_FOUND) at that line's path, its index is in
  `invalid_lines`, and the totals, cost, margin, credit check and complete date cover
  the other lines.
- earliest complete date = the latest of the lines' promise dates; None when a line
  cannot be promised.
- Tax: a line's tax = its amount x its product's tax rate in the ERP (none when the ERP
  has none for it), to the cent; the quote's tax is the sum, gross = net + tax. Amounts
  and `total` are net.
- Credit check: credit used (open receivables + the not yet invoiced part of open
  orders, as `receivables`, on its basis: gross by default) + this quote on the same
  basis (its gross, or its net) against the ERP credit limit.
- Approval: the rules in `policies/approvals.toml` (see `approvals`).
- Currency: the ERP prices in EUR only and the gateway does not convert, so a quote in
  another currency is a BAD_USER_INPUT error.

Loading: every look-up goes through the request's loaders. The customer (CRM), the lines'
products and BOMs (ERP, level by level for all lines together) and their stock (ERP) are
started together; the credit and risk data follow the customer as soon as its ERP and desk
refs are known. So a quote costs one backend call per source method per level, whatever
its number of lines. Figures a backend could not supply are errors at the fields that
need them; the rest of the quote stands.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from resolvers import approvals, availability, customers
from resolvers.approvals import Approval, CreditFacts, Facts
from resolvers.availability import Availability
from resolvers.context import Context
from resolvers.costing import BomTree, explode_many, roll_up
from resolvers.errors import BadUserInput, Failure, GatewayError, NotFound, expected, value_or_raise
from resolvers.money import ZERO, money, total
from resolvers.receivables import Receivables, receivables_of_customer
from resolvers.risk import RiskLevel, risk_of_customer
from resolvers.supply_dates import report, supplied_stock
from sources import SourceError
from sources.records import Customer, Stock

MAX_LINES = 200
MAX_QUANTITY = Decimal(1_000_000_000)
MAX_UNIT_PRICE = Decimal(1_000_000_000_000)
ERP_CURRENCY = "EUR"
MAX_PROBLEMS_LISTED = 10


class LineInput(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def requested_date(self) -> dt.date | None: ...


@dataclass(frozen=True)
class Wants:
    """What the query reads, so a quote loads no more than it needs."""

    stock: bool = True  # line availability, earliest complete date
    credit: bool = True  # the credit check
    approval: bool = True  # needs costs, credit and risk


@dataclass(frozen=True)
class CreditCheck:
    currency: str
    credit_limit: Decimal | None
    credit_used: Decimal
    credit_available: Decimal | None
    credit_used_with_quote: Decimal
    exceeded_by: Decimal | None
    ok: bool
    has_account: bool
    basis: str = "GROSS"
    quote_amount: Decimal = ZERO  # the quote on the basis: its gross or its net


@dataclass(frozen=True)
class QuoteLine:
    """One evaluated line. `error` (unknown SKU) fails every figure that needs the product;
    `product`, `availability` may hold the exception that cost them; `cost_error` the
    one that cost the unit cost."""

    index: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    requested_date: dt.date
    error: NotFound | None
    product: Any
    unit_cost: Decimal | None
    cost_error: Exception | None
    availability: Availability | Exception | None
    tax_amount: Decimal | None = None
    tax_error: Exception | None = None

    @property
    def gross_amount(self) -> Decimal | None:
        return None if self.tax_amount is None else money(self.amount + self.tax_amount)

    @property
    def cost(self) -> Decimal | None:
        return None if self.unit_cost is None else money(self.unit_cost * self.quantity)

    @property
    def margin(self) -> Decimal | None:
        cost = self.cost
        return None if cost is None else self.amount - cost

    @property
    def margin_pct(self) -> float | None:
        margin = self.margin
        return None if margin is None else percent(margin, self.amount)


@dataclass(frozen=True)
class QuoteEvaluation:
    customer: Customer | Exception
    currency: str
    warehouse: str | None
    lines: list[QuoteLine]
    invalid_lines: list[int]
    total: Decimal
    cost: Decimal | None
    cost_error: Exception | None
    credit: CreditCheck | Exception | None
    earliest_complete_date: dt.date | None
    date_error: Exception | None
    approval: Approval | None
    total_tax: Decimal | None = None
    tax_error: Exception | None = None

    @property
    def total_gross(self) -> Decimal | None:
        return None if self.total_tax is None else money(self.total + self.total_tax)

    @property
    def margin(self) -> Decimal | None:
        return None if self.cost is None else self.total - self.cost

    @property
    def margin_pct(self) -> float | None:
        margin = self.margin
        return None if margin is None or self.total <= 0 else percent(margin, self.total)


def percent(part: Decimal, whole: Decimal) -> float | None:
    if whole <= 0:
        return None
    return float((part * 100 / whole).quantize(Decimal("0.01")))


def exact_percent(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole <= 0 else part * 100 / whole


# --- input rules -------------------------------------------------------------------


def check_input(ctx: Context, lines: Sequence[LineInput], currency: str | None) -> str:
    """The quote's currency; BadUserInput naming every line that breaks a rule."""
    if currency is not None and currency.strip().upper() != ERP_CURRENCY:
        raise BadUserInput(
            f"Quotes are priced in {ERP_CURRENCY}, the ERP's only currency, and the gateway does not convert: "
            f"currency {currency!r} is not supported. Leave `currency` out or send {ERP_CURRENCY!r}."
        )
    if not lines:
        raise BadUserInput("A quote needs at least one line.")
    if len(lines) > MAX_LINES:
        raise BadUserInput(f"A quote may have at most {MAX_LINES} lines, got {len(lines)}.")
    problems: list[str] = []
    for index, line in enumerate(lines):
        for name, value, limit in (
            ("quantity", line.quantity, MAX_QUANTITY),
            ("unitPrice", line.unit_price, MAX_UNIT_PRICE),
        ):
            if not value.is_finite() or value <= 0:
                problems.append(f"lines[{index}].{name} must be a positive number, got {value}")
            elif value > limit:
                problems.append(f"lines[{index}].{name} must be at most {limit}, got {value}")
        if line.requested_date is not None and line.requested_date < ctx.today:
            problems.append(
                f"lines[{index}].requestedDate {line.requested_date.isoformat()} is in the past (today is {ctx.today.isoformat()}, UTC)"
            )
    if problems:
        listed = "; ".join(problems[:MAX_PROBLEMS_LISTED])
        more = f"; and {len(problems) - MAX_PROBLEMS_LISTED} more" if len(problems) > MAX_PROBLEMS_LISTED else ""
        raise BadUserInput(f"The quote's input breaks its rules: {listed}{more}.")
    return ERP_CURRENCY


# --- loading -----------------------------------------------------------------------


@dataclass
class CustomerSide:
    customer: Customer | Exception
    receivables: Receivables | Exception | None = None
    risk: str | Exception | None = None


async def load_customer_side(ctx: Context, customer_id: str, wants: Wants) -> CustomerSide:
    """The CRM customer, then its credit and risk data. An unknown customer is NOT_FOUND."""
    try:
        customer = await customers.customer_by_id(ctx, customer_id)
    except SourceError as exc:
        return CustomerSide(customer=exc)
    receivables, risk = await asyncio.gather(
        receivables_of_customer(ctx, customer) if wants.credit or wants.approval else _none(),
        risk_of_customer(ctx, customer) if wants.approval else _none(),
        return_exceptions=True,
    )
    side = CustomerSide(customer=customer, receivables=expected(receivables))
    level = expected(risk)
    side.risk = level.value if isinstance(level, RiskLevel) else level
    return side


async def _none() -> None:
    return None


async def load_stock(
    ctx: Context, skus: list[str], warehouse: str | None, path: object = None
) -> dict[str, list[Stock] | Failure]:
    """Stock rows per SKU (or the exception that cost them), receipts dated by the SRM and MES (their
    failures reported at `path`, those receipts on the ERP's dates); an unknown warehouse is BAD_USER_INPUT."""
    checked_answer, (stock, failures) = await asyncio.gather(
        availability.check_warehouse(ctx, warehouse), supplied_stock(ctx, skus)
    )
    report(ctx, path, failures)
    checked = expected(checked_answer)
    if isinstance(checked, GatewayError):
        raise checked
    if isinstance(checked, SourceError):  # the warehouse could not be verified: no availability either
        return {sku: checked for sku in skus}
    return stock


async def evaluate(
    ctx: Context,
    *,
    customer_id: str,
    lines: Sequence[LineInput],
    currency: str | None = None,
    warehouse: str | None = None,
    wants: Wants = Wants(),
    path: object = None,
) -> QuoteEvaluation:
    currency = check_input(ctx, lines, currency)
    skus = list(dict.fromkeys(line.sku for line in lines))
    # Everything that does not depend on another answer starts now, together.
    side, tree, stock = await asyncio.gather(
        load_customer_side(ctx, customer_id, wants),
        explode_many(ctx, skus),
        load_stock(ctx, skus, warehouse, path) if wants.stock else _nothing(),
        return_exceptions=True,
    )
    # an unknown customer or warehouse fails the quote; every sibling has finished
    side, tree, stock = value_or_raise(side), value_or_raise(tree), value_or_raise(stock)
    evaluated = [evaluate_line(ctx, index, line, tree, stock, warehouse, wants) for index, line in enumerate(lines)]
    return summarise(ctx, customer_id, currency, warehouse, side, evaluated, wants)


async def _nothing() -> dict[str, list[Stock] | Failure]:
    return {}


def evaluate_line(
    ctx: Context,
    index: int,
    line: LineInput,
    tree: BomTree,
    stock: dict[str, list[Stock] | Failure],
    warehouse: str | None,
    wants: Wants,
) -> QuoteLine:
    sku = line.sku
    amount = money(line.quantity * line.unit_price)
    on = line.requested_date or ctx.today
    product = tree.products[sku] if sku in tree.products else tree.failed.get(sku)
    error = None
    if product is None:
        error = NotFound(f"No product with SKU {sku!r}; this line is left out of the quote's totals.")
    unit_cost, cost_error = None, None
    tax_amount, tax_error = None, None
    if product is not None:  # (no error)
        if isinstance(product, BaseException):
            tax_error = product
        else:
            tax_amount = money(amount * (product.tax_rate or ZERO))
        try:
            unit_cost = roll_up(sku, tree)
        except (GatewayError, SourceError) as exc:
            cost_error = exc
    line_availability: Availability | Exception | None = None
    if wants.stock and error is None:
        rows = stock[sku]
        if isinstance(rows, BaseException):
            line_availability = rows
        else:
            line_availability = availability.compute(
                sku, rows, warehouse=warehouse, on=on, quantity=line.quantity, today=ctx.today
            )
    return QuoteLine(
        index=index,
        sku=sku,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=amount,
        requested_date=on,
        error=error,
        product=product,
        unit_cost=unit_cost,
        cost_error=cost_error,
        availability=line_availability,
        tax_amount=tax_amount,
        tax_error=tax_error,
    )


def summarise(
    ctx: Context,
    customer_id: str,
    currency: str,
    warehouse: str | None,
    side: CustomerSide,
    lines: list[QuoteLine],
    wants: Wants,
) -> QuoteEvaluation:
    valid = [line for line in lines if line.error is None]
    quote_total = total(line.amount for line in valid)

    cost_error = next((line.cost_error for line in valid if line.cost_error is not None), None)
    unknown_cost = next((line for line in valid if line.cost_error is not None or line.unit_cost is None), None)
    cost = None if unknown_cost is not None else total(line.cost for line in valid)

    earliest, date_error = None, None
    if wants.stock and valid:
        date_error = next((line.availability for line in valid if isinstance(line.availability, BaseException)), None)
        dates = [line.availability.promise_date for line in valid if isinstance(line.availability, Availability)]
        known = [date for date in dates if date is not None]
        if date_error is None and len(known) == len(dates):
            earliest = max(known)

    tax_error = next((line.tax_error for line in valid if line.tax_error is not None), None)
    total_tax = None if tax_error is not None else total(line.tax_amount for line in valid)
    on_basis: Decimal | Exception
    if ctx.credit_basis == "net":
        on_basis = quote_total
    elif tax_error is not None:
        on_basis = tax_error
    else:
        on_basis = money(quote_total + total(line.tax_amount for line in valid))
    credit = (
        credit_check(side, on_basis, currency, ctx.credit_basis.upper()) if wants.credit or wants.approval else None
    )

    approval = None
    if wants.approval:
        approval = approvals.decide(
            ctx.approval_rules.current(),
            facts(customer_id, side, credit, quote_total, cost, unknown_cost, valid, currency),
            # Reasons quote figures only to callers who may read them.
            show_margin=ctx.can_read("QuoteEvaluation.marginPct"),
            show_credit=ctx.can_read("QuoteEvaluation.credit"),
        )
    return QuoteEvaluation(
        customer=side.customer,
        currency=currency,
        warehouse=warehouse,
        lines=lines,
        invalid_lines=[line.index for line in lines if line.error is not None],
        total=quote_total,
        cost=cost,
        cost_error=cost_error,
        credit=credit,
        earliest_complete_date=earliest,
        date_error=date_error,
        approval=approval,
        total_tax=total_tax,
        tax_error=tax_error,
    )


def credit_check(
    side: CustomerSide, quote_amount: Decimal | Exception, currency: str, basis: str = "GROSS"
) -> CreditCheck | Exception:
    """`quote_amount`: the quote on the credit basis (or the error that cost its tax)."""
    if isinstance(side.customer, BaseException):
        return side.customer
    receivables = side.receivables
    if isinstance(receivables, BaseException):
        return receivables
    if isinstance(quote_amount, BaseException):
        return quote_amount
    used = receivables.credit_used if receivables is not None else ZERO
    limit = receivables.credit_limit if receivables is not None else None
    with_quote = money(used + quote_amount)
    exceeded_by = None if limit is None else max(ZERO, money(with_quote - limit))
    return CreditCheck(
        currency=(receivables.currency if receivables is not None else None) or currency,
        credit_limit=limit,
        credit_used=used,
        credit_available=None if limit is None else money(limit - used),
        credit_used_with_quote=with_quote,
        exceeded_by=exceeded_by,
        ok=exceeded_by is not None and exceeded_by == 0,
        has_account=receivables is not None,
        basis=basis,
        quote_amount=quote_amount,
    )


def why(exc: BaseException) -> str:
    if isinstance(exc, SourceError):
        return f"{exc.source} {exc.describe}"
    return str(exc).rstrip(".")


def facts(
    customer_id: str,
    side: CustomerSide,
    credit: CreditCheck | Exception | None,
    quote_total: Decimal,
    cost: Decimal | None,
    unknown_cost: QuoteLine | None,
    valid: list[QuoteLine],
    currency: str,
) -> Facts:
    margin_pct, margin_unknown = None, None
    if unknown_cost is not None:
        cause = unknown_cost.cost_error
        margin_unknown = (
            f"the cost of {unknown_cost.sku} is unknown: {why(cause)}"
            if cause is not None
            else f"the ERP has no cost for {unknown_cost.sku}"
        )
    elif cost is not None and valid:
        margin_pct = exact_percent(quote_total - cost, quote_total)

    credit_facts, credit_unknown = None, None
    if isinstance(credit, CreditCheck):
        credit_facts = CreditFacts(
            limit=credit.credit_limit,
            used=credit.credit_used,
            quote=credit.quote_amount,
            exceeded_by=credit.exceeded_by,
            currency=credit.currency,
            has_account=credit.has_account,
            basis=credit.basis,
        )
    elif isinstance(credit, BaseException):
        credit_unknown = why(credit)

    risk, risk_unknown = None, None
    if isinstance(side.customer, BaseException):
        risk_unknown = why(side.customer)
    elif isinstance(side.risk, BaseException):
        risk_unknown = why(side.risk)
    else:
        risk = side.risk
    return Facts(
        customer_id=customer_id,
        margin_pct=margin_pct,
        margin_unknown=margin_unknown,
        credit=credit_facts,
        credit_unknown=credit_unknown,
        risk=risk,
        risk_unknown=risk_unknown,
    )
