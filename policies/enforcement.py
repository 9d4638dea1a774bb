"""Casbin decides who may read what: restricted fields, and which customers a caller sees;
and who may write what: each mutation (`Mutation.<name>`, action `write`), denied unless a
line allows it for one of the caller's roles.

The policy is files an administrator edits (`model.conf`, `policy.csv`). They are
re-read when they change (checked at most once a second, by the reloader of
`policies/reloading.py`, which serves the approval rules too); a file that does not
load is refused, the previous policy stays in force, and the error is logged.

A derived field is decided with the fields it is computed from (`derivations`):
denied unless the caller may read all of them, or the policy accepts the derivation
for one of the caller's roles with a `derive` line.

Decisions depend only on the caller's roles and the policy, so each
(roles, `Type.field`) is asked of Casbin once and remembered until the policy
changes: authorisation costs a dictionary look-up per restricted field.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import casbin

from policies.derivations import Derivation, Finding, report, restricted_by_derivation
from policies.reloading import Watched

log = logging.getLogger("isthmus.policy")

HERE = Path(__file__).resolve().parent
SCOPES = ("all", "team", "own")  # widest first
DOCUMENTS = ("any", "trusted")  # widest first: `documents:any` / `documents:trusted`, action `execute`
ACTIONS = ("read", "derive", "scope", "execute", "write")
TRACE = "debug:trace"  # action `execute`: may ask for a per-request trace of backend calls
CHECK_EVERY = 1.0  # seconds between looks at the files' modification times


@dataclass(frozen=True)
class Policy:
    enforcer: casbin.Enforcer
    named: frozenset[str]  # every `Type.field` a `read` line names
    restricted: frozenset[str]  # those, and every derived field computed from one of them
    mutations: frozenset[str]  # every `Mutation.<name>` a `write` line names
    version: int
    digest: str  # SHA-256 of model and policy text: equal on replicas that read the same files


class Authorizer:
    def __init__(
        self,
        model: Path = HERE / "model.conf",
        policy: Path = HERE / "policy.csv",
        derivations: Mapping[str, Derivation] | None = None,
    ) -> None:
        self.model_path = Path(model)
        self.policy_path = Path(policy)
        self.derivations = dict(derivations or {})
        _refuse_cycles(self.derivations)
        # The files, re-read when they change (policies/reloading.py); decisions are forgotten first.
        self._watch = Watched(
            (self.model_path, self.policy_path), self._load, what="policy", check_every=CHECK_EVERY, required=True
        )
        self._watch.on_reload.append(self._forget)
        self.on_reload: list[Callable[[Policy], None]] = self._watch.on_reload  # told after every successful reload
        self._decisions: dict[tuple[tuple[str, ...], str], bool] = {}
        self._writes: dict[tuple[tuple[str, ...], str], bool] = {}
        self._scopes: dict[tuple[str, ...], str | None] = {}
        self._documents: dict[tuple[tuple[str, ...], str], str] = {}

    # --- decisions -----------------------------------------------------------

    @property
    def restricted(self) -> frozenset[str]:
        return self.policy.restricted

    @property
    def mutations(self) -> frozenset[str]:
        """Every `Mutation.<name>` a `write` line names."""
        return self.policy.mutations

    def can_read(self, roles: tuple[str, ...], field: str) -> bool:
        """May a caller with these roles read `Type.field`? Unrestricted fields: always."""
        if field not in self.policy.restricted:
            return True
        key = (roles, field)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = self.allowed_by_policy(roles, field) and self._derivable(roles, field)
        return decision

    def can_write(self, roles: tuple[str, ...], mutation: str) -> bool:
        """May a caller with these roles run `Mutation.<name>`? Only where a `write` line allows it."""
        key = (roles, mutation)
        decision = self._writes.get(key)
        if decision is None:
            enforcer = self.policy.enforcer
            decision = self._writes[key] = any(enforcer.enforce(role, mutation, "write") for role in roles)
        return decision

    def holds_role(self, roles: tuple[str, ...], role: str) -> bool:
        """Is `role` one of these roles, or inherited by one of them (`g` lines)?"""
        manager = self.policy.enforcer.get_role_manager()
        return any(own == role or manager.has_link(own, role) for own in roles)

    def allowed_by_policy(self, roles: tuple[str, ...], field: str) -> bool:
        """The policy's own lines for the field, before the derivation rule."""
        if field not in self.policy.named:
            return True
        enforcer = self.policy.enforcer
        return any(enforcer.enforce(role, field, "read") for role in roles)

    def accepts_derivation(self, roles: tuple[str, ...], field: str) -> bool:
        """Does a `derive` line let these roles read `field` without reading what it comes from?"""
        enforcer = self.policy.enforcer
        return any(enforcer.enforce(role, field, "derive") for role in roles)

    def _derivable(self, roles: tuple[str, ...], field: str) -> bool:
        derivation = self.derivations.get(field)
        if derivation is None or derivation.coarse is not None:
            return True
        if all(self.can_read(roles, source) for source in derivation.sources):
            return True
        return self.accepts_derivation(roles, field)

    def scope(self, roles: tuple[str, ...]) -> str | None:
        """The widest customer scope the roles allow: "all", "team", "own", or None (no customers)."""
        if roles not in self._scopes:
            enforcer = self.policy.enforcer
            self._scopes[roles] = next(
                (scope for scope in SCOPES if any(enforcer.enforce(role, f"rows:{scope}", "scope") for role in roles)),
                None,
            )
        return self._scopes[roles]

    def documents(self, roles: tuple[str, ...], default: str = "any") -> str:
        """Which documents the roles may send: "any", or "trusted" (only the persisted/ ones).

        A role named in a `documents:any` or `documents:trusted` line is pinned to it; a role
        named in neither gets `default` (the gateway's mode: "trusted" when
        `persisted.trusted_only` is set). Several roles: the widest wins.
        """
        key = (roles, default)
        decision = self._documents.get(key)
        if decision is None:
            enforcer = self.policy.enforcer
            levels = [
                next((level for level in DOCUMENTS if enforcer.enforce(role, f"documents:{level}", "execute")), default)
                for role in roles
            ] or [default]
            decision = self._documents[key] = next(level for level in DOCUMENTS if level in levels)
        return decision

    def may_trace(self, roles: tuple[str, ...]) -> bool:
        """May a caller with these roles see a trace of backend calls (`debug:trace`)?"""
        enforcer = self.policy.enforcer
        return any(enforcer.enforce(role, TRACE, "execute") for role in roles)

    # --- reloading -----------------------------------------------------------

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        policy = self._watch.value
        assert policy is not None  # required: loaded in __init__ or raised there
        return policy

    def reload_if_changed(self, now: bool = False) -> bool:
        """Cheap enough to call on every request; looks at the files at most once a second (`now`: at once)."""
        return self._watch.reload_if_changed(now)

    def reload(self) -> bool:
        """Load the files again; on failure keep the policy in force and say why in the log."""
        return self._watch.reload()

    def _forget(self, policy: Policy) -> None:
        self._decisions = {}
        self._writes = {}
        self._scopes = {}
        self._documents = {}
        log.info("policy reloaded", extra={"policy_version": policy.version, "policy_digest": policy.digest})

    def _load(self) -> Policy:
        watch = getattr(self, "_watch", None)  # None: the first load, from Watched's constructor
        version = watch.value.version + 1 if watch is not None and watch.value is not None else 1
        rules = _read_rules(self.policy_path)
        enforcer = casbin.Enforcer(str(self.model_path), str(self.policy_path))
        named = frozenset(rule[2] for rule in rules if rule[0] == "p" and rule[3] == "read")
        restricted = restricted_by_derivation(named, self.derivations)
        mutations = frozenset(rule[2] for rule in rules if rule[0] == "p" and rule[3] == "write")
        digest = hashlib.sha256(self.model_path.read_bytes() + b"\0" + self.policy_path.read_bytes()).hexdigest()
        return Policy(enforcer, named, restricted, mutations, version, digest)


def _refuse_cycles(derivations: Mapping[str, Derivation]) -> None:
    """A field computed (through others) from itself is a mistake in the declarations."""

    def visit(field: str, path: tuple[str, ...]) -> None:
        if field in path:
            raise ValueError(f"derivation cycle: {' <- '.join((*path, field))}")
        for source in derivations.get(field, Derivation(())).sources:
            visit(source, (*path, field))

    for field in derivations:
        visit(field, ())


def _read_rules(path: Path) -> list[list[str]]:
    """The policy's lines, checked: Casbin itself accepts a misspelt line silently."""
    rules = []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle, skipinitialspace=True), start=1):
            if not row or row[0].lstrip().startswith("#"):
                continue
            row = [cell.strip() for cell in row]
            if row[0] == "p" and len(row) == 5 and row[4] in ("allow", "deny") and row[3] in ACTIONS:
                if row[3] == "scope" and row[2] not in {f"rows:{scope}" for scope in SCOPES}:
                    raise ValueError(f"{path.name} line {number}: unknown scope {row[2]!r}")
                if row[3] == "execute" and row[2] not in {TRACE, *(f"documents:{level}" for level in DOCUMENTS)}:
                    raise ValueError(f"{path.name} line {number}: unknown object {row[2]!r} for `execute`")
                if row[3] == "write" and not row[2].startswith("Mutation."):
                    raise ValueError(f"{path.name} line {number}: write needs a Mutation.<name> object, got {row[2]!r}")
                if row[3] in ("read", "derive") and "." not in row[2]:
                    raise ValueError(f"{path.name} line {number}: {row[3]} needs a Type.field object, got {row[2]!r}")
                rules.append(row)
            elif row[0] == "g" and len(row) == 3:
                rules.append(row)
            else:
                raise ValueError(f"{path.name} line {number}: not a policy line: {', '.join(row)}")
    return rules


def matrix(authorizer: Authorizer, roles: list[str]) -> dict[str, dict[str, bool]]:
    """Restricted field -> role -> may read: the README's table and the tests' matrix."""
    return {
        field: {role: authorizer.can_read((role,), field) for role in roles} for field in sorted(authorizer.restricted)
    }


ROLES = ["sales_rep", "sales_manager", "finance", "service_agent", "procurement", "executive", "bi_reader", "admin"]


def markdown_matrix(authorizer: Authorizer, roles: list[str] = ROLES) -> str:
    """The README's table of restricted fields by role (✓ may read, · may not)."""
    lines = [
        "| field | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for field, decisions in matrix(authorizer, roles).items():
        lines.append(f"| `{field}` | " + " | ".join("✓" if decisions[role] else "·" for role in roles) + " |")
    scopes = {role: authorizer.scope((role,)) or "none" for role in roles}
    lines.append("| customers seen | " + " | ".join(scopes[role] for role in roles) + " |")
    documents = {role: _documents_label(authorizer, role) for role in roles}
    lines.append("| documents sent | " + " | ".join(documents[role] for role in roles) + " |")
    for mutation in sorted(authorizer.mutations):
        allowed = ("✓" if authorizer.can_write((role,), mutation) else "·" for role in roles)
        lines.append(f"| `{mutation}` (write) | " + " | ".join(allowed) + " |")
    return "\n".join(lines)


def _documents_label(authorizer: Authorizer, role: str) -> str:
    """`any` or `trusted` when the policy pins the role; `mode` when it follows persisted.trusted_only."""
    normally, trusted_only = authorizer.documents((role,), "any"), authorizer.documents((role,), "trusted")
    return normally if normally == trusted_only else "mode"


def derivation_findings(authorizer: Authorizer, roles: list[str] = ROLES) -> list[Finding]:
    """Per role: policy lines the derivation rule overrides, and derivations the policy accepts."""
    return report(
        roles,
        authorizer.derivations,
        allowed_by_policy=lambda role, field: authorizer.allowed_by_policy((role,), field),
        can_read=lambda role, field: authorizer.can_read((role,), field),
        accepted=lambda role, field: authorizer.accepts_derivation((role,), field),
        explicitly_named=authorizer.policy.named,
    )


def markdown_derivations(authorizer: Authorizer, roles: list[str] = ROLES) -> str:
    """The README's list of derived fields: what each comes from, and what the policy accepts."""
    lines = ["| derived field | computed from | answered to |", "|---|---|---|"]
    for field, derivation in sorted(authorizer.derivations.items()):
        sources = ", ".join(f"`{source}`" for source in derivation.sources)
        if derivation.coarse is not None:
            answered = f"everyone, coarse: {derivation.coarse}"
        else:
            answered = ", ".join(role for role in roles if authorizer.can_read((role,), field)) or "nobody"
        lines.append(f"| `{field}` | {sources} | {answered} |")
    accepted = [finding for finding in derivation_findings(authorizer, roles) if finding.kind == "accepted"]
    if accepted:
        lines.append("")
        lines.append("Derivations the policy accepts (see the comments in `policies/policy.csv`):")
        lines.append("")
        lines += [f"- {finding}" for finding in accepted]
    return "\n".join(lines)
