"""The set of sources the gateway talks to, created once at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sources.invalidation import Invalidation
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
    # Drops what a write made stale, here and (through Redis) in every replica.
    invalidation: Invalidation = field(default_factory=lambda: Invalidation(None))

    def all(self) -> tuple[SourceKind, ...]:
        return (self.crm, self.erp, self.clm, self.desk, self.srm, self.mes)

    async def aclose(self) -> None:
        await asyncio.gather(*(source.aclose() for source in self.all()))
