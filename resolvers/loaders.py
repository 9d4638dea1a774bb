"""Per-request DataLoaders, one per source method.

The contract (the same as the reference DataLoader's): a batch function takes a
list of keys and returns a list of the same length and order; the slot of a key
holds its record (or None when the backend does not know it), its list of
records, or an exception when its data could not be read, so one bad key never
fails its siblings. A failed backend call puts the same exception in every slot
of its batch, which lets the gateway report one error per failed call.

Loaders live for one request: the cache here only de-duplicates keys within a
request (two paths reaching the same customer cost one look-up). Caching across
requests belongs to the sources.

Batching: a load does not dispatch on the next loop iteration, as aiodataloader
does, but a few iterations later. Fields at the same depth of a query reach a
loader after different numbers of iterations (graphql-core starts each nested
list as its own task), and waiting a few cheap iterations lets all of them join
one batch: one backend call per source method per level of the query.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue

from sources import Backends, SourceError, freshness
from sources.base import Lookup, Related
from sources.records import (
    Activity,
    BomLine,
    Contact,
    Contract,
    Customer,
    GoodsReceipt,
    Invoice,
    OpenItem,
    Opportunity,
    Order,
    Party,
    Product,
    ProductionOrder,
    PurchaseOrder,
    QualityRecord,
    SalesRep,
    Stock,
    Supplier,
    SupplierInvoice,
    SupplierItem,
    SupplierPayment,
    Ticket,
    Warehouse,
)

DISPATCH_AFTER_ITERATIONS = 8
INFINITY = float("inf")

V = TypeVar("V")


class SourceLoader(DataLoader[str, V]):
    """A DataLoader over one source method, created per request: keys are ids, `V` what one key loads."""

    def __init__(self, backends: Backends, *, batching: bool = True) -> None:
        super().__init__(batch=batching)
        self.backends = backends
        # Per key, the freshest data a `@fresh` field asked for (seconds), and what the
        # key's current load was made under: a stricter ask loads the key again.
        self._wanted: dict[str, float] = {}
        self._loaded_under: dict[str, float] = {}

    def load(self, key: str) -> Future[V]:
        wanted = freshness.subtree_max_age()
        if wanted is not None:
            if self._loaded_under.get(key, INFINITY) > wanted:
                self._cache.pop(key, None)
                self._loaded_under[key] = wanted
            self._wanted[key] = min(wanted, self._wanted.get(key, INFINITY))
        elif key not in self._loaded_under:
            self._loaded_under[key] = INFINITY
        return super().load(key)

    # aiodataloader types a batch's answers as list[ReturnT], though it rejects (as documented)
    # the load of any slot holding an Exception: the contract above.
    async def batch_load_fn(self, keys: Sequence[str]) -> list[V | SourceError]:  # type: ignore[override]
        wanted = {key: self._wanted[key] for key in keys if key in self._wanted}
        try:
            with freshness.requiring_keys(wanted):
                return list(await self.fetch(list(keys)))
        except SourceError as exc:
            return [exc] * len(keys)

    async def fetch(self, keys: list[str]) -> Sequence[V | SourceError]:
        """One answer per key, in order: the source method's contract (see `sources.base`)."""
        raise NotImplementedError

    def load_now(self, key: str) -> V | Future[V]:
        """The value itself when this request already has it, else an awaitable of it.

        A resolver that returns the value directly stays synchronous, which spares
        graphql-core a task per field; parents that prefetch make this the common case.
        """
        future = self.load(key)
        if future.done():
            return future.result()
        return future

    def do_resolve_reject(self, key: str, future: Future[V]) -> None:
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            if self.batch:
                self.loop.call_soon(self._dispatch_later, DISPATCH_AFTER_ITERATIONS)
            else:
                dispatch_queue(self)

    def _dispatch_later(self, iterations: int) -> None:
        if iterations:
            self.loop.call_soon(self._dispatch_later, iterations - 1)
        else:
            dispatch_queue(self)


# --- CRM -------------------------------------------------------------------


class CustomerByIdLoader(SourceLoader[Customer | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Customer]:
        return await self.backends.crm.customers(keys)


class CustomerByErpRefLoader(SourceLoader[Customer | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Customer]:
        return await self.backends.crm.customers_by_ref("erp", keys)


class CustomerByClmRefLoader(SourceLoader[Customer | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Customer]:
        return await self.backends.crm.customers_by_ref("clm", keys)


class CustomerByDeskRefLoader(SourceLoader[Customer | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Customer]:
        return await self.backends.crm.customers_by_ref("desk", keys)


class SalesRepByIdLoader(SourceLoader[SalesRep | None]):
    async def fetch(self, keys: list[str]) -> Lookup[SalesRep]:
        return await self.backends.crm.reps(keys)


class ContactsByCustomerLoader(SourceLoader[list[Contact]]):
    async def fetch(self, keys: list[str]) -> Related[Contact]:
        return await self.backends.crm.contacts_by_customer(keys)


class OpportunitiesByCustomerLoader(SourceLoader[list[Opportunity]]):
    async def fetch(self, keys: list[str]) -> Related[Opportunity]:
        return await self.backends.crm.opportunities_by_customer(keys)


class ActivitiesByCustomerLoader(SourceLoader[list[Activity]]):
    async def fetch(self, keys: list[str]) -> Related[Activity]:
        return await self.backends.crm.activities_by_customer(keys)


# --- ERP -------------------------------------------------------------------


class PartyByCodeLoader(SourceLoader[Party | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Party]:
        return await self.backends.erp.parties(keys)


class ProductBySkuLoader(SourceLoader[Product | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Product]:
        return await self.backends.erp.products(keys)


class BomBySkuLoader(SourceLoader[list[BomLine]]):
    async def fetch(self, keys: list[str]) -> Related[BomLine]:
        return await self.backends.erp.boms(keys)


class StockBySkuLoader(SourceLoader[list[Stock]]):
    async def fetch(self, keys: list[str]) -> Related[Stock]:
        return await self.backends.erp.stock(keys)


class WarehousesLoader(SourceLoader[list[Warehouse]]):
    """All warehouses, under any key (callers use `"*"`): one call per request at most."""

    async def fetch(self, keys: list[str]) -> list[list[Warehouse]]:
        warehouses = await self.backends.erp.warehouses()
        return [warehouses for _ in keys]


class OrderByIdLoader(SourceLoader[Order | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Order]:
        return await self.backends.erp.orders(keys)


class OrdersByPartyLoader(SourceLoader[list[Order]]):
    async def fetch(self, keys: list[str]) -> Related[Order]:
        return await self.backends.erp.orders_by_party(keys)


class InvoicesByPartyLoader(SourceLoader[list[Invoice]]):
    async def fetch(self, keys: list[str]) -> Related[Invoice]:
        return await self.backends.erp.invoices_by_party(keys)


class OpenItemsByPartyLoader(SourceLoader[list[OpenItem]]):
    async def fetch(self, keys: list[str]) -> Related[OpenItem]:
        return await self.backends.erp.open_items_by_party(keys)


# --- CLM -------------------------------------------------------------------


class ContractByIdLoader(SourceLoader[Contract | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Contract]:
        return await self.backends.clm.contracts(keys)


class ContractByNumberLoader(SourceLoader[Contract | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Contract]:
        return await self.backends.clm.contracts_by_number(keys)


class ContractsByCounterpartyLoader(SourceLoader[list[Contract]]):
    async def fetch(self, keys: list[str]) -> Related[Contract]:
        return await self.backends.clm.contracts_by_counterparty(keys)


class ContractsBySupplierLoader(SourceLoader[list[Contract]]):
    async def fetch(self, keys: list[str]) -> Related[Contract]:
        return await self.backends.clm.contracts_by_supplier(keys)


# --- DESK ------------------------------------------------------------------


class TicketByIdLoader(SourceLoader[Ticket | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Ticket]:
        return await self.backends.desk.tickets(keys)


class TicketsByOrgLoader(SourceLoader[list[Ticket]]):
    async def fetch(self, keys: list[str]) -> Related[Ticket]:
        return await self.backends.desk.tickets_by_org(keys)


# --- SRM -------------------------------------------------------------------


class SupplierByCodeLoader(SourceLoader[Supplier | None]):
    async def fetch(self, keys: list[str]) -> Lookup[Supplier]:
        return await self.backends.srm.suppliers(keys)


class SupplierItemsBySkuLoader(SourceLoader[list[SupplierItem]]):
    async def fetch(self, keys: list[str]) -> Related[SupplierItem]:
        return await self.backends.srm.items_by_sku(keys)


class PurchaseOrderByNumberLoader(SourceLoader[PurchaseOrder | None]):
    async def fetch(self, keys: list[str]) -> Lookup[PurchaseOrder]:
        return await self.backends.srm.purchase_orders(keys)


class PurchaseOrdersBySupplierLoader(SourceLoader[list[PurchaseOrder]]):
    async def fetch(self, keys: list[str]) -> Related[PurchaseOrder]:
        return await self.backends.srm.purchase_orders_by_supplier(keys)


class PurchaseOrdersByContractLoader(SourceLoader[list[PurchaseOrder]]):
    async def fetch(self, keys: list[str]) -> Related[PurchaseOrder]:
        return await self.backends.srm.purchase_orders_by_contract(keys)


class OpenPurchaseOrdersBySkuLoader(SourceLoader[list[PurchaseOrder]]):
    async def fetch(self, keys: list[str]) -> Related[PurchaseOrder]:
        return await self.backends.srm.open_purchase_orders_by_sku(keys)


class GoodsReceiptsByPoLoader(SourceLoader[list[GoodsReceipt]]):
    async def fetch(self, keys: list[str]) -> Related[GoodsReceipt]:
        return await self.backends.srm.receipts_by_po(keys)


class GoodsReceiptsBySupplierLoader(SourceLoader[list[GoodsReceipt]]):
    async def fetch(self, keys: list[str]) -> Related[GoodsReceipt]:
        return await self.backends.srm.receipts_by_supplier(keys)


class SupplierInvoicesByPoLoader(SourceLoader[list[SupplierInvoice]]):
    async def fetch(self, keys: list[str]) -> Related[SupplierInvoice]:
        return await self.backends.srm.invoices_by_po(keys)


class SupplierPaymentsByInvoiceLoader(SourceLoader[list[SupplierPayment]]):
    async def fetch(self, keys: list[str]) -> Related[SupplierPayment]:
        return await self.backends.srm.payments_by_invoice(keys)


# --- MES -------------------------------------------------------------------


class ProductionOrderByIdLoader(SourceLoader[ProductionOrder | None]):
    async def fetch(self, keys: list[str]) -> Lookup[ProductionOrder]:
        return await self.backends.mes.production_orders(keys)


class ProductionBySalesOrderLoader(SourceLoader[list[ProductionOrder]]):
    async def fetch(self, keys: list[str]) -> Related[ProductionOrder]:
        return await self.backends.mes.production_by_sales_order(keys)


class QualityBySalesOrderLoader(SourceLoader[list[QualityRecord]]):
    async def fetch(self, keys: list[str]) -> Related[QualityRecord]:
        return await self.backends.mes.quality_by_sales_order(keys)


class Loaders:
    """The request's loaders, each created on first use."""

    def __init__(self, backends: Backends, *, batching: bool = True) -> None:
        self.backends = backends
        self._batching = batching

    def dispatch_queued(self) -> None:
        """Send every batch queued so far now, not a few loop iterations later.

        The plan executor calls this once a layer's resolvers have all asked for their keys:
        nothing more will join those batches, and the backends can work while it completes.
        """
        for loader in list(self.__dict__.values()):
            if isinstance(loader, SourceLoader) and loader._queue:
                dispatch_queue(loader)

    def remember_customers(self, customers: Iterable[Customer | None]) -> None:
        """Prime the way-back loaders: a customer seen once is found by any of its refs for free."""
        for customer in customers:
            if customer is None:
                continue
            self.customer_by_id.prime(customer.id, customer)
            refs = customer.refs
            if refs.erp:
                self.customer_by_erp_ref.prime(refs.erp, customer)
            if refs.clm:
                self.customer_by_clm_ref.prime(refs.clm, customer)
            if refs.desk:
                self.customer_by_desk_ref.prime(refs.desk, customer)

    @cached_property
    def customer_by_id(self) -> CustomerByIdLoader:
        return CustomerByIdLoader(self.backends, batching=self._batching)

    @cached_property
    def customer_by_erp_ref(self) -> CustomerByErpRefLoader:
        return CustomerByErpRefLoader(self.backends, batching=self._batching)

    @cached_property
    def customer_by_clm_ref(self) -> CustomerByClmRefLoader:
        return CustomerByClmRefLoader(self.backends, batching=self._batching)

    @cached_property
    def customer_by_desk_ref(self) -> CustomerByDeskRefLoader:
        return CustomerByDeskRefLoader(self.backends, batching=self._batching)

    @cached_property
    def sales_rep_by_id(self) -> SalesRepByIdLoader:
        return SalesRepByIdLoader(self.backends, batching=self._batching)

    @cached_property
    def contacts_by_customer(self) -> ContactsByCustomerLoader:
        return ContactsByCustomerLoader(self.backends, batching=self._batching)

    @cached_property
    def opportunities_by_customer(self) -> OpportunitiesByCustomerLoader:
        return OpportunitiesByCustomerLoader(self.backends, batching=self._batching)

    @cached_property
    def activities_by_customer(self) -> ActivitiesByCustomerLoader:
        return ActivitiesByCustomerLoader(self.backends, batching=self._batching)

    @cached_property
    def party_by_code(self) -> PartyByCodeLoader:
        return PartyByCodeLoader(self.backends, batching=self._batching)

    @cached_property
    def product_by_sku(self) -> ProductBySkuLoader:
        return ProductBySkuLoader(self.backends, batching=self._batching)

    @cached_property
    def bom_by_sku(self) -> BomBySkuLoader:
        return BomBySkuLoader(self.backends, batching=self._batching)

    @cached_property
    def stock_by_sku(self) -> StockBySkuLoader:
        return StockBySkuLoader(self.backends, batching=self._batching)

    @cached_property
    def warehouses(self) -> WarehousesLoader:
        return WarehousesLoader(self.backends, batching=self._batching)

    @cached_property
    def order_by_id(self) -> OrderByIdLoader:
        return OrderByIdLoader(self.backends, batching=self._batching)

    @cached_property
    def orders_by_party(self) -> OrdersByPartyLoader:
        return OrdersByPartyLoader(self.backends, batching=self._batching)

    @cached_property
    def invoices_by_party(self) -> InvoicesByPartyLoader:
        return InvoicesByPartyLoader(self.backends, batching=self._batching)

    @cached_property
    def open_items_by_party(self) -> OpenItemsByPartyLoader:
        return OpenItemsByPartyLoader(self.backends, batching=self._batching)

    @cached_property
    def contract_by_id(self) -> ContractByIdLoader:
        return ContractByIdLoader(self.backends, batching=self._batching)

    @cached_property
    def contract_by_number(self) -> ContractByNumberLoader:
        return ContractByNumberLoader(self.backends, batching=self._batching)

    @cached_property
    def contracts_by_counterparty(self) -> ContractsByCounterpartyLoader:
        return ContractsByCounterpartyLoader(self.backends, batching=self._batching)

    @cached_property
    def contracts_by_supplier(self) -> ContractsBySupplierLoader:
        return ContractsBySupplierLoader(self.backends, batching=self._batching)

    @cached_property
    def ticket_by_id(self) -> TicketByIdLoader:
        return TicketByIdLoader(self.backends, batching=self._batching)

    @cached_property
    def tickets_by_org(self) -> TicketsByOrgLoader:
        return TicketsByOrgLoader(self.backends, batching=self._batching)

    @cached_property
    def supplier_by_code(self) -> SupplierByCodeLoader:
        return SupplierByCodeLoader(self.backends, batching=self._batching)

    @cached_property
    def supplier_items_by_sku(self) -> SupplierItemsBySkuLoader:
        return SupplierItemsBySkuLoader(self.backends, batching=self._batching)

    @cached_property
    def purchase_order_by_number(self) -> PurchaseOrderByNumberLoader:
        return PurchaseOrderByNumberLoader(self.backends, batching=self._batching)

    @cached_property
    def purchase_orders_by_supplier(self) -> PurchaseOrdersBySupplierLoader:
        return PurchaseOrdersBySupplierLoader(self.backends, batching=self._batching)

    @cached_property
    def purchase_orders_by_contract(self) -> PurchaseOrdersByContractLoader:
        return PurchaseOrdersByContractLoader(self.backends, batching=self._batching)

    @cached_property
    def open_purchase_orders_by_sku(self) -> OpenPurchaseOrdersBySkuLoader:
        return OpenPurchaseOrdersBySkuLoader(self.backends, batching=self._batching)

    @cached_property
    def goods_receipts_by_po(self) -> GoodsReceiptsByPoLoader:
        return GoodsReceiptsByPoLoader(self.backends, batching=self._batching)

    @cached_property
    def goods_receipts_by_supplier(self) -> GoodsReceiptsBySupplierLoader:
        return GoodsReceiptsBySupplierLoader(self.backends, batching=self._batching)

    @cached_property
    def supplier_invoices_by_po(self) -> SupplierInvoicesByPoLoader:
        return SupplierInvoicesByPoLoader(self.backends, batching=self._batching)

    @cached_property
    def supplier_payments_by_invoice(self) -> SupplierPaymentsByInvoiceLoader:
        return SupplierPaymentsByInvoiceLoader(self.backends, batching=self._batching)

    @cached_property
    def production_order_by_id(self) -> ProductionOrderByIdLoader:
        return ProductionOrderByIdLoader(self.backends, batching=self._batching)

    @cached_property
    def production_by_sales_order(self) -> ProductionBySalesOrderLoader:
        return ProductionBySalesOrderLoader(self.backends, batching=self._batching)

    @cached_property
    def quality_by_sales_order(self) -> QualityBySalesOrderLoader:
        return QualityBySalesOrderLoader(self.backends, batching=self._batching)
