"""Typed async clients for the systems of record. Nothing here knows GraphQL or users."""

from sources import deadline, freshness, trace
from sources.backends import Backends
from sources.clm import ClmSource
from sources.crm import CrmSource
from sources.desk import DeskSource
from sources.erp import ErpSource
from sources.errors import SourceBadResponse, SourceError, SourceTimeout, SourceUnavailable
from sources.http import BackendClient
from sources.mes import MesSource
from sources.srm import SrmSource

__all__ = [
    "deadline",
    "freshness",
    "trace",
    "BackendClient",
    "Backends",
    "ClmSource",
    "CrmSource",
    "DeskSource",
    "ErpSource",
    "MesSource",
    "SrmSource",
    "SourceBadResponse",
    "SourceError",
    "SourceTimeout",
    "SourceUnavailable",
]
