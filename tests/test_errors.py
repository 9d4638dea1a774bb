"""Every error a client can see has one root type and a stable code, and the README's table is generated from them.

In-process: the classes and the source text, no gateway.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import app  # noqa: F401 - imports every module that defines an error
from server.errors import TABLE, documented_codes, error_table
from sources.errors import IsthmusError, SourceError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sources", "resolvers", "schema", "server", "policies")
CODE = re.compile(r"^[A-Z]+(_[A-Z]+)+$|^[A-Z]{4,}$")
CODE_CALLS = {"error_body", "refuse", "refusal", "_client_error", "_with_code"}


def subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(subclasses(sub) for sub in found)) if found else set()


def test_the_readme_holds_exactly_the_generated_table():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| code | when | HTTP |")
    end = readme.index("\n\n", start) + 1
    assert readme[start:end] == error_table()


def test_every_error_class_has_a_documented_code():
    missing = {cls.__qualname__: cls.code for cls in subclasses(IsthmusError) - {SourceError} if cls.code not in documented_codes()}
    assert not missing, missing
    described = {cls for row in TABLE for cls in (row if isinstance(row, tuple) else (row,))}
    # a class that says what its own code means is a row of the table
    undescribed = {cls.__qualname__ for cls in subclasses(IsthmusError)
                   if "code" in vars(cls) and "when" in vars(cls) and cls not in described}
    assert not undescribed, undescribed


def literal_codes() -> dict[str, str]:
    """Codes written as literals: `"code": "X"`, `code = "X"`, and codes passed to the functions that write error bodies."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                values: list[ast.AST] = []
                if isinstance(node, ast.Dict):
                    values = [v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value == "code"]
                elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
                    values = [node.value]
                elif isinstance(node, ast.keyword) and node.arg == "code":
                    values = [node.value]
                elif isinstance(node, ast.Call):
                    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                    if name in CODE_CALLS:
                        values = list(node.args)
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) and CODE.match(value.value):
                        found[value.value] = f"{path.relative_to(ROOT)}:{value.lineno}"
    return found


def test_every_code_written_anywhere_is_in_the_table():
    written = literal_codes()
    assert {"GRAPHQL_PARSE_FAILED", "BAD_REQUEST", "NOT_EXPORTABLE", "DEADLINE_EXCEEDED"} <= set(written)  # the scan sees them
    undocumented = {code: where for code, where in written.items() if code not in documented_codes() | {SourceError.code}}
    assert not undocumented, undocumented
