"""The procurement platform (SRM): suppliers and their items, purchase orders, receipts with incoming
inspection, supplier invoices and payments, budgets."""

from __future__ import annotations

from collections.abc import Sequence

from sources.base import Lookup, Related, Source, cached
from sources.records import (
    Budget,
    GoodsReceipt,
    PurchaseOrder,
    Supplier,
    SupplierInvoice,
    SupplierItem,
    SupplierPayment,
)


class SrmSource(Source):
    name = "SRM"

    @cached("master")
    async def suppliers(self, codes: Sequence[str]) -> Lookup[Supplier]:
        return await self.one_per_key("suppliers", "/suppliers", "codes", codes, Supplier, "code")

    async def all_suppliers(self) -> list[Supplier]:
        return await self._everything("all_suppliers", "/suppliers", Supplier, "master")

    @cached("master")
    async def items_by_sku(self, skus: Sequence[str]) -> Related[SupplierItem]:
        """Who sells each SKU, the preferred supplier first."""
        return await self.many_per_key("items_by_sku", "/supplier_items", "skus", skus, SupplierItem, "sku")

    @cached("orders")
    async def purchase_orders(self, numbers: Sequence[str]) -> Lookup[PurchaseOrder]:
        return await self.one_per_key(
            "purchase_orders", "/purchase_orders", "numbers", numbers, PurchaseOrder, "number"
        )

    @cached("orders")
    async def purchase_orders_by_supplier(self, codes: Sequence[str]) -> Related[PurchaseOrder]:
        return await self.many_per_key(
            "purchase_orders_by_supplier", "/purchase_orders", "supplier", codes, PurchaseOrder, "supplier_code"
        )

    @cached("orders")
    async def purchase_orders_by_contract(self, numbers: Sequence[str]) -> Related[PurchaseOrder]:
        return await self.many_per_key(
            "purchase_orders_by_contract", "/purchase_orders", "contract", numbers, PurchaseOrder, "contract_number"
        )

    @cached("orders")
    async def open_purchase_orders_by_sku(self, skus: Sequence[str]) -> Related[PurchaseOrder]:
        """Per SKU, the open orders with a line of it (an order of several SKUs is under each)."""
        found = await self.fetch_by_keys(
            "open_purchase_orders_by_sku", "/purchase_orders", "sku", skus, PurchaseOrder, open_only="true"
        )
        by_sku: dict[str, list[PurchaseOrder]] = {}
        for order in found:
            for sku in dict.fromkeys(line.sku for line in order.lines):
                by_sku.setdefault(sku, []).append(order)
        return [by_sku.get(sku, []) for sku in skus]

    @cached("orders")
    async def receipts_by_po(self, numbers: Sequence[str]) -> Related[GoodsReceipt]:
        return await self.many_per_key("receipts_by_po", "/receipts", "po", numbers, GoodsReceipt, "po_number")

    @cached("orders")
    async def receipts_by_supplier(self, codes: Sequence[str]) -> Related[GoodsReceipt]:
        return await self.many_per_key(
            "receipts_by_supplier", "/receipts", "supplier", codes, GoodsReceipt, "supplier_code"
        )

    @cached("balances")
    async def invoices_by_po(self, numbers: Sequence[str]) -> Related[SupplierInvoice]:
        return await self.many_per_key("invoices_by_po", "/invoices", "po", numbers, SupplierInvoice, "po_number")

    @cached("balances")
    async def payments_by_invoice(self, ids: Sequence[str]) -> Related[SupplierPayment]:
        return await self.many_per_key(
            "payments_by_invoice", "/payments", "invoice", ids, SupplierPayment, "invoice_id"
        )

    async def budgets(self) -> list[Budget]:
        return await self._everything("budgets", "/budgets", Budget, "balances")

    async def _everything(self, method: str, path: str, model: type, kind: str) -> list:
        """A whole list the system answers without keys, cached under one key."""

        async def fetch(keys: list) -> list[list]:
            return [await self.fetch(method, path, {}, model)]

        (found,) = await self.cached(method, kind, ["*"], fetch)
        if isinstance(found, Exception):
            raise found
        return list(found)
