"""Calling simple resolvers directly from graphql-core, without strawberry's per-call wrapper."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from inspect import signature
from typing import Any

from graphql import GraphQLEnumType, GraphQLField, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from strawberry.types.arguments import convert_arguments

DEFINITION = "strawberry-definition"  # where strawberry keeps a GraphQL field's own definition


Arguments = dict[str, Any]


CONVERT = "isthmus.arguments"  # field extension: how graphql-core's arguments become the Python function's


def install_direct_resolvers(graphql_schema: Any, strawberry_schema: Any) -> int:
    """Call simple resolvers directly from graphql-core, without strawberry's per-call wrapper.

    Strawberry wraps every resolver to build its own Info, convert arguments and run
    field extensions: about 15 µs a call, paid thousands of times on a 360 page. Our
    resolvers use none of that: they read `info.context` and `info.path`, which
    graphql-core's own info has too, and scalar arguments that graphql-core has already
    parsed, or enums, which become their Python members here as strawberry would make
    them. So for a resolver without input-object or list arguments (strawberry converts
    those) and without field extensions, graphql-core calls the function itself, with
    graphql-core's own info. Every resolver field also gets its argument converter (`CONVERT`),
    which the plan executor's batch calls use. Returns how many fields were switched.
    """
    switched = 0
    for type_ in graphql_schema.type_map.values():
        # a subscription field's resolver makes its event stream; what it resolves to is the event itself
        if (
            not isinstance(type_, GraphQLObjectType)
            or type_.name.startswith("__")
            or type_ is graphql_schema.subscription_type
        ):
            continue
        for field in type_.fields.values():
            definition = (field.extensions or {}).get(DEFINITION)
            if definition is None or definition.base_resolver is None or definition.extensions:
                continue
            simple = _simple_converter(field)
            field.extensions = {
                **field.extensions,
                CONVERT: simple or _strawberry_converter(definition, strawberry_schema),
            }
            if simple is None:
                continue
            function = definition.base_resolver.wrapped_func
            parameters = list(signature(function).parameters)
            if not parameters or parameters[0] != "self":
                continue
            field.resolve = _direct(function, wants_info="info" in parameters, convert=simple)
            switched += 1
    return switched


def argument_converter(field: GraphQLField) -> Callable[[Arguments], Arguments] | None:
    """How graphql-core's arguments of a strawberry field become its Python function's keyword
    arguments, as strawberry would make them: names as the function declares them (`openOnly`
    is `open_only`), enum values as their members, input objects as their classes. None for a
    field without a resolver of its own (or with field extensions)."""
    converter: Callable[[Arguments], Arguments] | None = (field.extensions or {}).get(CONVERT)
    return converter


def _simple_converter(field: GraphQLField) -> Callable[[Arguments], Arguments] | None:
    """Renames and enum members, when that is all the arguments need; None with an input object or a list."""
    definition = field.extensions[DEFINITION]
    if not all(isinstance(_unwrap(arg.type), GraphQLScalarType | GraphQLEnumType) for arg in field.args.values()):
        return None
    renames = {
        graphql_name: argument.python_name
        for argument in definition.arguments
        for graphql_name in [argument.graphql_name or _camel(argument.python_name)]
        if graphql_name != argument.python_name
    }
    enums = {name: cls for name, arg in field.args.items() if (cls := _enum_class(_unwrap(arg.type))) is not None}
    if not renames and not enums:
        return _unchanged
    return lambda args: {
        renames.get(key, key): enums[key](value) if key in enums and value is not None else value
        for key, value in args.items()
    }


def _strawberry_converter(definition: Any, strawberry_schema: Any) -> Callable[[Arguments], Arguments]:
    """Strawberry's own conversion (input objects to their classes), as its resolver wrapper does it."""
    registry, config = strawberry_schema.schema_converter.scalar_registry, strawberry_schema.config
    return lambda args: convert_arguments(args, definition.arguments, scalar_registry=registry, config=config)


def _unchanged(args: Arguments) -> Arguments:
    return args


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        if isinstance(type_, GraphQLList):
            return None  # list arguments: strawberry converts their items
        type_ = type_.of_type
    return type_


def _enum_class(type_: Any) -> type[Enum] | None:
    if not isinstance(type_, GraphQLEnumType):
        return None
    wrapped: type[Enum] = type_.extensions[DEFINITION].wrapped_cls
    return wrapped


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _direct(
    function: Callable[..., Any], *, wants_info: bool, convert: Callable[[Arguments], Arguments]
) -> Callable[..., Any]:
    if convert is _unchanged:
        if wants_info:
            return lambda source, info, **args: function(source, info, **args)
        return lambda source, info, **args: function(source, **args)

    def call(source: Any, info: Any, **args: Any) -> Any:
        args = convert(args)
        return function(source, info, **args) if wants_info else function(source, **args)

    return call
