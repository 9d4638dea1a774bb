"""What one request carries through every resolver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resolvers.approvals import RulesFile
from resolvers.loaders import Loaders
from sources import SourceError
from sources.idempotency import IdempotencyStore

if TYPE_CHECKING:
    from resolvers.live import Live


@dataclass(frozen=True)
class Principal:
    """Who is asking: an authenticated user or service account."""

    id: str
    name: str | None = None
    roles: tuple[str, ...] = ()
    team: str | None = None


@dataclass
class Context:
    principal: Principal
    loaders: Loaders
    request_id: str
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    # Failures that cost part of a field but not all of it (a derived list built from
    # several systems while one of them is down): (path, error), reported beside the data.
    partial_failures: list[tuple[Any, SourceError]] = field(default_factory=list)
    # Figures derived from loaded records, computed once per request however many fields
    # need them (a customer's receivables feed `receivables`, `risk` and `alerts`).
    derived: dict[Any, Any] = field(default_factory=dict)
    # Authorisation, decided by the policy (policies/) and handed in by the gateway:
    # may the caller read a restricted `Type.field`, which fields are restricted, and
    # which customers the caller sees ("all", "team", "own", or None for none).
    can_read: Callable[[str], bool] = lambda field: True
    restricted: frozenset[str] = frozenset()
    scope: str | None = "all"
    # May the caller run `Mutation.<name>` (a `write` line), and does it hold a role (its own or inherited)?
    can_write: Callable[[str], bool] = lambda mutation: True
    holds_role: Callable[[str], bool] = lambda role: True
    # Idempotency keys and their outcomes (sources/idempotency.py), shared by the process's requests.
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    # The quote approval rules in force (resolvers/approvals.py), read from the file the settings name.
    approval_rules: RulesFile = field(default_factory=RulesFile)
    denied: set[str] = field(default_factory=set)
    # Credit exposure: receivables and uninvoiced orders both "gross" (default) or both "net".
    credit_basis: str = "gross"
    # Which policy decisions `can_read` stands for (policy version, roles): what an operation plan
    # compiled for this caller may be reused under. None: decisions of their own, never shared.
    decisions: tuple[Any, ...] | None = None
    # The process's subscriptions and the changes they hear of (resolvers/live.py): what a subscription opens.
    live: Live | None = None
    # Where this request's time went, in seconds per phase ("plan", "waiting", "completing", ...):
    # added up by the pipeline and the executor, reported by the metrics and the benchmark.
    phases: dict[str, float] = field(default_factory=dict)

    def spent(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    def report_partial(self, path: Any, error: SourceError) -> None:
        self.partial_failures.append((path, error))
