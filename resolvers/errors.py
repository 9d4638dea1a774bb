"""Errors the gateway itself raises about a request, each with a stable code."""

from __future__ import annotations


class GatewayError(Exception):
    """An error whose message is written for the client; `code` goes to `extensions.code`."""

    code = "INTERNAL"


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class NotFound(GatewayError):
    code = "NOT_FOUND"
