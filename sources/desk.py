"""The service-desk source: tickets per organisation, contract or order; opening and updating one."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from sources import lists
from sources.base import Lookup, Related, Source, cached
from sources.lists import ListPage, ListQuery
from sources.records import Ticket, TicketChange, TicketDraft


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

    async def ticket_list(self, query: ListQuery) -> ListPage[Ticket]:
        return await lists.page(self, "ticket_list", "/tickets/search", query, Ticket)

    async def ticket_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Ticket]]:
        """A page per key of the `per` filter, for the nested lists of many customers at once."""
        return await lists.pages(self, "ticket_pages", "/tickets/search", query, per, Ticket)

    async def open_ticket(self, key: str, draft: TicketDraft) -> Ticket:
        """POST /tickets with the idempotency key."""
        ticket = await self.send_write("open_ticket", "POST", "/tickets", msgspec.to_builtins(draft), Ticket, key)
        await self.forget_ticket(ticket)
        return ticket

    async def update_ticket(self, key: str, ticket_id: str, change: TicketChange) -> Ticket:
        """PATCH /tickets/{id}: a new status with a note."""
        ticket = await self.send_write(
            "update_ticket", "PATCH", f"/tickets/{ticket_id}", msgspec.to_builtins(change), Ticket, key
        )
        await self.forget_ticket(ticket)
        return ticket

    async def forget_ticket(self, ticket: Ticket) -> None:
        """The ticket and every list it is on are stale."""
        stale: dict[str, list[str]] = {"tickets": [ticket.id], "tickets_by_org": [ticket.org_id]}
        if ticket.order_id:
            stale["tickets_by_order"] = [ticket.order_id]
        if ticket.contract_number:
            stale["tickets_by_contract"] = [ticket.contract_number]
        await self.forget(stale)
