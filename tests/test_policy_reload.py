"""The policy is files an administrator edits: changes apply without a restart, broken ones never."""

import shutil
import time
from pathlib import Path

import pytest

from conftest import bearer, in_process_with

POLICIES = Path(__file__).resolve().parent.parent / "policies"
COST = 'query($sku: ID!) { product(sku: $sku) { standardCost } }'


@pytest.fixture
def policy_dir(tmp_path):
    for name in ("model.conf", "policy.csv"):
        shutil.copy(POLICIES / name, tmp_path / name)
    return tmp_path


def rep_cost(gateway, sku):
    return gateway.query(COST, {"sku": sku}, headers=bearer("sales_rep", user="R-x"))["data"]["product"]["standardCost"]


def eventually(check, seconds=3.0):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_an_edited_policy_applies_without_a_restart_and_a_broken_one_is_refused(systems, policy_dir):
    """The gateway runs in this process: what is tested is its reloading, not a process of its own."""
    sku = systems.get("erp", "/products")[0]["sku"]
    policy = policy_dir / "policy.csv"
    with in_process_with(policy_dir=str(policy_dir)) as gateway:
        assert rep_cost(gateway, sku) is None
        policy.write_text(policy.read_text() + "\np, sales_rep, Product.standardCost, read, allow\n")
        assert eventually(lambda: rep_cost(gateway, sku) is not None)

        policy.write_text(policy.read_text() + "\nthis is, not a policy line\n")
        time.sleep(1.5)
        assert rep_cost(gateway, sku) is not None  # the previous policy stays in force

        reload = gateway.http.post(f"{gateway.url}/admin/policy/reload")
        assert reload.status_code == 422 and reload.json()["reloaded"] is False


def test_only_an_admin_may_force_a_reload(gateway):
    assert gateway.http.post(f"{gateway.url}/admin/policy/reload").json()["reloaded"] is True
    denied = gateway.http.post(f"{gateway.url}/admin/policy/reload", headers=bearer("finance"))
    assert denied.status_code == 403
