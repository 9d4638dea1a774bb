"""`python -m policies [--policy-dir DIR]`: the policy as the README's tables, and the derivation check.

Prints the table of restricted fields by role and the table of derived fields, then
every `read` line of the policy that the derivation rule overrides (a role allowed a
derived field but not what it is computed from). Exits 1 when there is one: the policy
says something the gateway will not do. Without `--policy-dir`, the shipped files.
"""

import argparse
import sys
from pathlib import Path

from policies.enforcement import derivation_findings, markdown_derivations, markdown_matrix
from server.wiring import build_authorizer

parser = argparse.ArgumentParser(prog="python -m policies", description=__doc__.splitlines()[0])
parser.add_argument("--policy-dir", type=Path, help="a folder with model.conf and policy.csv")
authorizer = build_authorizer(parser.parse_args().policy_dir)
print(markdown_matrix(authorizer))
print()
print(markdown_derivations(authorizer))
overridden = [finding for finding in derivation_findings(authorizer) if finding.kind == "overridden"]
if overridden:
    print("\nThe policy breaks the derivation rule for these roles (the gateway denies the field):", file=sys.stderr)
    for finding in overridden:
        print(f"- {finding}", file=sys.stderr)
    sys.exit(1)
