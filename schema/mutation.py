"""The root Mutation: writes through to the systems of record (resolvers/writes.py has the contract).

Each field is decided by the policy (`Mutation.<name>`, action `write`) before its resolver
runs (the field guard of `schema.reference`), and takes the caller's `idempotencyKey`. A
payload is null only when the mutation failed as a whole (with its coded error); an order
whose later step failed answers `status: INCOMPLETE` with its `steps`.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import Info

from resolvers import engagement, ordering
from schema.customer import Activity
from schema.enums import TicketKind, TicketStatus
from schema.order import SalesOrder
from schema.quote import QuoteLineInput
from schema.ticket import ServiceTicket

KEY_DESCRIPTION = (
    "The caller's key for this write (1 to 100 printable ASCII characters, no spaces): the same key and input "
    "answer the same outcome and write once; another input with it is refused (IDEMPOTENCY_KEY_REUSED)."
)
Key = Annotated[str, strawberry.argument(description=KEY_DESCRIPTION)]


@strawberry.enum(description="What placing or approving an order came to.")
class PlacementStatus(Enum):
    PLACED = "PLACED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    INCOMPLETE = "INCOMPLETE"


@strawberry.enum
class ActivityKind(Enum):
    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    VISIT = "VISIT"
    NOTE = "NOTE"


@strawberry.enum
class TicketPriority(Enum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


@strawberry.input(description="An order from a draft quote: the gateway evaluates it again and writes it.")
class PlaceOrderInput:
    customer_id: strawberry.ID = strawberry.field(description="The CRM customer id.")
    lines: list[QuoteLineInput] = strawberry.field(description="1 to 200 lines, as for `quote`.")
    currency: str | None = strawberry.field(default=None, description="EUR or null, as for `quote`.")
    warehouse: strawberry.ID | None = strawberry.field(
        default=None, description="The warehouse to ship from and check availability in; all when null."
    )
    contract_id: strawberry.ID | None = strawberry.field(
        default=None, description="A contract of the customer the order is placed under."
    )


@strawberry.input
class LogActivityInput:
    customer_id: strawberry.ID
    kind: ActivityKind
    subject: str = strawberry.field(description="1 to 200 printable characters.")


@strawberry.input
class OpenTicketInput:
    customer_id: strawberry.ID
    subject: str = strawberry.field(description="1 to 200 printable characters.")
    kind: TicketKind
    priority: TicketPriority = TicketPriority.P3
    order_id: strawberry.ID | None = strawberry.field(default=None, description="An order of the customer.")
    contract_id: strawberry.ID | None = strawberry.field(default=None, description="A contract of the customer.")


@strawberry.input
class UpdateTicketStatusInput:
    ticket_id: strawberry.ID
    status: TicketStatus
    note: str = strawberry.field(description="Why, in 1 to 2,000 printable characters; kept with the ticket.")


@strawberry.type(description="One write of a mutation, to the system that owns the record.")
class WriteStep:
    name: str = strawberry.field(description="order, confirm, activity, ...")
    system: str = strawberry.field(description="ERP, CRM or DESK.")
    done: bool
    reference: strawberry.ID | None = strawberry.field(description="The id of the record it made.")
    error_code: str | None = strawberry.field(description="Why it was not done: the failing system's error code.")
    message: str | None


@strawberry.type(description="An order's approval request, kept in the ERP with the draft order.")
class ApprovalRequest:
    order_id: strawberry.ID
    level: str = strawberry.field(description="The level the rules ask for (policies/approvals.toml).")
    reasons: list[str] = strawberry.field(description="Every applying rule, in words.")
    status: str = strawberry.field(description="PENDING or APPROVED.")
    requested_by: str
    requested_at: dt.datetime | None
    decided_by: str | None
    decided_at: dt.datetime | None


@strawberry.type(description="What placing or approving an order came to.")
class OrderPlacement:
    order: SalesOrder | None = strawberry.field(description="The order in the ERP, as it answered the write.")
    approval: ApprovalRequest | None = strawberry.field(description="The approval the order waits for, or got.")
    activity: Activity | None = strawberry.field(description="The activity logged on the customer (CRM).")
    steps: list[WriteStep] = strawberry.field(description="Every write, in order, done or not.")

    @strawberry.field(
        description="PLACED: confirmed and logged; PENDING_APPROVAL: a draft waits for approval; "
        "INCOMPLETE: a later step failed (see steps); retry with the same key."
    )
    def status(self) -> PlacementStatus:
        return PlacementStatus(self.status)  # the outcome's own status string


@strawberry.type
class ActivityLogged:
    activity: Activity


@strawberry.type
class TicketChanged:
    ticket: ServiceTicket


@strawberry.type(description="Writes to the systems of record: authorised, idempotent, read-your-writes.")
class Mutation:
    @strawberry.field(
        description="Place an order from a draft quote. The gateway prices it again (ATP, credit, approval rules) "
        "and creates it in the ERP, confirmed, or as a draft waiting for the approval a rule asks for; then logs it "
        "in the CRM."
    )
    async def place_order(
        self,
        info: Info,
        input: PlaceOrderInput,
        idempotency_key: Key,
    ) -> OrderPlacement | None:
        return await ordering.place_order(  # type: ignore[return-value]  # the outcome record, read by name
            info.context,
            key=idempotency_key,
            customer_id=input.customer_id,
            lines=input.lines,
            currency=input.currency,
            warehouse=input.warehouse,
            contract_id=input.contract_id,
            path=info.path,
        )

    @strawberry.field(
        description="Approve an order waiting for approval, as a holder of the role its level names; the ERP "
        "confirms it."
    )
    async def approve_order(
        self,
        info: Info,
        order_id: strawberry.ID,
        idempotency_key: Key,
    ) -> OrderPlacement | None:
        return await ordering.approve_order(  # type: ignore[return-value]
            info.context, key=idempotency_key, order_id=order_id, path=info.path
        )

    @strawberry.field(description="Log a call, e-mail, meeting, visit or note on a customer (CRM).")
    async def log_activity(
        self,
        info: Info,
        input: LogActivityInput,
        idempotency_key: Key,
    ) -> ActivityLogged | None:
        return await engagement.log_activity(  # type: ignore[return-value]
            info.context,
            key=idempotency_key,
            customer_id=input.customer_id,
            kind=input.kind.value,
            subject=input.subject,
        )

    @strawberry.field(description="Open a service ticket for a customer, tied to one of its orders or contracts.")
    async def open_ticket(
        self,
        info: Info,
        input: OpenTicketInput,
        idempotency_key: Key,
    ) -> TicketChanged | None:
        return await engagement.open_ticket(  # type: ignore[return-value]
            info.context,
            key=idempotency_key,
            customer_id=input.customer_id,
            subject=input.subject,
            kind=input.kind.value,
            priority=input.priority.value,
            order_id=input.order_id,
            contract_id=input.contract_id,
        )

    @strawberry.field(description="Move a ticket to a new status, with a note.")
    async def update_ticket_status(
        self,
        info: Info,
        input: UpdateTicketStatusInput,
        idempotency_key: Key,
    ) -> TicketChanged | None:
        return await engagement.update_ticket_status(  # type: ignore[return-value]
            info.context,
            key=idempotency_key,
            ticket_id=input.ticket_id,
            status=input.status.value,
            note=input.note,
        )
