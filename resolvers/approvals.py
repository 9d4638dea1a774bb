"""Approval rules for quotes, read from a file an administrator edits.

The rules live in `policies/approvals.toml`, or the file the `approval_rules`
setting names (ISTHMUS_APPROVAL_RULES). The file is checked on every quote and
re-read when it changes (modification time, size or inode), by the reloader that
serves the policy too (`policies/reloading.py`), so an edit takes effect without a
restart. An edit that leaves the file invalid is logged and the last valid rules
stay in force; only when no valid version was ever read does a quote fail (its
approval cannot be decided).

`decide` applies the rules to the facts of one quote: every rule that applies
adds a reason in words (with its numbers); the level is the highest level any
applying rule asks for, in the order the file lists the levels.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from policies.reloading import NothingValid, Watched
from resolvers.errors import GatewayError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = "policies/approvals.toml"
RISK_LEVELS = ("LOW", "MEDIUM", "HIGH")


class ApprovalRulesUnavailable(GatewayError):
    """No valid approval rules could be read: a quote's approval cannot be decided."""

    code = "INTERNAL"


class InvalidRules(ValueError):
    pass


@dataclass(frozen=True)
class Level:
    id: str
    name: str
    rank: int


@dataclass(frozen=True)
class MarginRule:
    below_pct: Decimal
    level: Level


@dataclass(frozen=True)
class Rules:
    levels: tuple[Level, ...]
    margin: tuple[MarginRule, ...]  # lowest threshold first
    credit_exceeded: Level | None
    credit_no_limit: Level | None
    risk: dict[str, Level]
    unknown_margin: Level | None
    unknown_credit: Level | None
    unknown_risk: Level | None


@dataclass(frozen=True)
class Approval:
    required: bool
    level: str | None
    reasons: list[str]


# --- reading the file --------------------------------------------------------------


def parse_rules(data: dict[str, Any]) -> Rules:
    """Rules from the file's TOML content; InvalidRules names the first problem."""
    known = {"levels", "margin", "credit", "risk", "unknown"}
    unexpected = set(data) - known
    if unexpected:
        raise InvalidRules(f"unknown section(s) {', '.join(sorted(unexpected))}; known: {', '.join(sorted(known))}")
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise InvalidRules("`levels` must list at least one level ([[levels]] with `id` and `name`)")
    levels: dict[str, Level] = {}
    for rank, entry in enumerate(raw_levels):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            raise InvalidRules(f"level {rank + 1} needs an `id` string")
        if entry["id"] in levels:
            raise InvalidRules(f"level {entry['id']!r} is listed twice")
        _only(entry, {"id", "name"}, f"level {entry['id']!r}")
        name = entry.get("name", entry["id"])
        if not isinstance(name, str):
            raise InvalidRules(f"the `name` of level {entry['id']!r} must be a string")
        levels[entry["id"]] = Level(entry["id"], name, rank)

    def level(value: Any, where: str) -> Level:
        if value not in levels:
            raise InvalidRules(f"{where}: unknown level {value!r}; the levels are {', '.join(levels)}")
        return levels[value]

    def optional_level(table: dict[str, Any], key: str, where: str) -> Level | None:
        return level(table[key], f"{where}.{key}") if key in table else None

    margin: list[MarginRule] = []
    raw_margin = data.get("margin", [])
    if not isinstance(raw_margin, list):
        raise InvalidRules("`margin` must be a list of [[margin]] rules")
    for n, entry in enumerate(raw_margin, 1):
        if not isinstance(entry, dict):
            raise InvalidRules(f"margin rule {n} must be a table with `below_pct` and `level`")
        _only(entry, {"below_pct", "level"}, f"margin rule {n}")
        threshold = entry.get("below_pct")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise InvalidRules(f"margin rule {n}: `below_pct` must be a number (percent)")
        margin.append(MarginRule(Decimal(str(threshold)), level(entry.get("level"), f"margin rule {n}")))
    margin.sort(key=lambda rule: rule.below_pct)

    credit = _table(data, "credit")
    _only(credit, {"exceeded", "no_limit"}, "[credit]")
    risk = _table(data, "risk")
    _only(risk, set(RISK_LEVELS), "[risk]")
    unknown = _table(data, "unknown")
    _only(unknown, {"margin", "credit", "risk"}, "[unknown]")
    return Rules(
        levels=tuple(levels.values()),
        margin=tuple(margin),
        credit_exceeded=optional_level(credit, "exceeded", "credit"),
        credit_no_limit=optional_level(credit, "no_limit", "credit"),
        risk={name: level(value, f"risk.{name}") for name, value in risk.items()},
        unknown_margin=optional_level(unknown, "margin", "unknown"),
        unknown_credit=optional_level(unknown, "credit", "unknown"),
        unknown_risk=optional_level(unknown, "risk", "unknown"),
    )


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise InvalidRules(f"`{name}` must be a table ([{name}])")
    return table


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unexpected = set(table) - allowed
    if unexpected:
        raise InvalidRules(
            f"{where}: unknown key(s) {', '.join(sorted(unexpected))}; allowed: {', '.join(sorted(allowed))}"
        )


def load_rules(path: Path) -> Rules:
    """The rules of one file; an exception (unreadable, not TOML, InvalidRules) refuses that version."""
    try:
        return parse_rules(tomllib.loads(path.read_text(encoding="utf-8")))
    except InvalidOperation as exc:
        raise InvalidRules(f"{path} is invalid: {exc}") from None


class RulesFile:
    """One rules file, read again when it changes; a broken version is refused and the last valid one stays."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).resolve() if path else ROOT / DEFAULT_PATH
        self._watch = Watched([self.path], lambda: load_rules(self.path), what=f"approval rules ({self.path})")

    def current(self) -> Rules:
        try:
            return self._watch.current()
        except NothingValid:
            raise ApprovalRulesUnavailable(
                "The approval rules could not be read, so the quote's approval cannot be decided. "
                "An administrator must fix the rules file (the gateway log names the problem)."
            ) from None


# --- applying them ---------------------------------------------------------------


@dataclass(frozen=True)
class CreditFacts:
    """What the credit rules look at; `limit` None means the ERP has no limit for the customer."""

    limit: Decimal | None
    used: Decimal
    quote: Decimal
    exceeded_by: Decimal | None
    currency: str
    has_account: bool
    basis: str = "GROSS"  # of `used` and `quote`: GROSS or NET


@dataclass(frozen=True)
class Facts:
    """One quote, as the rules see it. A figure is None when unknown, with `*_unknown` saying why."""

    customer_id: str
    margin_pct: Decimal | None
    margin_unknown: str | None
    credit: CreditFacts | None
    credit_unknown: str | None
    risk: str | None
    risk_unknown: str | None


def decide(rules: Rules, facts: Facts, *, show_margin: bool = True, show_credit: bool = True) -> Approval:
    """The approval a quote needs. Without `show_*`, reasons name the rule but not the caller's hidden figures."""
    applying: list[tuple[Level, str]] = []

    def add(level: Level | None, reason: str) -> None:
        if level is not None:
            applying.append((level, f"{reason}: {level.name} approval"))

    if facts.margin_pct is not None:
        rule = next((r for r in rules.margin if facts.margin_pct < r.below_pct), None)
        if rule is not None:
            shown = f" {percent_below(facts.margin_pct, rule.below_pct)} %" if show_margin else ""
            add(rule.level, f"Margin{shown} is below {number(rule.below_pct)} %")
    elif facts.margin_unknown:
        add(rules.unknown_margin, f"Margin unknown ({facts.margin_unknown})")

    credit = facts.credit
    if credit is not None:
        if credit.limit is None:
            what = "no credit limit" if credit.has_account else "no account"
            add(rules.credit_no_limit, f"Customer {facts.customer_id} has {what} in the ERP")
        elif credit.exceeded_by is not None and credit.exceeded_by > 0:
            add(
                rules.credit_exceeded,
                f"Credit limit {credit.limit} {credit.currency} exceeded by {credit.exceeded_by} {credit.currency} "
                f"(credit used {credit.used} + this quote {credit.quote}, {credit.basis.lower()})"
                if show_credit
                else "Credit limit exceeded",
            )
    elif facts.credit_unknown:
        add(rules.unknown_credit, f"Credit could not be checked ({facts.credit_unknown})")

    if facts.risk is not None:
        add(rules.risk.get(facts.risk), f"Customer risk is {facts.risk}")
    elif facts.risk_unknown:
        add(rules.unknown_risk, f"Customer risk could not be assessed ({facts.risk_unknown})")

    if not applying:
        return Approval(required=False, level=None, reasons=[])
    highest = max((level for level, _ in applying), key=lambda level: level.rank)
    return Approval(required=True, level=highest.id, reasons=[reason for _, reason in applying])


def number(value: Decimal) -> str:
    """15 -> "15", 2.5 -> "2.5"."""
    return format(value.normalize(), "f")


def percent_below(value: Decimal, threshold: Decimal) -> str:
    """`value` with one decimal, or more when one would round it up to the threshold (14.96 is not "15.0")."""
    for places in range(1, 7):
        shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if shown < threshold:
            return str(shown)
    return str(value)
