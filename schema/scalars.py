"""The Decimal scalar: exact amounts and quantities, within bounds the arithmetic can take.

strawberry's own Decimal takes whatever `decimal.Decimal` parses: NaN, Infinity,
"1e999999". The resolvers multiply such values (a kit's quantity by its BOM) and
round them to cents, where they overflow or raise deep inside: an INTERNAL error for
what is the caller's mistake. Here every Decimal input is checked once, where it is
parsed: finite, below 10^15 in magnitude, at most 12 decimal places; negative zero
is zero. A value refused is `BAD_USER_INPUT` naming where it was sent: the variable
(and the place inside it) or, for a literal in the document, the argument.
"""

from __future__ import annotations

import decimal
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    value_from_ast_untyped,
)
from graphql.language import BREAK, Visitor, visit
from strawberry.types.scalar import ScalarDefinition

MAX_INTEGER_DIGITS = 15  # |value| < 10^15: a quantity times a BOM, in cents, stays within 28 digits
MAX_DECIMAL_PLACES = 12
_SMALLEST_PLACE = decimal.Decimal(1).scaleb(-MAX_DECIMAL_PLACES)
_SHOWN = 40  # characters of a refused value repeated in the message


class InvalidDecimal(GraphQLError):
    """A Decimal input the gateway does not accept; its message says why."""


def to_decimal(value: Any) -> decimal.Decimal:
    """The Decimal a client sent (a string, or a JSON/GraphQL number), or ValueError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("a Decimal is a number, best sent as a string")
    try:
        number = decimal.Decimal(value if isinstance(value, str) else str(value))
    except decimal.InvalidOperation:
        raise ValueError("it is not a number") from None
    if not number.is_finite():
        raise ValueError("it must be a finite number")
    if number.is_zero():
        return decimal.Decimal(0)  # "-0", "0E-999999": plain zero
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"its magnitude must be below 10^{MAX_INTEGER_DIGITS}")
    # Safe now: at most 15 + 12 digits, within the default context's 28.
    if number.quantize(_SMALLEST_PLACE) != number:
        raise ValueError(f"it may have at most {MAX_DECIMAL_PLACES} decimal places")
    return number


def _refused(value: Any, reason: str, node: Node | None = None) -> InvalidDecimal:
    shown = value if isinstance(value, str) else repr(value)
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    if isinstance(value, str):
        shown = f'"{shown}"'
    return InvalidDecimal(f"{shown} is not an accepted Decimal: {reason}.", node)


def parse_value(value: Any) -> decimal.Decimal:
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise _refused(value, str(exc)) from None


def parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> decimal.Decimal:
    """A literal in the document; numbers are read from their text, so `1e999` is not a float first."""
    raw = (
        node.value
        if isinstance(node, (StringValueNode, IntValueNode, FloatValueNode))
        else value_from_ast_untyped(node, variables)
    )
    try:
        return to_decimal(raw)
    except ValueError as exc:
        raise _refused(raw, str(exc), node) from None


DECIMAL = ScalarDefinition(
    name="Decimal",
    description="Decimal (fixed-point)",
    specified_by_url=None,
    serialize=str,
    parse_value=parse_value,
    parse_literal=parse_literal,
    origin=decimal.Decimal,
)


def client_error(error: GraphQLError, document: DocumentNode) -> dict[str, Any] | None:
    """A validation error from a Decimal literal, as `BAD_USER_INPUT` naming the argument; else None."""
    if not isinstance(error, InvalidDecimal):
        return None
    where = _sent_at(document, error.nodes[0]) if error.nodes else None
    formatted: dict[str, Any] = dict(error.formatted)
    if where:
        formatted["message"] = f"{where}: {error.message}"
    formatted["extensions"] = {"code": "BAD_USER_INPUT"}
    return formatted


def _sent_at(document: DocumentNode, target: Node) -> str | None:
    """`Argument quantity`, `Argument input.lines[0].quantity` or `Variable $q (default)`: where a literal stands."""
    found: list[str] = []

    class Find(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
            inner = _path_to(node.value, target)
            if inner is not None:
                found.append(f"Argument `{node.name.value}{inner}`")
                return BREAK
            return None

        def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> Any:
            inner = _path_to(node.default_value, target) if node.default_value else None
            if inner is not None:
                found.append(f"The default of `${node.variable.name.value}{inner}`")
                return BREAK
            return None

    visit(document, Find())
    return found[0] if found else None


def _path_to(value: Node, target: Node) -> str | None:
    """The path from a literal to `target` inside it (`""` when it is the literal itself), or None."""
    if value is target:
        return ""
    if isinstance(value, ListValueNode):
        for index, item in enumerate(value.values):
            inner = _path_to(item, target)
            if inner is not None:
                return f"[{index}]{inner}"
    if isinstance(value, ObjectValueNode):
        for field in value.fields:
            inner = _path_to(field.value, target)
            if inner is not None:
                return f".{field.name.value}{inner}"
    return None
