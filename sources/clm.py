"""The contract-management source: contracts with their milestones."""

from __future__ import annotations

from collections.abc import Sequence

from sources import lists
from sources.base import Lookup, Related, Source, cached
from sources.lists import ListPage, ListQuery
from sources.records import Contract


class ClmSource(Source):
    name = "CLM"

    @cached("master")
    async def contracts(self, ids: Sequence[str]) -> Lookup[Contract]:
        return await self.one_per_key("contracts", "/contracts", "ids", ids, Contract, "id")

    @cached("master")
    async def contracts_by_number(self, numbers: Sequence[str]) -> Lookup[Contract]:
        return await self.one_per_key("contracts_by_number", "/contracts", "numbers", numbers, Contract, "number")

    async def contract_list(self, query: ListQuery) -> ListPage[Contract]:
        return await lists.page(self, "contract_list", "/contracts/search", query, Contract)

    async def contract_pages(self, query: ListQuery, per: str) -> dict[str, ListPage[Contract]]:
        """A page per key of the `per` filter, for the nested lists of many customers at once."""
        return await lists.pages(self, "contract_pages", "/contracts/search", query, per, Contract)

    @cached("master")
    async def contracts_by_counterparty(self, ids: Sequence[str]) -> Related[Contract]:
        return await self.many_per_key(
            "contracts_by_counterparty", "/contracts", "counterparty", ids, Contract, "counterparty_id"
        )

    @cached("master")
    async def contracts_by_supplier(self, codes: Sequence[str]) -> Related[Contract]:
        """The purchase contracts naming each SRM supplier code."""
        return await self.many_per_key(
            "contracts_by_supplier", "/contracts", "supplier", codes, Contract, "supplier_code"
        )
