"""BI exports, the parameters: query-string values typed by the operation's variable definitions."""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    get_named_type,
    is_enum_type,
    is_input_object_type,
    is_input_type,
    is_non_null_type,
    type_from_ast,
)

from resolvers.errors import BadUserInput
from server.bi_plan import ExportPlan

RESERVED = frozenset({"bom", "quoting", "access_token", "api_key"})  # the exporter's own

# ---------------------------------------------------------------------------
# Variables from the query string
# ---------------------------------------------------------------------------


class BadParameter(BadUserInput):
    pass


def variables_from(plan: ExportPlan, schema: GraphQLSchema, params: Any) -> dict[str, Any]:
    definitions = {v.variable.name.value: v for v in plan.operation.variable_definitions or ()}
    owned = {plan.paging.after, plan.paging.first} - {None} if plan.paging else set()
    accepted = [name for name in definitions if name not in owned]
    variables: dict[str, Any] = {}
    for name in params:
        if name in RESERVED:
            continue
        if name not in definitions or name in owned:
            why = (
                "is set by the exporter (it pages through the whole list)"
                if name in owned
                else "is not a parameter of this export"
            )
            raise BadParameter(f"`{name}` {why}; it takes: {', '.join(accepted) or 'no parameters'}.")
        values = [v for v in params.getlist(name) if v != ""]
        if not values:
            continue
        type_ = type_from_ast(schema, definitions[name].type)
        if not is_input_type(type_):  # the plan's document validated against this schema
            raise TypeError(f"variable {name} of an export has no input type in the schema")
        variables[name] = _convert(name, values, type_)
    for name in accepted:
        definition = definitions[name]
        if (
            name not in variables
            and is_non_null_type(type_from_ast(schema, definition.type))
            and definition.default_value is None
        ):
            raise BadParameter(f"`{name}` is required ({_type_text(definition.type)}).")
    return variables


def _convert(name: str, values: list[str], type_: GraphQLInputType) -> Any:
    nullable = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(nullable, GraphQLList):
        item = nullable.of_type
        named = get_named_type(item)
        if len(values) == 1 and named.name not in ("String",):
            values = [v.strip() for v in values[0].split(",") if v.strip()]
        return [_one(name, value, item) for value in values]
    if len(values) > 1:
        raise BadParameter(f"`{name}` is given {len(values)} times; it takes one value.")
    return _one(name, values[0], nullable)


def _one(name: str, text: str, type_: Any) -> Any:
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(named, GraphQLList):
        raise BadParameter(f"`{name}`: lists of lists cannot be given as query parameters.")
    if is_enum_type(named):
        if text not in named.values:
            raise BadParameter(f"`{name}` must be one of {', '.join(named.values)}, got {text!r}.")
        return text
    if is_input_object_type(named):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise BadParameter(f"`{name}` must be a JSON object ({named.name}).") from None
        if not isinstance(value, dict):
            raise BadParameter(f"`{name}` must be a JSON object ({named.name}).")
        return value
    if named.name == "Int":
        try:
            return int(text)
        except ValueError:
            raise BadParameter(f"`{name}` must be a whole number, got {text!r}.") from None
    if named.name == "Float":
        try:
            return float(text)
        except ValueError:
            raise BadParameter(f"`{name}` must be a number, got {text!r}.") from None
    if named.name == "Boolean":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise BadParameter(f"`{name}` must be true or false, got {text!r}.")
    return text  # String, ID, Date, DateTime, Decimal: the schema's scalars check the text


def _type_text(node: Any) -> str:
    from graphql import print_ast

    return print_ast(node)
