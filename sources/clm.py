"""The contract-management source: contracts with their milestones."""

from __future__ import annotations

from typing import Sequence

from sources.base import Result, Source
from sources.records import Contract


class ClmSource(Source):
    name = "CLM"

    async def contracts(self, ids: Sequence[str]) -> list[Result]:
        return await self.one_per_key("contracts", "/contracts", "ids", ids, Contract, "id")

    async def contracts_by_number(self, numbers: Sequence[str]) -> list[Result]:
        return await self.one_per_key("contracts_by_number", "/contracts", "numbers", numbers, Contract, "number")

    async def contracts_by_counterparty(self, ids: Sequence[str]) -> list[Result]:
        return await self.many_per_key(
            "contracts_by_counterparty", "/contracts", "counterparty", ids, Contract, "counterparty_id"
        )
