"""How far a contract has been fulfilled, from the ERP orders that carry its number.

Each ERP order summarises its own shipments, invoices and payments
(`shipped_amount`, `invoiced_amount`, `paid_amount`); a contract's figures are
the sums over its non-cancelled orders. `progress` is the shipped share of the
contract's amount (of the ordered amount when the contract has none), at most 1.

Order amounts are net in every ERP, so ordered, shipped, invoiced and paid are net; the
tax on the ordered, invoiced and paid parts comes from the orders too (`tax_amount`,
`invoiced_tax_amount`, `paid_tax_amount`), and gross = net + tax, so invoiced and paid
gross reconcile with the invoices and the receivables. A tax figure is None when an
order does not carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from resolvers.batches import only
from resolvers.context import Context
from resolvers.money import money, total
from resolvers.relations import orders_of_contracts
from sources.records import Contract, Order, OrderStatus


@dataclass(frozen=True)
class Fulfilment:
    ordered_amount: Decimal
    shipped_amount: Decimal
    invoiced_amount: Decimal
    paid_amount: Decimal
    progress: float | None
    ordered_tax: Decimal | None = None
    invoiced_tax: Decimal | None = None
    paid_tax: Decimal | None = None
    currency: str | None = None

    @property
    def ordered_gross(self) -> Decimal | None:
        return None if self.ordered_tax is None else money(self.ordered_amount + self.ordered_tax)

    @property
    def invoiced_gross(self) -> Decimal | None:
        return None if self.invoiced_tax is None else money(self.invoiced_amount + self.invoiced_tax)

    @property
    def paid_gross(self) -> Decimal | None:
        return None if self.paid_tax is None else money(self.paid_amount + self.paid_tax)


def tax_total(values: list[Decimal | None]) -> Decimal | None:
    return None if any(value is None for value in values) else total(values)


async def fulfilment_of_contract(ctx: Context, contract: Contract) -> Fulfilment:
    return only(await fulfilments_of_contracts(ctx, [contract]))


async def fulfilments_of_contracts(ctx: Context, contracts: list[Contract]) -> list[Any]:
    """Per contract its fulfilment, or the exception that cost it: for a layer of contracts at once."""
    found = await orders_of_contracts(ctx, contracts)
    return [
        orders if isinstance(orders, Exception) else fulfilment_from(contract, orders)
        for contract, orders in zip(contracts, found, strict=True)
    ]


def fulfilment_from(contract: Contract, carrying: list[Order]) -> Fulfilment:
    orders = [o for o in carrying if o.status is not OrderStatus.CANCELLED]
    ordered = total(o.total for o in orders)
    shipped = total(o.shipped_amount for o in orders)
    basis = contract.amount if contract.amount else ordered
    progress = None if not basis else min(1.0, round(float(shipped / basis), 4))
    return Fulfilment(
        ordered_amount=ordered,
        shipped_amount=shipped,
        invoiced_amount=total(o.invoiced_amount for o in orders),
        paid_amount=total(o.paid_amount for o in orders),
        progress=progress,
        ordered_tax=tax_total([o.tax_amount for o in orders]),
        invoiced_tax=tax_total([o.invoiced_tax_amount for o in orders]),
        paid_tax=tax_total([o.paid_tax_amount for o in orders]),
        currency=contract.currency or next((o.currency for o in orders if o.currency), None),
    )
