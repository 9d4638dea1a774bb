"""The derivation rule: no role can compute a value it is denied from values it may read.

A derived field (a contract's fulfilment progress, a quote's margin in percent, the
reasons a quote needs approval) is computed from other fields. When one of those is
restricted, the derived field would hand its value over, exactly (`shipped / progress`
is the contract amount) or by search (move a quote's price and watch the approval
flip). So each derived field declares what it is computed from, where it is defined
(`schema.derived`), and the field guard denies it to a caller who may not read every
field it comes from, unless:

- the derivation is `coarse`: the field is answered in a documented form from which
  the restricted value cannot be recomputed (a risk level, an alert that says "overdue"
  without a figure); the declaration says why;
- the policy accepts it for the caller's role with a `derive` line
  (`p, sales_rep, Approval.*, derive, allow`): the business knowingly lets that role
  learn the value this way, and the policy file says why in a comment.

`report` lists, per role, every policy line that the rule overrides (a `read` allow on
a derived field whose sources the role may not read: the gateway denies it) and every
accepted derivation: `python -m policies` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Derivation:
    """`sources`: the `Type.field`s the value is computed from; `coarse`: why it is safe to
    answer to anyone (None: it is not, and it needs every source readable)."""

    sources: tuple[str, ...]
    coarse: str | None = None


def restricted_by_derivation(restricted: frozenset[str], derivations: Mapping[str, Derivation]) -> frozenset[str]:
    """The fields the policy restricts, plus every derived field that comes from one of them
    (transitively: a margin from a cost from a restricted product cost)."""
    result = set(restricted)
    changed = True
    while changed:
        changed = False
        for field, derivation in derivations.items():
            if field not in result and derivation.coarse is None and result.intersection(derivation.sources):
                result.add(field)
                changed = True
    return frozenset(result)


@dataclass(frozen=True)
class Finding:
    role: str
    field: str
    kind: str  # "overridden": the policy allows it, the rule denies it; "accepted": a derive line allows it
    sources: tuple[str, ...]  # the sources the role may not read

    def __str__(self) -> str:
        missing = ", ".join(self.sources)
        if self.kind == "overridden":
            return (
                f"{self.role}: the policy allows {self.field}, but it is computed from {missing}, which "
                f"{self.role} may not read; the gateway denies it. Remove the line, allow the sources, "
                f"or accept the derivation with a `derive` line and say why."
            )
        return f"{self.role}: may read {self.field} although it is computed from {missing} (accepted by a derive line)"


def report(
    roles: list[str],
    derivations: Mapping[str, Derivation],
    *,
    allowed_by_policy: Callable[[str, str], bool],
    can_read: Callable[[str, str], bool],
    accepted: Callable[[str, str], bool],
    explicitly_named: frozenset[str],
) -> list[Finding]:
    """Per role and derived field: where the policy and the rule disagree, and what is accepted."""
    findings = []
    for role in roles:
        for field, derivation in sorted(derivations.items()):
            if derivation.coarse is not None:
                continue
            missing = tuple(source for source in derivation.sources if not can_read(role, source))
            if not missing:
                continue
            if accepted(role, field):
                findings.append(Finding(role, field, "accepted", missing))
            elif field in explicitly_named and allowed_by_policy(role, field):
                findings.append(Finding(role, field, "overridden", missing))
    return findings
