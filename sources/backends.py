"""The set of sources the gateway talks to, created once at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sources.clm import ClmSource
from sources.crm import CrmSource
from sources.desk import DeskSource
from sources.erp import ErpSource


@dataclass(frozen=True)
class Backends:
    crm: CrmSource
    erp: ErpSource
    clm: ClmSource
    desk: DeskSource

    def all(self) -> tuple[CrmSource, ErpSource, ClmSource, DeskSource]:
        return (self.crm, self.erp, self.clm, self.desk)

    async def aclose(self) -> None:
        await asyncio.gather(*(source.aclose() for source in self.all()))
