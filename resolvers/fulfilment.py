"""How far a contract has been fulfilled, from the ERP orders that carry its number.

Each ERP order summarises its own shipments, invoices and payments
(`shipped_amount`, `invoiced_amount`, `paid_amount`); a contract's figures are
the sums over its non-cancelled orders. `progress` is the shipped share of the
contract's amount (of the ordered amount when the contract has none), at most 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sources.records import Contract, OrderStatus

from resolvers.context import Context
from resolvers.money import total
from resolvers.relations import orders_of_contract


@dataclass(frozen=True)
class Fulfilment:
    ordered_amount: Decimal
    shipped_amount: Decimal
    invoiced_amount: Decimal
    paid_amount: Decimal
    progress: float | None


async def fulfilment_of_contract(ctx: Context, contract: Contract) -> Fulfilment:
    orders = [o for o in await orders_of_contract(ctx, contract) if o.status is not OrderStatus.CANCELLED]
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
    )
