"""The CRM source: customers, sales reps, contacts, opportunities, activities; and logging an activity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from sources import lists
from sources.base import Lookup, Related, Source, cached
from sources.lists import ListPage, ListQuery
from sources.records import Activity, ActivityDraft, Contact, Customer, Opportunity, SalesRep

RefSystem = Literal["erp", "clm", "desk"]

# Activities are fetched to this depth once per customer; `activities(last:)` slices.
ACTIVITIES_DEPTH = 50


class CrmSource(Source):
    name = "CRM"

    @cached("master")
    async def customers(self, ids: Sequence[str]) -> Lookup[Customer]:
        return await self.one_per_key("customers", "/customers", "ids", ids, Customer, "id")

    @cached("master")
    async def customers_by_ref(self, system: RefSystem, refs: Sequence[str]) -> Lookup[Customer]:
        """The way back from another system's key to the CRM customer (None when unknown)."""
        items = await self.fetch_by_keys(
            f"customers_by_{system}_ref", "/customers/by-ref", "refs", refs, Customer, system=system
        )
        found = {getattr(item.refs, system): item for item in items}
        return [found.get(ref) for ref in refs]

    async def customer_list(self, query: ListQuery) -> ListPage[Customer]:
        """A page of customers (`/customers/search` with filters, sort and keyset): the `customers` list, its
        worklist filters and its `risk` candidates. Every parameter, the row-level filters included, is part of
        the cache key."""
        return await lists.page(self, "customer_list", "/customers/search", query, Customer)

    async def customer_keys(self, system: str, filters: Sequence[tuple[str, str]]) -> list[str]:
        """The ids (`system="crm"`) or refs in `system` of every customer matching `filters`."""
        return await lists.keys(
            self, f"customer_keys({system})", "/customers/keys", {**dict(filters), "system": system}
        )

    async def opportunity_list(self, query: ListQuery) -> ListPage[Opportunity]:
        return await lists.page(self, "opportunity_list", "/opportunities/search", query, Opportunity)

    @cached("master")
    async def reps(self, ids: Sequence[str]) -> Lookup[SalesRep]:
        return await self.one_per_key("reps", "/reps", "ids", ids, SalesRep, "id")

    @cached("master")
    async def contacts_by_customer(self, ids: Sequence[str]) -> Related[Contact]:
        return await self.many_per_key("contacts_by_customer", "/contacts", "customer", ids, Contact, "customer_id")

    @cached("master")
    async def opportunities_by_customer(self, ids: Sequence[str]) -> Related[Opportunity]:
        return await self.many_per_key(
            "opportunities_by_customer", "/opportunities", "customer", ids, Opportunity, "customer_id"
        )

    @cached("activity")
    async def activities_by_customer(self, ids: Sequence[str]) -> Related[Activity]:
        return await self.many_per_key(
            "activities_by_customer",
            "/activities",
            "customer",
            ids,
            Activity,
            "customer_id",
            last=str(ACTIVITIES_DEPTH),
        )

    async def log_activity(self, key: str, draft: ActivityDraft) -> Activity:
        """POST /activities with the idempotency key; the customer's activities are stale after it."""
        activity = await self.send_write(
            "log_activity", "POST", "/activities", msgspec.to_builtins(draft), Activity, key
        )
        await self.forget({"activities_by_customer": [activity.customer_id]})
        return activity
