"""The derivation rule in the policy engine, in-process: declared sources decide derived fields."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from policies import Authorizer
from policies.derivations import Derivation
from policies.enforcement import derivation_findings
from server.wiring import build_authorizer

HERE = Path(__file__).resolve().parent.parent / "policies"
DERIVED = {
    "Fulfilment.progress": Derivation(("Contract.amount",)),
    "Quote.marginPct": Derivation(("Quote.cost",)),
    "Quote.cost": Derivation(("Product.cost",)),
    "Customer.risk": Derivation(("Customer.receivables",), coarse="three levels"),
}


def policy(tmp_path: Path, lines: str, derivations=DERIVED) -> Authorizer:
    (tmp_path / "policy.csv").write_text(lines)
    return Authorizer(HERE / "model.conf", tmp_path / "policy.csv", derivations=derivations)


def test_a_derived_field_is_denied_with_what_it_is_computed_from(tmp_path):
    authorizer = policy(tmp_path, "p, sales, Contract.amount, read, allow\n")
    assert authorizer.can_read(("sales",), "Fulfilment.progress")
    assert not authorizer.can_read(("service",), "Fulfilment.progress")
    assert "Fulfilment.progress" in authorizer.restricted


def test_derivation_is_transitive(tmp_path):
    authorizer = policy(tmp_path, "p, finance, Product.cost, read, allow\n")
    assert not authorizer.can_read(("sales",), "Quote.marginPct")  # marginPct <- cost <- Product.cost
    assert authorizer.can_read(("finance",), "Quote.marginPct")


def test_a_read_line_cannot_override_the_rule_and_the_report_says_so(tmp_path):
    authorizer = policy(tmp_path, "p, finance, Product.cost, read, allow\np, sales, Quote.marginPct, read, allow\n")
    assert not authorizer.can_read(("sales",), "Quote.marginPct")
    (finding,) = derivation_findings(authorizer, ["sales", "finance"])
    assert (finding.role, finding.field, finding.kind, finding.sources) == ("sales", "Quote.marginPct", "overridden", ("Quote.cost",))


def test_a_derive_line_accepts_a_derivation_for_one_role(tmp_path):
    authorizer = policy(tmp_path, "p, finance, Product.cost, read, allow\np, sales, Quote.*, derive, allow\n")
    assert authorizer.can_read(("sales",), "Quote.marginPct")
    assert not authorizer.can_read(("service",), "Quote.marginPct")
    kinds = {(f.role, f.field, f.kind) for f in derivation_findings(authorizer, ["sales", "service"])}
    # Accepting the cost's derivation makes the cost readable to sales, and so the margin.
    assert kinds == {("sales", "Quote.cost", "accepted")}


def test_a_coarse_derivation_is_answered_to_everyone(tmp_path):
    authorizer = policy(tmp_path, "p, finance, Customer.receivables, read, allow\n")
    assert authorizer.can_read(("service",), "Customer.risk")
    assert "Customer.risk" not in authorizer.restricted


def test_a_derivation_cycle_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        Authorizer(derivations={"A.x": Derivation(("B.y",)), "B.y": Derivation(("A.x",))})


def test_a_derive_line_must_name_a_field(tmp_path):
    with pytest.raises(ValueError, match="Type.field"):
        policy(tmp_path, "p, sales, quote, derive, allow\n")


def test_the_shipped_policy_keeps_the_rule_and_the_check_passes():
    """`python -m policies` exits 0 for the shipped files and 1 when a line breaks the rule."""
    assert [f for f in derivation_findings(build_authorizer()) if f.kind == "overridden"] == []
    done = subprocess.run([sys.executable, "-m", "policies"], capture_output=True, text=True, cwd=HERE.parent)
    assert done.returncode == 0, done.stderr
    assert "| derived field | computed from | answered to |" in done.stdout


def test_the_check_names_the_role_for_which_a_policy_breaks_the_rule(tmp_path):
    shipped = (HERE / "policy.csv").read_text()
    (tmp_path / "policy.csv").write_text(shipped + "p, service_agent, Fulfilment.progress, read, allow\n")
    (tmp_path / "model.conf").write_text((HERE / "model.conf").read_text())
    done = subprocess.run([sys.executable, "-m", "policies", "--policy-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=HERE.parent)
    assert done.returncode == 1
    assert "service_agent: the policy allows Fulfilment.progress" in done.stderr
    assert "Contract.amount" in done.stderr
