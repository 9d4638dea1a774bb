"""Material requirements: what to buy so that given demand can be met, netted level by level through the BOM.

**Demand** (the gross requirements of the demanded items): the open quantity (ordered - shipped)
of the lines of given sales orders (draft, confirmed or processing), needed by the order's
promised date; SKUs with a quantity and a need-by date; a draft quote's lines by their requested
dates. A date left out is today.

**Netting**, per SKU over `warehouse` (all warehouses together when null), the items taken by
low-level code (the deepest BOM level at which an item appears under the demanded items), so an
item's gross requirements from all its parents are complete before it is netted:

- available = on hand - allocated + in transit (ERP stock, SRM). *Allocated* is the ERP's
  allocation less that of the given sales orders themselves (confirmed and processing ones in the
  warehouse): their demand is the gross requirement, and counting it as allocated too would count
  it twice. *In transit* is the open quantity (ordered - received) of the SKU's lines on open SRM
  purchase orders (into the warehouse): orders placed with a supplier, whatever date it confirmed.
- The gross requirements, earliest first, take what is available (nothing when it is negative:
  stock other orders already lack is theirs to chase, see their delivery risk); what is left is the
  net requirement, and `need_by` is the date of the first requirement not covered.
- An item with a BOM passes its net requirement down: each requirement left uncovered, times the
  BOM quantity, becomes a gross requirement of each component on the same date.
- An item without a BOM is bought: its net requirement is the suggested purchase quantity, with the
  preferred supplier (SRM supplier items, the preferred one first), its lead time, and the latest
  day to order (`need_by` - lead time; before today: `late`).

Backend calls: the BOMs level by level (ERP), then the stock (ERP), the open purchase orders and
the supplier items (SRM) of every item at once, whatever the number of items and levels. With the
ERP or the SRM unavailable there is no answer (SOURCE_UNAVAILABLE naming it): a netting without the
stock in transit would suggest buying it a second time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from resolvers import availability, lookups
from resolvers import quote as quoting
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound
from resolvers.money import ZERO, money
from sources.records import BomLine, Order, OrderStatus, PurchaseOrder, Stock, SupplierItem

MAX_ORDERS = 100
MAX_ITEMS = 200
ALLOCATING = frozenset({OrderStatus.CONFIRMED, OrderStatus.PROCESSING})  # the ERP allocates stock to these
DEMANDING = ALLOCATING | {OrderStatus.DRAFT}
OPEN_PO = frozenset({"OPEN", "PARTIALLY_RECEIVED"})


class Demand(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def need_by(self) -> dt.date | None: ...


class QuoteDemand(Protocol):
    @property
    def lines(self) -> Sequence[quoting.LineInput]: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def warehouse(self) -> str | None: ...


@dataclass(frozen=True)
class Requirement:
    sku: str
    level: int  # the low-level code: 0 for a demanded item that is no one's component here
    make: bool  # has a BOM: made from its components, not bought
    gross_requirement: Decimal
    on_hand: Decimal
    allocated: Decimal  # to orders other than the given ones
    in_transit: Decimal
    available: Decimal  # on hand - allocated + in transit; may be negative
    net_requirement: Decimal
    need_by: dt.date | None  # the first requirement not covered
    supplier: SupplierItem | None  # the preferred offer, for a bought item
    today: dt.date

    @property
    def suggested_purchase_quantity(self) -> Decimal:
        return ZERO if self.make else self.net_requirement

    @property
    def lead_time_days(self) -> int | None:
        return None if self.supplier is None else self.supplier.lead_time_days

    @property
    def order_by(self) -> dt.date | None:
        if self.make or self.need_by is None or self.lead_time_days is None or not self.net_requirement:
            return None
        return self.need_by - dt.timedelta(days=self.lead_time_days)

    @property
    def late(self) -> bool:
        return self.order_by is not None and self.order_by < self.today


@dataclass(frozen=True)
class MaterialRequirements:
    warehouse: str | None
    date: dt.date
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def purchases(self) -> list[Requirement]:
        return [r for r in self.requirements if r.suggested_purchase_quantity > 0]


def preferred(offers: list[SupplierItem]) -> SupplierItem | None:
    return next((o for o in offers if o.preferred), offers[0] if offers else None)


def in_transit(sku: str, orders: list[PurchaseOrder], warehouse: str | None) -> Decimal:
    return sum(
        (
            max(ZERO, line.quantity - line.received_quantity)
            for order in orders
            if order.status in OPEN_PO
            for line in order.lines
            if line.sku == sku and (warehouse is None or line.warehouse == warehouse)
        ),
        ZERO,
    )


def cover(requirements: list[tuple[dt.date, Decimal]], free: Decimal) -> list[tuple[dt.date, Decimal]]:
    """What `free` leaves uncovered of `requirements`, taken earliest first."""
    left = max(free, ZERO)
    uncovered = []
    for day, quantity in sorted(requirements, key=lambda r: r[0]):
        taken = min(left, quantity)
        left -= taken
        if quantity > taken:
            uncovered.append((day, quantity - taken))
    return uncovered


def net(
    demand: dict[str, list[tuple[dt.date, Decimal]]],
    boms: dict[str, list[BomLine]],
    stock: dict[str, list[Stock]],
    orders: dict[str, list[PurchaseOrder]],
    offers: dict[str, list[SupplierItem]],
    own_allocation: dict[str, Decimal],
    *,
    warehouse: str | None,
    today: dt.date,
) -> list[Requirement]:
    """The netting of the module, on loaded data: one requirement per item, by level then SKU."""
    levels = low_level_codes(list(demand), boms)
    gross: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for sku, wanted in demand.items():
        gross[sku].extend(wanted)
    result = []
    for sku in sorted(levels, key=lambda s: (levels[s], s)):
        rows = [row for row in stock[sku] if warehouse is None or row.warehouse == warehouse]
        on_hand = sum((row.on_hand for row in rows), ZERO)
        allocated = sum((row.allocated for row in rows), ZERO) - own_allocation.get(sku, ZERO)
        coming = in_transit(sku, orders[sku], warehouse)
        free = on_hand - allocated + coming
        uncovered = cover(gross[sku], free)
        per_parent: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for line in boms[sku]:
            per_parent[line.component_sku] += line.quantity
        for component, per_unit in per_parent.items():
            gross[component].extend((day, quantity * per_unit) for day, quantity in uncovered)
        result.append(
            Requirement(
                sku=sku,
                level=levels[sku],
                make=bool(boms[sku]),
                gross_requirement=money(sum((q for _, q in gross[sku]), ZERO)),
                on_hand=on_hand,
                allocated=allocated,
                in_transit=coming,
                available=free,
                net_requirement=money(sum((q for _, q in uncovered), ZERO)),
                need_by=uncovered[0][0] if uncovered else None,
                supplier=None if boms[sku] else preferred(offers[sku]),
                today=today,
            )
        )
    return result


def low_level_codes(demanded: list[str], boms: dict[str, list[BomLine]]) -> dict[str, int]:
    """Per item the deepest level at which it appears under the demanded items (BOMs have no cycles)."""
    levels: dict[str, int] = {}
    frontier = {sku: 0 for sku in demanded}
    while frontier:
        below: dict[str, int] = {}
        for sku, level in frontier.items():
            if levels.get(sku, -1) >= level:
                continue
            levels[sku] = level
            for line in boms[sku]:
                below[line.component_sku] = max(below.get(line.component_sku, 0), level + 1)
        frontier = below
    return levels


async def load_boms(ctx: Context, skus: list[str]) -> dict[str, list[BomLine]]:
    """Every BOM under `skus`, one level of the trees at a time (one ERP call per level)."""
    boms: dict[str, list[BomLine]] = {}
    wanted = list(dict.fromkeys(skus))
    while wanted:
        found = await asyncio.gather(*(ctx.loaders.bom_by_sku.load(sku) for sku in wanted))
        boms.update(zip(wanted, found, strict=True))
        wanted = list(
            dict.fromkeys(line.component_sku for lines in found for line in lines if line.component_sku not in boms)
        )
    return boms


async def load_by_sku(loader: Any, skus: list[str]) -> dict[str, list[Any]]:
    found = await asyncio.gather(*(loader.load(sku) for sku in skus))
    return dict(zip(skus, found, strict=True))


def check_demand(items: Sequence[Demand], orders: Sequence[str]) -> None:
    if len(orders) > MAX_ORDERS:
        raise BadUserInput(f"At most {MAX_ORDERS} orders, got {len(orders)}.")
    if len(items) > MAX_ITEMS:
        raise BadUserInput(f"At most {MAX_ITEMS} items, got {len(items)}.")
    bad = [
        f"items[{i}].quantity" for i, item in enumerate(items) if not item.quantity.is_finite() or item.quantity <= 0
    ]
    if bad:
        raise BadUserInput(f"Quantities must be positive numbers: {', '.join(bad)}.")


def order_demand(
    order_list: list[Order], warehouse: str | None, today: dt.date
) -> tuple[list[tuple[str, dt.date, Decimal]], dict[str, Decimal]]:
    """The open lines of the orders as (sku, date, quantity), and per SKU what the ERP allocated to them."""
    wanted: list[tuple[str, dt.date, Decimal]] = []
    own: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for order in order_list:
        if order.status not in DEMANDING:
            continue
        for line in order.lines:
            open_quantity = line.quantity - (line.shipped_quantity or ZERO)
            if open_quantity <= 0:
                continue
            wanted.append((line.sku, order.promised_date or today, open_quantity))
            if order.status in ALLOCATING and (warehouse is None or order.warehouse == warehouse):
                own[line.sku] += open_quantity
    return wanted, own


async def material_requirements(
    ctx: Context,
    *,
    orders: Sequence[str] = (),
    items: Sequence[Demand] = (),
    quote: QuoteDemand | None = None,
    warehouse: str | None = None,
) -> MaterialRequirements:
    """`Query.materialRequirements`; an order the caller may not see is refused like an unknown one."""
    today = ctx.today
    if not orders and not items and quote is None:
        raise BadUserInput("Give the demand: orders, items or a quote.")
    check_demand(items, orders)
    if quote is not None:
        quoting.check_input(ctx, quote.lines, quote.currency)
        warehouse = warehouse or quote.warehouse
    wanted = [(item.sku, item.need_by or today, item.quantity) for item in items]
    if quote is not None:
        wanted += [(line.sku, line.requested_date or today, line.quantity) for line in quote.lines]
    found, _ = await asyncio.gather(
        asyncio.gather(*(lookups.order_by_id(ctx, order_id) for order_id in dict.fromkeys(orders))),
        availability.check_warehouse(ctx, warehouse),
    )
    from_orders, own = order_demand(list(found), warehouse, today)
    wanted += from_orders
    demanded = list(dict.fromkeys(sku for sku, _, _ in wanted))
    products = await asyncio.gather(*(ctx.loaders.product_by_sku.load(sku) for sku in demanded))
    unknown = [sku for sku, product in zip(demanded, products, strict=True) if product is None]
    if unknown:
        raise NotFound(f"No product with SKU {', '.join(repr(s) for s in unknown)}.")
    boms = await load_boms(ctx, demanded)
    everything = list(boms)
    stock, open_orders, offers = await asyncio.gather(
        load_by_sku(ctx.loaders.stock_by_sku, everything),
        load_by_sku(ctx.loaders.open_purchase_orders_by_sku, everything),
        load_by_sku(ctx.loaders.supplier_items_by_sku, everything),
    )
    demand: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for sku, day, quantity in wanted:
        demand[sku].append((day, quantity))
    return MaterialRequirements(
        warehouse=warehouse,
        date=today,
        requirements=net(
            demand,
            boms,
            stock,
            open_orders,
            offers,
            own,
            warehouse=warehouse,
            today=today,
        ),
    )
