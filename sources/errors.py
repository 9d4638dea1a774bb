"""Errors a source can raise: one small hierarchy, one class per GraphQL error code.

The gateway maps each class one-to-one onto `extensions.code`; `source` names the
backend so a client can tell which system failed (`extensions.source`).
"""

from __future__ import annotations


class SourceError(Exception):
    """A backend call failed; every key of the batch that needed it fails with it."""

    code = "SOURCE_ERROR"

    def __init__(self, source: str, method: str, detail: str) -> None:
        super().__init__(f"{source} {method}: {detail}")
        self.source = source
        self.method = method
        self.detail = detail

    @property
    def public_message(self) -> str:
        """What a client may read: the system and what went wrong, never backend internals."""
        return f"{self.source} could not answer ({self.describe})."

    describe = "error"


class SourceUnavailable(SourceError):
    code = "SOURCE_UNAVAILABLE"
    describe = "unavailable"


class SourceTimeout(SourceError):
    code = "SOURCE_TIMEOUT"
    describe = "timed out"


class SourceBadResponse(SourceError):
    code = "SOURCE_BAD_RESPONSE"
    describe = "malformed answer"


class SourceUnauthorized(SourceBadResponse):
    """The backend refused our credentials or session (HTTP 401): log in again, never retry blindly."""

    describe = "refused the gateway's credentials"
