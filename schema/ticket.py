"""Service tickets from the desk."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info

from resolvers import relations
from schema.enums import TicketKind, TicketStatus

if TYPE_CHECKING:  # the lazy references below, for the type checker; strawberry resolves them at build time
    from schema.contract import Contract
    from schema.customer import Customer
    from schema.order import SalesOrder

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customer")]
ContractRef = Annotated["Contract", strawberry.lazy("schema.contract")]
SalesOrderRef = Annotated["SalesOrder", strawberry.lazy("schema.order")]


@strawberry.federation.type(keys=["id"])
class ServiceTicket:
    id: strawberry.ID
    subject: str
    kind: TicketKind
    status: TicketStatus
    priority: str
    opened_at: dt.datetime | None
    resolved_at: dt.datetime | None
    sla_due_at: dt.datetime | None

    @strawberry.field(description="Resolved after its SLA due time, or still open past it.")
    def sla_breached(self) -> bool | None:
        if self.sla_due_at is None:
            return None
        return (self.resolved_at or dt.datetime.now(dt.UTC)) > self.sla_due_at

    @strawberry.field
    async def customer(self, info: Info) -> CustomerRef | None:
        return await relations.visible_customer_of_ticket(info.context, self)

    @strawberry.field
    async def contract(self, info: Info) -> ContractRef | None:
        return await relations.contract_of_number(info.context, self.contract_number)

    @strawberry.field
    async def order(self, info: Info) -> SalesOrderRef | None:
        return await relations.order_of_id(info.context, self.order_id)
