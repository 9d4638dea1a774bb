"""The service-desk source: tickets per organisation, contract or order."""

from __future__ import annotations

from collections.abc import Sequence

from sources.base import Lookup, Related, Source, cached
from sources.records import Ticket


class DeskSource(Source):
    name = "DESK"

    @cached("orders")
    async def tickets(self, ids: Sequence[str]) -> Lookup[Ticket]:
        return await self.one_per_key("tickets", "/tickets", "ids", ids, Ticket, "id")

    @cached("orders")
    async def tickets_by_org(self, ids: Sequence[str]) -> Related[Ticket]:
        return await self.many_per_key("tickets_by_org", "/tickets", "org", ids, Ticket, "org_id")

    @cached("orders")
    async def tickets_by_contract(self, numbers: Sequence[str]) -> Related[Ticket]:
        return await self.many_per_key(
            "tickets_by_contract", "/tickets", "contract", numbers, Ticket, "contract_number"
        )

    @cached("orders")
    async def tickets_by_order(self, ids: Sequence[str]) -> Related[Ticket]:
        return await self.many_per_key("tickets_by_order", "/tickets", "order", ids, Ticket, "order_id")
