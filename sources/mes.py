"""The shop floor and quality system (MES): production orders with their operations, quality records."""

from __future__ import annotations

from collections.abc import Sequence

from sources.base import Lookup, Related, Source, cached
from sources.records import ProductionOrder, QualityRecord


class MesSource(Source):
    name = "MES"

    @cached("orders")
    async def production_orders(self, ids: Sequence[str]) -> Lookup[ProductionOrder]:
        return await self.one_per_key("production_orders", "/production_orders", "ids", ids, ProductionOrder, "id")

    @cached("orders")
    async def production_by_sales_order(self, ids: Sequence[str]) -> Related[ProductionOrder]:
        """The make-to-order production orders of each sales order."""
        return await self.many_per_key(
            "production_by_sales_order", "/production_orders", "sales_order", ids, ProductionOrder, "sales_order_id"
        )

    @cached("orders")
    async def quality_by_sales_order(self, ids: Sequence[str]) -> Related[QualityRecord]:
        """Quality records of the lots shipped on each sales order and of its make-to-order production."""
        return await self.many_per_key(
            "quality_by_sales_order", "/quality_records", "sales_order", ids, QualityRecord, "sales_order_id"
        )
