"""The set of sources the gateway talks to, created once at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sources.kinds import ClmBackend, CrmBackend, DeskBackend, ErpBackend, MesBackend, SourceKind, SrmBackend


@dataclass(frozen=True)
class Backends:
    """One source of each kind, typed by its kind so any backend that satisfies it fits."""

    crm: CrmBackend
    erp: ErpBackend
    clm: ClmBackend
    desk: DeskBackend
    srm: SrmBackend
    mes: MesBackend

    def all(self) -> tuple[SourceKind, ...]:
        return (self.crm, self.erp, self.clm, self.desk, self.srm, self.mes)

    async def aclose(self) -> None:
        await asyncio.gather(*(source.aclose() for source in self.all()))
