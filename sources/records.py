"""The records every source returns, whatever the backend behind it.

A demo REST system and a real ERP map onto the same records, so everything above
`sources/` works with either. Names follow the public contract (snake_case), so the
GraphQL types can read plain fields straight off a record. Enumerations are plain
Python enums here; the schema layer registers them with GraphQL.

Records are msgspec Structs: decoded from a backend's JSON and type-checked in one pass
in C (about 3.5 times less CPU than pydantic on the demo systems' answers, see
`scripts/decode_bench.py`), immutable, keyword-only, unknown fields ignored. They are
not tracked by the garbage collector (`gc=False`): a record holds only values and other
records, never a cycle, and the thousands a page decodes would otherwise lengthen every
collection. A decimal field must be finite (as pydantic required): "NaN" or "Infinity"
from a backend fails the decoding like any other malformed value.
"""

import datetime as dt
from decimal import Decimal
from enum import Enum
from types import UnionType
from typing import Any, TypeVar, dataclass_transform, get_args

import msgspec


class NotFinite(ValueError):
    """A decimal field given "NaN" or "Infinity". Decoding reports it as a msgspec.ValidationError."""


def _decimal_fields(annotations: dict[str, Any]) -> tuple[str, ...]:
    """The fields typed `Decimal` or `Decimal | None`."""
    return tuple(
        name
        for name, kind in annotations.items()
        if kind is Decimal or (isinstance(kind, UnionType) and Decimal in get_args(kind))
    )


def _finite(names: tuple[str, ...]) -> Any:
    """A `__post_init__` that raises NotFinite for a decimal field holding NaN or an infinity.

    Generated as straight-line code, as `dataclasses` generates `__init__`: it runs for every
    record decoded, and a loop over the names cost twice as much (`scripts/decode_bench.py`).
    The names are the class's own field names, identifiers by construction.
    """
    lines = ["def __post_init__(self):"]
    for name in names:
        lines.append(f"    if (value := self.{name}) is not None and not value.is_finite():")
        lines.append(f"        raise NotFinite('`{name}` is not a finite number')")
    namespace: dict[str, Any] = {"NotFinite": NotFinite}
    exec("\n".join(lines), namespace)
    return namespace["__post_init__"]


class _RecordMeta(msgspec.StructMeta):
    """Every record keyword-only (whatever the order of its defaults) and its decimals finite.

    msgspec looks `__post_init__` up when it builds the class, so the check is put in
    the class's namespace here, only for records with decimal fields.
    """

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any) -> Any:
        options.setdefault("kw_only", True)
        decimals = _decimal_fields(namespace.get("__annotations__", {}))
        if decimals:
            namespace["__post_init__"] = _finite(decimals)
        return super().__new__(mcls, name, bases, namespace, **options)


# For the type checker: what the metaclass makes of every subclass.
@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(msgspec.field,))
class Record(msgspec.Struct, metaclass=_RecordMeta, frozen=True, gc=False):
    """Base of every record."""


R = TypeVar("R", bound=Record)


def checked(record: R) -> R:
    """`record`, its fields type-checked as decoding checks them (msgspec.ValidationError if not).

    For a source that builds records field by field from its backend's answer (Tryton)
    rather than decoding them: a constructor checks names and decimals, not types.
    Records it holds are taken as they are: build them with `checked` too.
    """
    return msgspec.convert(msgspec.structs.asdict(record), type(record))


class CustomerTier(Enum):
    STRATEGIC = "STRATEGIC"
    KEY = "KEY"
    STANDARD = "STANDARD"
    SMALL = "SMALL"


class ContractStatus(Enum):
    DRAFT = "DRAFT"
    IN_APPROVAL = "IN_APPROVAL"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class ContractKind(Enum):
    SALES = "SALES"
    PURCHASE = "PURCHASE"
    SERVICE = "SERVICE"


class OrderStatus(Enum):
    DRAFT = "DRAFT"
    CONFIRMED = "CONFIRMED"
    PROCESSING = "PROCESSING"
    SHIPPED = "SHIPPED"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class InvoiceStatus(Enum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


class TicketStatus(Enum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class TicketKind(Enum):
    INQUIRY = "INQUIRY"
    COMPLAINT = "COMPLAINT"
    RETURN = "RETURN"
    REPAIR = "REPAIR"


# --- CRM -------------------------------------------------------------------


class Refs(Record):
    erp: str | None = None
    clm: str | None = None
    desk: str | None = None


class Customer(Record):
    id: str
    name: str
    name_local: str | None = None
    tax_id: str | None = None
    tier: CustomerTier | None = None
    industry: str | None = None
    region: str | None = None
    credit_rating: str | None = None
    owner_id: str | None = None
    team: str | None = None  # the owner's team, as the CRM files the customer
    last_activity_at: dt.datetime | None = None
    refs: Refs = Refs()


class CustomerPage(Record):
    items: list[Customer]
    total: int


class SalesRep(Record):
    id: str
    name: str
    email: str | None = None
    team: str | None = None


class Contact(Record):
    id: str
    customer_id: str
    name: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None


class Opportunity(Record):
    id: str
    customer_id: str
    name: str
    stage: str
    amount: Decimal | None = None
    close_date: dt.date | None = None
    probability: float | None = None


class Activity(Record):
    id: str
    customer_id: str
    kind: str
    subject: str
    at: dt.datetime
    by_rep_id: str | None = None


# --- ERP -------------------------------------------------------------------


class Party(Record):
    code: str
    name: str | None = None
    credit_limit: Decimal | None = None
    currency: str | None = None


class Product(Record):
    sku: str
    name: str
    name_local: str | None = None
    uom: str | None = None
    list_price: Decimal | None = None
    standard_cost: Decimal | None = None
    assembly_cost: Decimal = Decimal("0")
    currency: str | None = None
    kind: str | None = None
    tax_rate: Decimal | None = None  # the sales tax rate charged on it (0.19 for 19 %)


class Warehouse(Record):
    id: str
    name: str
    region: str | None = None


class BomLine(Record):
    parent_sku: str
    component_sku: str
    quantity: Decimal


class Receipt(Record):
    """A planned stock movement: a receipt (positive) or planned demand such as production
    consumption or a sale planned after today (negative)."""

    id: str
    kind: str
    expected_date: dt.date
    quantity: Decimal
    # The document the movement comes from in another system: a purchase-order line
    # ("PO-2026-00012/2", SRM) or a production order ("MO00042", MES); None when unknown.
    document: str | None = None
    # Which system `expected_date` comes from: the ERP's own plan, or (set by the gateway when it
    # re-dates the receipt) the SRM's latest supplier confirmation or the MES's planned end; then
    # `erp_date` keeps the ERP's.
    date_source: str = "ERP"
    erp_date: dt.date | None = None


class Stock(Record):
    sku: str
    warehouse: str
    on_hand: Decimal
    allocated: Decimal
    receipts: list[Receipt] = []


class OrderLine(Record):
    line_no: int
    sku: str
    quantity: Decimal
    shipped_quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None  # net: quantity x unit price
    unit_cost: Decimal | None = None
    tax_amount: Decimal | None = None


class Order(Record):
    """Amounts are net (before tax); `*_tax_amount` is the tax on the same part."""

    id: str
    number: str
    party_code: str
    contract_number: str | None = None
    status: OrderStatus
    ordered_at: dt.datetime | None = None
    promised_date: dt.date | None = None
    warehouse: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    shipped_amount: Decimal | None = None
    invoiced_amount: Decimal | None = None
    paid_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    invoiced_tax_amount: Decimal | None = None
    paid_tax_amount: Decimal | None = None
    lines: list[OrderLine] = []


class Instalment(Record):
    """One due date of an invoice and what falls due then (gross)."""

    due_date: dt.date | None = None
    amount: Decimal


class Invoice(Record):
    """A customer invoice, or a credit note (negative amounts)."""

    id: str
    number: str
    party_code: str
    order_id: str | None = None
    issued_at: dt.date | None = None
    due_date: dt.date | None = None
    amount: Decimal | None = None  # gross: net_amount + tax_amount
    paid_amount: Decimal | None = None  # of the gross amount
    status: InvoiceStatus
    currency: str | None = None
    net_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    instalments: list[Instalment] = []  # empty: one, of the whole amount, on `due_date`
    # The gross amount in the company's currency, when the invoice is in another (else None).
    company_amount: Decimal | None = None


class OpenItem(Record):
    """An open entry on a party's receivable that no invoice carries: a payment not matched to
    an invoice (negative), an opening balance carried over (positive), a manual entry."""

    id: str
    party_code: str
    date: dt.date | None = None
    due_date: dt.date | None = None
    amount: Decimal  # gross, signed: + the customer owes more, - less
    description: str | None = None
    currency: str | None = None


# --- CLM -------------------------------------------------------------------


class Milestone(Record):
    id: str
    name: str
    due_date: dt.date | None = None
    done_at: dt.date | None = None
    status: str


class Contract(Record):
    id: str
    number: str
    title: str
    kind: ContractKind
    status: ContractStatus
    counterparty_id: str
    signed_at: dt.date | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    amount: Decimal | None = None
    currency: str | None = None
    payment_terms: str | None = None
    milestones: list[Milestone] = []
    supplier_code: str | None = None  # a purchase contract's supplier (its SRM and ERP code)
    purchase_orders: list[str] = []  # a purchase contract's purchase-order numbers (SRM)


# --- DESK ------------------------------------------------------------------


class Ticket(Record):
    id: str
    org_id: str
    subject: str
    kind: TicketKind
    status: TicketStatus
    priority: str
    opened_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    sla_due_at: dt.datetime | None = None
    contract_number: str | None = None
    order_id: str | None = None


# --- writes: what the gateway sends, and what only the write path reads ----------------


class DraftLine(Record):
    sku: str
    quantity: Decimal
    unit_price: Decimal


class ApprovalDraft(Record):
    """Why a draft order waits: the level a rule asks for, the reasons, who asked."""

    level: str
    reasons: list[str]
    requested_by: str


class OrderDraft(Record):
    """A sales order to create: CONFIRMED, or DRAFT with the approval it waits for."""

    party_code: str
    status: str  # CONFIRMED or DRAFT
    warehouse: str | None = None
    contract_number: str | None = None
    promised_date: dt.date | None = None
    lines: list[DraftLine]
    approval: ApprovalDraft | None = None


class ApprovalRequest(Record):
    """An order's approval request as the ERP keeps it: PENDING until someone approves it."""

    order_id: str
    level: str
    reasons: list[str]
    requested_by: str
    requested_at: dt.datetime | None = None
    status: str
    decided_by: str | None = None
    decided_at: dt.datetime | None = None


class ActivityDraft(Record):
    customer_id: str
    kind: str
    subject: str
    by_rep_id: str | None = None


class TicketDraft(Record):
    org_id: str
    subject: str
    kind: str
    priority: str
    order_id: str | None = None
    contract_number: str | None = None


class TicketChange(Record):
    status: str
    note: str
    by: str | None = None


# --- SRM (procurement) -------------------------------------------------------


class Supplier(Record):
    """A supplier; its code is its party code in the ERP, `clm_ref` its counterparty in the CLM."""

    code: str
    name: str
    tax_id: str | None = None
    clm_ref: str | None = None
    currency: str | None = None
    payment_terms: str | None = None


class SupplierItem(Record):
    """What a supplier sells: its price and lead time for one SKU; `preferred` marks the usual source."""

    supplier_code: str
    sku: str
    category: str | None = None
    unit_price: Decimal | None = None
    lead_time_days: int | None = None
    preferred: bool = False


class PurchaseOrderLine(Record):
    line_no: int
    sku: str
    category: str | None = None
    warehouse: str | None = None
    quantity: Decimal
    unit_price: Decimal | None = None  # net
    promised_date: dt.date | None = None  # what the order was placed for
    confirmed_date: dt.date | None = None  # the supplier's latest confirmation (None: not confirmed)
    received_quantity: Decimal = Decimal("0")


class PurchaseOrder(Record):
    number: str
    supplier_code: str
    contract_number: str | None = None
    status: str  # OPEN, PARTIALLY_RECEIVED, RECEIVED, CANCELLED
    ordered_at: dt.date | None = None
    currency: str | None = None
    lines: list[PurchaseOrderLine] = []


class GoodsReceipt(Record):
    """A delivery received against a purchase-order line, with its incoming inspection."""

    id: str
    po_number: str
    line_no: int
    supplier_code: str
    sku: str
    received_at: dt.date
    quantity: Decimal
    accepted_quantity: Decimal
    rejected_quantity: Decimal
    defect_codes: list[str] = []


class SupplierInvoice(Record):
    """A supplier's invoice for a purchase order; `amount` is net."""

    id: str
    number: str
    supplier_code: str
    po_number: str | None = None
    issued_at: dt.date | None = None
    due_date: dt.date | None = None
    amount: Decimal
    status: str
    currency: str | None = None


class SupplierPayment(Record):
    id: str
    invoice_id: str
    paid_at: dt.date | None = None
    amount: Decimal


class Budget(Record):
    """A purchasing category's budget for a year, with what open orders commit and receipts spent."""

    category: str
    year: int
    amount: Decimal
    committed: Decimal
    spent: Decimal


# --- MES (shop floor and quality) ----------------------------------------------


class Operation(Record):
    seq: int
    name: str
    work_center: str | None = None
    status: str  # PENDING, RUNNING, DONE
    progress: Decimal  # 0..1


class ProductionOrder(Record):
    id: str
    sku: str
    warehouse: str | None = None
    quantity: Decimal
    status: str  # PLANNED, RELEASED, IN_PROGRESS, DONE
    sales_order_id: str | None = None  # make-to-order: the ERP sales order it is made for
    due_date: dt.date | None = None
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    finished_at: dt.date | None = None
    operations: list[Operation] = []


class QualityRecord(Record):
    id: str
    kind: str  # INCOMING, IN_PROCESS, FINAL
    lot_id: str | None = None
    production_order_id: str | None = None
    sku: str | None = None
    sales_order_id: str | None = None
    inspected_at: dt.date | None = None
    result: str  # PASS, CONDITIONAL, FAIL
    defects: list[str] = []
    disposition: str | None = None  # ACCEPT, USE_AS_IS, REWORK, SCRAP, HOLD, RETURN_TO_SUPPLIER


# --- ERP stock movements -------------------------------------------------------


class LastIssue(Record):
    """When stock of a SKU last left a warehouse (None: not within the ERP's history)."""

    sku: str
    warehouse: str
    last_issue_date: dt.date | None = None
