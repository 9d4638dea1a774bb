"""One reloader for the files an administrator edits: the Casbin policy and the approval rules.

In-process: the files in a temporary folder, the classes called directly.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from policies.enforcement import Authorizer
from policies.reloading import NothingValid, Watched
from resolvers.approvals import ApprovalRulesUnavailable, RulesFile
from server.wiring import Services
from server.settings import Settings

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def edit(path: Path, text: str) -> None:
    """Write and move the modification time on, however coarse the file system's clock."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_a_broken_version_is_refused_and_the_last_valid_one_stays(tmp_path):
    file = tmp_path / "n.txt"
    edit(file, "1")
    watched = Watched([file], lambda: int(file.read_text()), what="a number")
    assert watched.current() == 1
    edit(file, "2")
    assert watched.current() == 2
    edit(file, "two")
    assert watched.current() == 2 and "two" in (watched.problem or "")
    file.unlink()
    assert watched.current() == 2
    edit(file, "3")
    assert watched.current() == 3 and watched.problem is None


def test_nothing_valid_ever_is_an_error_until_the_file_is_fixed(tmp_path):
    file = tmp_path / "n.txt"
    watched = Watched([file], lambda: int(file.read_text()), what="a number")
    with pytest.raises(NothingValid):
        watched.current()
    edit(file, "7")
    assert watched.current() == 7


def test_the_policy_and_the_approval_rules_share_the_reloader(tmp_path):
    for name in ("model.conf", "policy.csv", "approvals.toml"):
        shutil.copy(POLICIES / name, tmp_path / name)
    authorizer = Authorizer(tmp_path / "model.conf", tmp_path / "policy.csv")
    rules = RulesFile(tmp_path / "approvals.toml")
    assert isinstance(authorizer._watch, Watched) and isinstance(rules._watch, Watched)

    policy = tmp_path / "policy.csv"
    edit(policy, policy.read_text() + "\nthis is, not a policy line\n")
    assert authorizer.reload() is False and authorizer.policy.version == 1
    edit(policy, (POLICIES / "policy.csv").read_text() + "\np, sales_rep, Product.standardCost, read, allow\n")
    assert authorizer.reload_if_changed(now=True) is True and authorizer.policy.version == 2
    assert authorizer.can_read(("sales_rep",), "Product.standardCost")

    original = rules.current()
    edit(tmp_path / "approvals.toml", "[margin\n")
    assert rules.current() is original
    edit(tmp_path / "approvals.toml", (POLICIES / "approvals.toml").read_text().replace("below_pct = 15", "below_pct = 9"))
    assert rules.current().margin != original.margin


def test_the_rules_file_is_a_setting_and_a_missing_one_fails_the_quote_only(tmp_path, monkeypatch):
    monkeypatch.delenv("ISTHMUS_APPROVAL_RULES", raising=False)
    assert Services(Settings()).approval_rules.path == POLICIES / "approvals.toml"
    missing = tmp_path / "none.toml"
    services = Services(Settings(approval_rules=str(missing)))
    assert services.approval_rules.path == missing
    with pytest.raises(ApprovalRulesUnavailable):
        services.approval_rules.current()
    monkeypatch.setenv("ISTHMUS_APPROVAL_RULES", str(POLICIES / "approvals.toml"))
    assert Settings().approval_rules == str(POLICIES / "approvals.toml")
