"""A second subgraph for the composition test: marketing's view of a customer.

It owns campaigns and a customer's `segment`; everything else about a customer
comes from Isthmus through the router. A campaign's targets are the customer ids
in MARKETING_TARGETS (comma-separated), so the test decides what the router asks
Isthmus for. Run: `uvicorn marketing:app` in this folder.
"""

from __future__ import annotations

import hashlib
import os

import strawberry
from strawberry.asgi import GraphQL

SEGMENTS = ("enterprise", "mid-market", "smb")


def segment_of(customer_id: str) -> str:
    return SEGMENTS[hashlib.sha256(customer_id.encode()).digest()[0] % len(SEGMENTS)]


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @strawberry.field
    def segment(self) -> str:
        return segment_of(str(self.id))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "Customer":
        return cls(id=id)


@strawberry.type
class Campaign:
    id: strawberry.ID
    name: str

    @strawberry.field
    def targets(self) -> list[Customer]:
        ids = [i for i in os.environ.get("MARKETING_TARGETS", "").split(",") if i]
        return [Customer(id=strawberry.ID(i)) for i in ids]


@strawberry.type
class Query:
    @strawberry.field
    def campaign(self, id: strawberry.ID) -> Campaign | None:
        return Campaign(id=id, name=f"Campaign {id}")


schema = strawberry.federation.Schema(query=Query, types=[Customer], federation_version="2.9")
app = GraphQL(schema)
