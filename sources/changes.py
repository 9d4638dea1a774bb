"""Change events from the systems of record: what one makes stale, and what it is about.

A system announces a change with its kind (`invoice.overdue`, `payment.received`,
`order.status_changed`, `contract.milestone_changed`, `ticket.updated`, `activity.logged`, ...)
and the keys of the records it touched (`data`). `stale` maps it to exactly the cache entries
(source, method, keys) whose data it changed, the same entries a write through the gateway
drops (`forget_order`, `forget_ticket`, ...); `customers` and `orders` name what it is about,
by the system's own keys, for the subscriptions. A kind this module does not know stales what
its keys name, so a new kind of event from a known system is never ignored.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import msgspec

SYSTEMS = ("crm", "erp", "clm", "desk")
# Event kinds whose change reaches a party's balances (invoices, open items and credit used).
BALANCE_KINDS = ("invoice.", "payment.", "credit_note.")


class ChangeData(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The keys a change names; each system fills those of its records."""

    customer_id: str | None = None  # CRM
    party_code: str | None = None  # ERP
    order_id: str | None = None
    invoice_id: str | None = None
    skus: list[str] = []
    contract_id: str | None = None  # CLM
    contract_number: str | None = None
    counterparty_id: str | None = None
    supplier_code: str | None = None  # a purchase contract's supplier
    ticket_id: str | None = None  # DESK
    org_id: str | None = None


class Envelope(msgspec.Struct, frozen=True):
    """A webhook's body, as Standard Webhooks shape it."""

    type: str
    data: ChangeData
    timestamp: str | None = None


class Change(msgspec.Struct, frozen=True):
    """One accepted change: the system that made it, the event's id and its body."""

    system: str
    id: str
    type: str
    data: ChangeData

    def stale(self) -> dict[str, dict[str, list[Hashable]]]:
        """Per source name, the methods and keys whose cached data this change made stale."""
        d = self.data
        found: dict[str, list[Hashable]] = {}

        def add(method: str, *keys: str | None) -> None:
            wanted = [key for key in keys if key]
            if wanted:
                found.setdefault(method, []).extend(wanted)

        if self.system == "erp":
            if self.type.startswith(BALANCE_KINDS):
                add("invoices_by_party", d.party_code)
                add("open_items_by_party", d.party_code)
            if d.order_id:  # an order's own figures: status, shipped, invoiced, paid
                add("orders", d.order_id)
                add("orders_by_party", d.party_code)
            add("stock", *d.skus)
        elif self.system == "clm":
            add("contracts", d.contract_id)
            add("contracts_by_number", d.contract_number)
            add("contracts_by_counterparty", d.counterparty_id)
            add("contracts_by_supplier", d.supplier_code)
        elif self.system == "desk":
            add("tickets", d.ticket_id)
            add("tickets_by_org", d.org_id)
            add("tickets_by_order", d.order_id)
            add("tickets_by_contract", d.contract_number)
        elif self.system == "crm":
            if self.type.startswith("activity."):
                add("activities_by_customer", d.customer_id)
            else:
                add("customers", d.customer_id)
        return {self.system.upper(): found} if found else {}

    def customers(self) -> list[tuple[str, str]]:
        """The customers it is about, by (system, that system's key): ("erp", party code), ("crm", id), ..."""
        d = self.data
        key = {"crm": d.customer_id, "erp": d.party_code, "clm": d.counterparty_id, "desk": d.org_id}[self.system]
        return [(self.system, key)] if key else []

    def orders(self) -> Sequence[str]:
        """The ERP orders it is about."""
        return [self.data.order_id] if self.system in ("erp", "desk") and self.data.order_id else []


def decode(system: str, event_id: str, body: bytes) -> Change:
    """The change a webhook's body carries; `msgspec.DecodeError` (a ValidationError too) when it is not one."""
    envelope = msgspec.json.decode(body, type=Envelope)
    return Change(system, event_id, envelope.type, envelope.data)
