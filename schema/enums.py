"""The contract's enumerations, registered with GraphQL from the plain enums below the schema."""

import strawberry

from resolvers.alerts import AlertKind as _AlertKind
from resolvers.alerts import SourceName as _SourceName
from resolvers.risk import RiskLevel as _RiskLevel
from sources import records

CustomerTier = strawberry.enum(records.CustomerTier)
ContractStatus = strawberry.enum(records.ContractStatus)
ContractKind = strawberry.enum(records.ContractKind)
OrderStatus = strawberry.enum(records.OrderStatus)
InvoiceStatus = strawberry.enum(records.InvoiceStatus)
TicketStatus = strawberry.enum(records.TicketStatus)
TicketKind = strawberry.enum(records.TicketKind)
RiskLevel = strawberry.enum(_RiskLevel)
AlertKind = strawberry.enum(_AlertKind)
SourceName = strawberry.enum(_SourceName)
