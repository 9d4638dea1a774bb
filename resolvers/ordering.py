"""Placing an order from a quote, and approving one that waits for approval.

`place_order` evaluates the quote itself (`resolvers.quote.evaluate`: prices from the
quantities and unit prices, the ERP's taxes, ATP, credit, the approval rules), never
trusting figures a client sends, then writes:

1. ERP: the sales order, CONFIRMED; or, where a rule asks for approval, a DRAFT with its
   approval request (the level and the reasons), which reserves no stock and uses no credit;
2. CRM: an activity on the customer saying so.

`approve_order` lets a caller who holds the role the request's level names
(SALES_MANAGER -> sales_manager, FINANCE -> finance, EXECUTIVE -> executive, or a role
that inherits it) confirm the draft in the ERP, then logs it in the CRM. The multi-step
contract is `resolvers/writes.py`'s: the order step's body is recorded before it is sent,
so a retry with the same key resends it unchanged, whatever the stock or credit is by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec

from resolvers import customers, lookups
from resolvers import quote as quoting
from resolvers.access import Forbidden
from resolvers.availability import Availability
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.writes import Step, failed_step, once, previous, rejected_input, save, step_key
from sources.errors import SourceError, SourceRejected
from sources.idempotency import Progress
from sources.records import (
    Activity,
    ActivityDraft,
    ApprovalDraft,
    ApprovalRequest,
    Customer,
    DraftLine,
    Order,
    OrderDraft,
)

ORDER_FIELDS = {"party_code": "input.customerId", "lines": "input.lines", "warehouse": "input.warehouse"}


class Placement(msgspec.Struct, kw_only=True):
    """What placing (or approving) an order came to; kept as the key's outcome."""

    status: str  # PLACED, PENDING_APPROVAL, INCOMPLETE
    customer_id: str
    order: Order | None = None
    approval: ApprovalRequest | None = None
    activity: Activity | None = None
    steps: list[Step] = []
    draft: OrderDraft | None = None  # what the order step sends (recorded before it is sent)


def arguments_of(
    customer_id: str,
    lines: Sequence[quoting.LineInput],
    currency: str | None,
    warehouse: str | None,
    contract_id: str | None,
) -> dict[str, Any]:
    """The input as the key's fingerprint sees it (numbers as written, so 2 and 2.0 differ as in the JSON)."""
    return {
        "customerId": customer_id,
        "lines": [
            {
                "sku": line.sku,
                "quantity": str(line.quantity),
                "unitPrice": str(line.unit_price),
                "requestedDate": line.requested_date.isoformat() if line.requested_date else None,
            }
            for line in lines
        ],
        "currency": currency,
        "warehouse": warehouse,
        "contractId": contract_id,
    }


async def place_order(
    ctx: Context,
    *,
    key: str,
    customer_id: str,
    lines: Sequence[quoting.LineInput],
    currency: str | None,
    warehouse: str | None,
    contract_id: str | None,
    path: Any,
) -> Placement:
    arguments = arguments_of(customer_id, lines, currency, warehouse, contract_id)

    async def work(progress: Progress) -> tuple[Placement, bool]:
        customer = await customers.customer_by_id(ctx, customer_id)
        before = previous(progress, Placement)
        draft = before.draft if before is not None else None
        if draft is None:
            draft = await _draft(ctx, customer, lines, currency, warehouse, contract_id)
        placement = before or Placement(status="INCOMPLETE", customer_id=customer.id, draft=draft)
        placement.draft = draft
        if placement.order is None:
            await save(progress, placement)  # the body is known before it is sent: a retry resends it
            placement.order = await _create(ctx, key, draft)
            placement.steps = [Step(name="order", system="ERP", done=True, reference=placement.order.id)]
            if draft.approval is not None:
                placement.approval = ApprovalRequest(
                    order_id=placement.order.id,
                    level=draft.approval.level,
                    reasons=draft.approval.reasons,
                    requested_by=draft.approval.requested_by,
                    requested_at=placement.order.ordered_at,
                    status="PENDING",
                )
        order = placement.order
        subject = (
            f"Order {order.number} placed: {order.total} {order.currency or 'EUR'} net"
            if draft.approval is None
            else f"Order {order.number} ({order.total} {order.currency or 'EUR'} net) awaits "
            f"{draft.approval.level.replace('_', ' ').lower()} approval"
        )
        final = await _log(ctx, key, "activity", customer, subject, placement, path)
        placement.status = ("PLACED" if draft.approval is None else "PENDING_APPROVAL") if final else "INCOMPLETE"
        return placement, final

    return await once(ctx, "placeOrder", key, arguments, Placement, work)


async def _draft(
    ctx: Context,
    customer: Customer,
    lines: Sequence[quoting.LineInput],
    currency: str | None,
    warehouse: str | None,
    contract_id: str | None,
) -> OrderDraft:
    """The order to send: the quote as the gateway evaluates it now, and the approval it needs."""
    if not customer.refs.erp:
        raise BadUserInput(f"`input.customerId`: customer {customer.id!r} has no account in the ERP to order on.")
    contract_number = None
    if contract_id is not None:
        contract = await lookups.contract_by_id(ctx, contract_id)
        if contract.counterparty_id != customer.refs.clm:
            raise BadUserInput(f"`input.contractId`: contract {contract_id!r} is not a contract of this customer.")
        contract_number = contract.number
    evaluation = await quoting.evaluate(
        ctx, customer_id=customer.id, lines=lines, currency=currency, warehouse=warehouse
    )
    problems = [f"`input.lines[{i}].sku`: no product {lines[i].sku!r}" for i in evaluation.invalid_lines]
    for line in evaluation.lines:
        if isinstance(line.availability, SourceError):
            raise line.availability  # availability unknown: nothing is written
        if isinstance(line.availability, Availability) and line.availability.promise_date is None:
            problems.append(
                f"`input.lines[{line.index}].quantity`: {line.quantity} of {line.sku} cannot be promised "
                "from the stock and receipts on the books"
            )
    if problems:
        raise BadUserInput("The order cannot be placed: " + "; ".join(problems) + ". Nothing was written.")
    approval = evaluation.approval
    assert approval is not None  # evaluated with every part wanted
    return OrderDraft(
        party_code=customer.refs.erp,
        status="DRAFT" if approval.required else "CONFIRMED",
        warehouse=warehouse,
        contract_number=contract_number,
        promised_date=evaluation.earliest_complete_date,
        lines=[DraftLine(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price) for line in lines],
        approval=(
            ApprovalDraft(level=approval.level or "", reasons=approval.reasons, requested_by=ctx.principal.id)
            if approval.required
            else None
        ),
    )


async def _create(ctx: Context, key: str, draft: OrderDraft) -> Order:
    try:
        return await ctx.loaders.backends.erp.create_order(step_key(ctx, key, "order"), draft)
    except SourceRejected as exc:
        raise rejected_input(exc, ORDER_FIELDS) from None


async def _log(
    ctx: Context, key: str, step: str, customer: Customer, subject: str, placement: Placement, path: Any
) -> bool:
    """The CRM step: an activity on the customer. False (and the error beside the data) when it failed."""
    if placement.activity is not None:
        return True
    recorded = Step(name=step, system="CRM")
    placement.steps = [s for s in placement.steps if s.name != step] + [recorded]
    try:
        by = ctx.principal.id if await ctx.loaders.sales_rep_by_id.load(ctx.principal.id) is not None else None
        draft = ActivityDraft(customer_id=customer.id, kind="NOTE", subject=subject, by_rep_id=by)
        placement.activity = await ctx.loaders.backends.crm.log_activity(step_key(ctx, key, step), draft)
    except SourceError as exc:
        failed_step(recorded, exc)
        ctx.report_partial(path, exc)
        return False
    recorded.done, recorded.reference = True, placement.activity.id
    return True


async def approve_order(ctx: Context, *, key: str, order_id: str, path: Any) -> Placement:
    async def work(progress: Progress) -> tuple[Placement, bool]:
        order = await lookups.order_by_id(ctx, order_id)
        customer = await ctx.loaders.customer_by_erp_ref.load(order.party_code)
        if customer is None:
            raise BadUserInput(f"`orderId`: order {order_id!r} has no customer in the CRM.")
        placement = previous(progress, Placement) or Placement(status="INCOMPLETE", customer_id=customer.id)
        if placement.approval is None or placement.approval.status != "APPROVED":
            requests = await ctx.loaders.backends.erp.approvals([order.id])
            pending = next((r for r in requests if r.status == "PENDING"), None)
            if pending is None:
                raise BadUserInput(f"`orderId`: order {order_id!r} has no approval waiting.")
            if not ctx.holds_role(pending.level.lower()):
                raise Forbidden(f"Not authorised to approve at level {pending.level}.")
            try:
                placement.order = await ctx.loaders.backends.erp.confirm_order(
                    step_key(ctx, key, "confirm"), order.id, ctx.principal.id
                )
            except SourceRejected as exc:
                raise rejected_input(exc, {}) from None
            placement.approval = msgspec.structs.replace(
                pending, status="APPROVED", decided_by=ctx.principal.id, decided_at=dt.datetime.now(dt.UTC)
            )
            placement.steps = [Step(name="confirm", system="ERP", done=True, reference=order.id)]
            await save(progress, placement)
        confirmed = placement.order or order
        subject = f"Order {confirmed.number} approved ({placement.approval.level.replace('_', ' ').lower()})"
        final = await _log(ctx, key, "activity", customer, subject, placement, path)
        placement.status = "PLACED" if final else "INCOMPLETE"
        return placement, final

    return await once(ctx, "approveOrder", key, {"orderId": order_id}, Placement, work)
