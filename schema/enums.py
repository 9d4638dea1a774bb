"""The contract's enumerations, registered with GraphQL from the plain enums below the schema.

`strawberry.enum` marks the class itself and returns it, so the names here are the plain
enums: resolvers and records compare against the same members the schema serialises.
"""

import strawberry

from resolvers.alerts import AlertKind, SourceName
from resolvers.risk import RiskLevel
from sources.records import (
    ContractKind,
    ContractStatus,
    CustomerTier,
    InvoiceStatus,
    OrderStatus,
    TicketKind,
    TicketStatus,
)

for _enum in (
    CustomerTier,
    ContractStatus,
    ContractKind,
    OrderStatus,
    InvoiceStatus,
    TicketStatus,
    TicketKind,
    RiskLevel,
    AlertKind,
    SourceName,
):
    strawberry.enum(_enum)

__all__ = [
    "AlertKind",
    "ContractKind",
    "ContractStatus",
    "CustomerTier",
    "InvoiceStatus",
    "OrderStatus",
    "RiskLevel",
    "SourceName",
    "TicketKind",
    "TicketStatus",
]
