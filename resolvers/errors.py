"""Errors the gateway itself raises about a request, each with a stable code."""

from __future__ import annotations

from typing import TypeVar

from sources.errors import IsthmusError, SourceError

T = TypeVar("T")


class GatewayError(IsthmusError):
    """An error whose message is written for the client; `code` goes to `extensions.code`."""

    code = "INTERNAL"
    when = "a bug; the message carries the request id, the log the details"


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"
    when = (
        "a variable or argument value is wrong (type, `first` above 100, a cursor the API did not issue, a `search` over "
        "200 characters or with control characters, a malformed customer or owner id, unknown warehouse, quantity ≤ 0, "
        "a `Decimal` that is not finite, not below 10^15 or has more than 12 decimal places); the message names the "
        "variable or argument, and nothing is sent to a backend"
    )


class NotFound(GatewayError):
    code = "NOT_FOUND"
    when = "`customer(id)`, `product(sku)`, `contract(id)`, `order(id)`, `atp(sku)` for a key nobody knows"


class NotSupported(GatewayError):
    code = "NOT_SUPPORTED"
    when = "a worklist the configured backend cannot answer (the ERP worklists with Tryton as the ERP)"


Failure = SourceError | GatewayError  # what a field reports to the client and its siblings survive


def value_or_raise(answer: T | BaseException) -> T:
    """An answer of `gather(..., return_exceptions=True)` whose failure fails the caller: the
    value, or its exception raised (once every sibling has finished)."""
    if isinstance(answer, BaseException):
        raise answer
    return answer


def expected(answer: T | BaseException) -> T | Failure:
    """An answer of `gather(..., return_exceptions=True)`: its value or a `Failure` to report;
    anything else (a bug, a cancellation) is raised."""
    if isinstance(answer, (SourceError, GatewayError)) or not isinstance(answer, BaseException):
        return answer
    raise answer
