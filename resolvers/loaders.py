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

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from aiodataloader import DataLoader, Loader, dispatch_queue

from sources import Backends, SourceError, freshness

DISPATCH_AFTER_ITERATIONS = 8
INFINITY = float("inf")


class SourceLoader(DataLoader):
    """A DataLoader over one source method, created per request."""

    def __init__(self, backends: Backends, *, batching: bool = True) -> None:
        super().__init__(batch=batching)
        self.backends = backends
        # Per key, the freshest data a `@fresh` field asked for (seconds), and what the
        # key's current load was made under: a stricter ask loads the key again.
        self._wanted: dict[Any, float] = {}
        self._loaded_under: dict[Any, float] = {}

    def load(self, key: Any) -> Any:
        wanted = freshness.subtree_max_age()
        if wanted is not None:
            if self._loaded_under.get(key, INFINITY) > wanted:
                self._cache.pop(key, None)
                self._loaded_under[key] = wanted
            self._wanted[key] = min(wanted, self._wanted.get(key, INFINITY))
        elif key not in self._loaded_under:
            self._loaded_under[key] = INFINITY
        return super().load(key)

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[Any]:
        wanted = {key: self._wanted[key] for key in keys if key in self._wanted}
        try:
            with freshness.requiring_keys(wanted):
                return await self.fetch(list(keys))
        except SourceError as exc:
            return [exc] * len(keys)

    async def fetch(self, keys: list[Any]) -> list[Any]:
        raise NotImplementedError

    def load_now(self, key: Any) -> Any:
        """The value itself when this request already has it, else an awaitable of it.

        A resolver that returns the value directly stays synchronous, which spares
        graphql-core a task per field; parents that prefetch make this the common case.
        """
        future = self.load(key)
        if future.done():
            return future.result()
        return future

    def do_resolve_reject(self, key: Any, future: Any) -> None:
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


class CustomerByIdLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.customers(keys)


class CustomerByErpRefLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.customers_by_ref("erp", keys)


class CustomerByClmRefLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.customers_by_ref("clm", keys)


class CustomerByDeskRefLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.customers_by_ref("desk", keys)


class SalesRepByIdLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.reps(keys)


class ContactsByCustomerLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.contacts_by_customer(keys)


class OpportunitiesByCustomerLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.opportunities_by_customer(keys)


class ActivitiesByCustomerLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.crm.activities_by_customer(keys)


# --- ERP -------------------------------------------------------------------


class PartyByCodeLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.parties(keys)


class ProductBySkuLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.products(keys)


class BomBySkuLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.boms(keys)


class StockBySkuLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.stock(keys)


class WarehousesLoader(SourceLoader):
    """All warehouses, under any key (callers use `"*"`): one call per request at most."""

    async def fetch(self, keys):
        warehouses = await self.backends.erp.warehouses()
        return [warehouses for _ in keys]


class OrderByIdLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.orders(keys)


class OrdersByPartyLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.orders_by_party(keys)


class InvoicesByPartyLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.invoices_by_party(keys)


class OpenItemsByPartyLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.erp.open_items_by_party(keys)


# --- CLM -------------------------------------------------------------------


class ContractByIdLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.clm.contracts(keys)


class ContractByNumberLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.clm.contracts_by_number(keys)


class ContractsByCounterpartyLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.clm.contracts_by_counterparty(keys)


# --- DESK ------------------------------------------------------------------


class TicketByIdLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.desk.tickets(keys)


class TicketsByOrgLoader(SourceLoader):
    async def fetch(self, keys):
        return await self.backends.desk.tickets_by_org(keys)


class Loaders:
    """The request's loaders, each created on first use."""

    def __init__(self, backends: Backends, *, batching: bool = True) -> None:
        self.backends = backends
        self._batching = batching

    def _make(self, cls: type[SourceLoader]) -> SourceLoader:
        return cls(self.backends, batching=self._batching)

    def remember_customers(self, customers: Sequence[Any]) -> None:
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

    customer_by_id = cached_property(lambda self: self._make(CustomerByIdLoader))
    customer_by_erp_ref = cached_property(lambda self: self._make(CustomerByErpRefLoader))
    customer_by_clm_ref = cached_property(lambda self: self._make(CustomerByClmRefLoader))
    customer_by_desk_ref = cached_property(lambda self: self._make(CustomerByDeskRefLoader))
    sales_rep_by_id = cached_property(lambda self: self._make(SalesRepByIdLoader))
    contacts_by_customer = cached_property(lambda self: self._make(ContactsByCustomerLoader))
    opportunities_by_customer = cached_property(lambda self: self._make(OpportunitiesByCustomerLoader))
    activities_by_customer = cached_property(lambda self: self._make(ActivitiesByCustomerLoader))
    party_by_code = cached_property(lambda self: self._make(PartyByCodeLoader))
    product_by_sku = cached_property(lambda self: self._make(ProductBySkuLoader))
    bom_by_sku = cached_property(lambda self: self._make(BomBySkuLoader))
    stock_by_sku = cached_property(lambda self: self._make(StockBySkuLoader))
    warehouses = cached_property(lambda self: self._make(WarehousesLoader))
    order_by_id = cached_property(lambda self: self._make(OrderByIdLoader))
    orders_by_party = cached_property(lambda self: self._make(OrdersByPartyLoader))
    invoices_by_party = cached_property(lambda self: self._make(InvoicesByPartyLoader))
    open_items_by_party = cached_property(lambda self: self._make(OpenItemsByPartyLoader))
    contract_by_id = cached_property(lambda self: self._make(ContractByIdLoader))
    contract_by_number = cached_property(lambda self: self._make(ContractByNumberLoader))
    contracts_by_counterparty = cached_property(lambda self: self._make(ContractsByCounterpartyLoader))
    ticket_by_id = cached_property(lambda self: self._make(TicketByIdLoader))
    tickets_by_org = cached_property(lambda self: self._make(TicketsByOrgLoader))
