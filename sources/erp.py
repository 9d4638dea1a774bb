"""The demo ERP source over REST: parties, products, BOMs, stock, orders, invoices, stock movements;
and its writes: creating an order, confirming an approved one, reading approval requests."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from sources import lists
from sources.base import Items, Lookup, Related, Source, cached
from sources.lists import ListPage, ListQuery
from sources.records import (
    ApprovalRequest,
    BomLine,
    Invoice,
    LastIssue,
    OpenItem,
    Order,
    OrderDraft,
    Party,
    Product,
    Stock,
    Warehouse,
)


class ErpSource(Source):
    name = "ERP"

    @cached("master")
    async def parties(self, codes: Sequence[str]) -> Lookup[Party]:
        return await self.one_per_key("parties", "/parties", "codes", codes, Party, "code")

    @cached("master")
    async def products(self, skus: Sequence[str]) -> Lookup[Product]:
        return await self.one_per_key("products", "/products", "skus", skus, Product, "sku")

    @cached("master")
    async def boms(self, skus: Sequence[str]) -> Related[BomLine]:
        """The direct components of each SKU (empty for bought items)."""
        return await self.many_per_key("boms", "/boms", "skus", skus, BomLine, "parent_sku")

    @cached("stock")
    async def stock(self, skus: Sequence[str]) -> Related[Stock]:
        """Per SKU: on hand, allocated and open receipts in every warehouse."""
        return await self.many_per_key("stock", "/stock", "skus", skus, Stock, "sku")

    async def warehouses(self) -> list[Warehouse]:
        async def fetch(keys: list) -> list[list[Warehouse]]:
            return [await self.fetch("warehouses", "/warehouses", {}, Warehouse)]

        (found,) = await self.cached("warehouses", "master", ["*"], fetch)
        if isinstance(found, Exception):
            raise found
        return found

    @cached("orders")
    async def orders(self, ids: Sequence[str]) -> Lookup[Order]:
        return await self.one_per_key("orders", "/orders", "ids", ids, Order, "id")

    @cached("orders")
    async def orders_by_party(self, codes: Sequence[str]) -> Related[Order]:
        """Every order of each party, newest first, lines included."""
        return await self.many_per_key("orders_by_party", "/orders", "party", codes, Order, "party_code")

    @cached("balances")
    async def invoices_by_party(self, codes: Sequence[str]) -> Related[Invoice]:
        """Every invoice of each party (open and settled); callers filter."""
        return await self.many_per_key("invoices_by_party", "/invoices", "party", codes, Invoice, "party_code")

    @cached("balances")
    async def open_items_by_party(self, codes: Sequence[str]) -> Related[OpenItem]:
        """Each party's open receivable entries without an invoice (unapplied payments, opening balances)."""
        return await self.many_per_key("open_items_by_party", "/open_items", "party", codes, OpenItem, "party_code")

    async def last_issues(self) -> list[LastIssue]:
        """Per SKU and warehouse holding stock, the day stock last left it (the movement history)."""

        async def fetch(keys: list) -> list[list[LastIssue]]:
            return [await self.fetch("last_issues", "/stock_moves/last_issue", {}, LastIssue)]

        (found,) = await self.cached("last_issues", "stock", ["*"], fetch)
        if isinstance(found, Exception):
            raise found
        return list(found)

    # --- worklists ---------------------------------------------------------------------------

    async def invoice_list(self, query: ListQuery) -> ListPage[Invoice]:
        return await lists.page(self, "invoice_list", "/invoices/search", query, Invoice)

    async def invoice_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Invoice]]:
        """A page per key of the `per` filter, for the nested lists of many customers at once."""
        return await lists.pages(self, "invoice_pages", "/invoices/search", query, per, Invoice)

    async def order_list(self, query: ListQuery) -> ListPage[Order]:
        return await lists.page(self, "order_list", "/orders/search", query, Order)

    async def order_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Order]]:
        """A page per key of the `per` filter, for the nested lists of many customers at once."""
        return await lists.pages(self, "order_pages", "/orders/search", query, per, Order)

    async def party_keys(self, filters: Sequence[tuple[str, str]]) -> list[str]:
        """The codes of the parties with `overdue` receivables or `credit_exceeded` (on `today`)."""
        return await lists.keys(self, "party_keys", "/parties/keys", dict(filters))

    # --- writes -----------------------------------------------------------------------------

    async def create_order(self, key: str, draft: OrderDraft) -> Order:
        """POST /orders with the idempotency key. Stale after it: the party's orders (and with them its
        receivables and credit used), and the stock of its SKUs (allocated to open orders)."""
        order = await self.send_write("create_order", "POST", "/orders", msgspec.to_builtins(draft), Order, key)
        await self.forget_order(order)
        return order

    async def confirm_order(self, key: str, order_id: str, approved_by: str) -> Order:
        """POST /orders/{id}/confirm: an approved draft becomes a confirmed order."""
        order = await self.send_write(
            "confirm_order", "POST", f"/orders/{order_id}/confirm", {"approved_by": approved_by}, Order, key
        )
        await self.forget_order(order)
        return order

    async def forget_order(self, order: Order) -> None:
        await self.forget(
            {
                "orders": [order.id],
                "orders_by_party": [order.party_code],
                "stock": sorted({line.sku for line in order.lines}),
            }
        )

    async def approvals(self, order_ids: Sequence[str]) -> list[ApprovalRequest]:
        """The approval requests of these orders, read live (the write path decides on them)."""
        body = await self.http.get("approvals", "/approvals", {"orders": ",".join(order_ids)}, keys=len(order_ids))
        return self.validate("approvals", body, Items[ApprovalRequest]).items
