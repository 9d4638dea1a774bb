"""The kinds of source the gateway reads, as Protocols: what a backend of a kind must offer.

The loaders and `Backends` are typed against these, not against one implementation,
so a new backend (Tryton beside the demo REST ERP) is checked by the type checker
against everything the gateway calls on its kind. Batch methods follow the contract
of `sources.base`: one answer per key, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sources.base import Lookup, Related
from sources.cache import MethodCache
from sources.crm import RefSystem
from sources.http import BackendClient
from sources.invalidation import Invalidation
from sources.lists import ListPage, ListQuery
from sources.records import (
    Activity,
    ActivityDraft,
    ApprovalRequest,
    BomLine,
    Budget,
    Contact,
    Contract,
    Customer,
    GoodsReceipt,
    Invoice,
    LastIssue,
    OpenItem,
    Opportunity,
    Order,
    OrderDraft,
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
    TicketChange,
    TicketDraft,
    Warehouse,
)


class SourceKind(Protocol):
    """What every source offers: its name, its client (and breaker), its caches, and closing."""

    name: str
    http: BackendClient
    caches: dict[str, MethodCache]
    invalidation: Invalidation

    async def aclose(self) -> None: ...


class CrmBackend(SourceKind, Protocol):
    async def customers(self, ids: Sequence[str]) -> Lookup[Customer]: ...

    async def customers_by_ref(self, system: RefSystem, refs: Sequence[str]) -> Lookup[Customer]: ...

    async def reps(self, ids: Sequence[str]) -> Lookup[SalesRep]: ...

    async def contacts_by_customer(self, ids: Sequence[str]) -> Related[Contact]: ...

    async def opportunities_by_customer(self, ids: Sequence[str]) -> Related[Opportunity]: ...

    async def activities_by_customer(self, ids: Sequence[str]) -> Related[Activity]: ...

    async def log_activity(self, key: str, draft: ActivityDraft) -> Activity: ...

    async def customer_list(self, query: ListQuery) -> ListPage[Customer]: ...

    async def customer_keys(self, system: str, filters: Sequence[tuple[str, str]]) -> list[str]: ...

    async def opportunity_list(self, query: ListQuery) -> ListPage[Opportunity]: ...


class ErpBackend(SourceKind, Protocol):
    """The demo REST ERP (`sources.erp`) and Tryton over JSON-RPC (`sources.tryton`)."""

    async def parties(self, codes: Sequence[str]) -> Lookup[Party]: ...

    async def products(self, skus: Sequence[str]) -> Lookup[Product]: ...

    async def boms(self, skus: Sequence[str]) -> Related[BomLine]: ...

    async def stock(self, skus: Sequence[str]) -> Related[Stock]: ...

    async def warehouses(self) -> list[Warehouse]: ...

    async def orders(self, ids: Sequence[str]) -> Lookup[Order]: ...

    async def orders_by_party(self, codes: Sequence[str]) -> Related[Order]: ...

    async def invoices_by_party(self, codes: Sequence[str]) -> Related[Invoice]: ...

    async def open_items_by_party(self, codes: Sequence[str]) -> Related[OpenItem]: ...

    async def create_order(self, key: str, draft: OrderDraft) -> Order: ...

    async def confirm_order(self, key: str, order_id: str, approved_by: str) -> Order: ...

    async def approvals(self, order_ids: Sequence[str]) -> list[ApprovalRequest]: ...


@runtime_checkable
class ErpLists(Protocol):
    """An ERP that answers worklists (the demo REST ERP; Tryton does not yet)."""

    async def invoice_list(self, query: ListQuery) -> ListPage[Invoice]: ...

    async def order_list(self, query: ListQuery) -> ListPage[Order]: ...

    async def invoice_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Invoice]]: ...

    async def order_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Order]]: ...

    async def party_keys(self, filters: Sequence[tuple[str, str]]) -> list[str]: ...


class ClmBackend(SourceKind, Protocol):
    async def contracts(self, ids: Sequence[str]) -> Lookup[Contract]: ...

    async def contracts_by_number(self, numbers: Sequence[str]) -> Lookup[Contract]: ...

    async def contracts_by_counterparty(self, ids: Sequence[str]) -> Related[Contract]: ...

    async def contracts_by_supplier(self, codes: Sequence[str]) -> Related[Contract]: ...

    async def contract_list(self, query: ListQuery) -> ListPage[Contract]: ...

    async def contract_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Contract]]: ...


class DeskBackend(SourceKind, Protocol):
    async def tickets(self, ids: Sequence[str]) -> Lookup[Ticket]: ...

    async def tickets_by_org(self, ids: Sequence[str]) -> Related[Ticket]: ...

    async def ticket_list(self, query: ListQuery) -> ListPage[Ticket]: ...

    async def ticket_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Ticket]]: ...

    async def open_ticket(self, key: str, draft: TicketDraft) -> Ticket: ...

    async def update_ticket(self, key: str, ticket_id: str, change: TicketChange) -> Ticket: ...


@runtime_checkable
class StockHistory(Protocol):
    """An ERP that keeps a stock movement history (the demo ERP; the Tryton source does not offer it)."""

    async def last_issues(self) -> list[LastIssue]: ...


class SrmBackend(SourceKind, Protocol):
    """The procurement platform."""

    async def suppliers(self, codes: Sequence[str]) -> Lookup[Supplier]: ...

    async def all_suppliers(self) -> list[Supplier]: ...

    async def items_by_sku(self, skus: Sequence[str]) -> Related[SupplierItem]: ...

    async def purchase_orders(self, numbers: Sequence[str]) -> Lookup[PurchaseOrder]: ...

    async def purchase_orders_by_supplier(self, codes: Sequence[str]) -> Related[PurchaseOrder]: ...

    async def purchase_orders_by_contract(self, numbers: Sequence[str]) -> Related[PurchaseOrder]: ...

    async def open_purchase_orders_by_sku(self, skus: Sequence[str]) -> Related[PurchaseOrder]: ...

    async def receipts_by_po(self, numbers: Sequence[str]) -> Related[GoodsReceipt]: ...

    async def receipts_by_supplier(self, codes: Sequence[str]) -> Related[GoodsReceipt]: ...

    async def invoices_by_po(self, numbers: Sequence[str]) -> Related[SupplierInvoice]: ...

    async def payments_by_invoice(self, ids: Sequence[str]) -> Related[SupplierPayment]: ...

    async def budgets(self) -> list[Budget]: ...


class MesBackend(SourceKind, Protocol):
    """The shop floor and quality system."""

    async def production_orders(self, ids: Sequence[str]) -> Lookup[ProductionOrder]: ...

    async def production_by_sales_order(self, ids: Sequence[str]) -> Related[ProductionOrder]: ...

    async def quality_by_sales_order(self, ids: Sequence[str]) -> Related[QualityRecord]: ...
