"""Errors a source can raise: one small hierarchy, one class per GraphQL error code.

The gateway maps each class one-to-one onto `extensions.code`; `source` names the
backend so a client can tell which system failed (`extensions.source`).
"""

from __future__ import annotations

from typing import ClassVar


class IsthmusError(Exception):
    """The root of every error a client can see: `code` is its stable `extensions.code`.

    `when` (what the client did or met) and `http` (the status it comes with) document
    it: the README's error table is generated from them (`server/errors.py`). A class
    with no `when` refines another's row (or is never seen by a client as itself).
    """

    code: ClassVar[str] = "INTERNAL"
    when: ClassVar[str] = ""
    http: ClassVar[str] = "200"


class SourceError(IsthmusError):
    """A backend call failed; every key of the batch that needed it fails with it."""

    code = "SOURCE_ERROR"  # abstract: a client sees one of the subclasses

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
    when = "a backend refused, failed (5xx) or is down; `extensions.source` names it"
    describe = "unavailable"


class SourceTimeout(SourceError):
    code = "SOURCE_TIMEOUT"
    when = "a backend did not answer within its timeout or the request's deadline"
    describe = "timed out"


class SourceBadResponse(SourceError):
    code = "SOURCE_BAD_RESPONSE"
    when = "a backend answered with something that is not what its API promises"
    describe = "malformed answer"


class SourceUnauthorized(SourceBadResponse):
    """The backend refused our credentials or session (HTTP 401): log in again, never retry blindly."""

    describe = "refused the gateway's credentials"


class SourceOutcomeUnknown(SourceError):
    """A write was sent and no answer came: it may or may not have been made."""

    code = "OUTCOME_UNKNOWN"
    when = (
        "a write was sent to a backend that did not answer (timeout, dropped connection, 5xx other than 503): it may "
        "have been made; send the mutation again with the same `idempotencyKey` to settle it, never a new key"
    )
    describe = "did not confirm the write"


class SourceRejected(SourceError):
    """A backend refused a write's input (4xx): nothing was written. `field` is the body path it named, if any."""

    code = "SOURCE_REJECTED"
    when = "a system of record refused a write (its message says why); nothing was written"
    describe = "refused the write"

    def __init__(self, source: str, method: str, detail: str, *, status: int, field: str | None = None) -> None:
        super().__init__(source, method, detail)
        self.status = status
        self.field = field

    @property
    def public_message(self) -> str:
        return f"{self.source} refused the write: {self.detail}"


class BackendBusy(SourceError):
    """The backend's budget (calls at once, calls per second) stayed spent for the longest wait this
    call's priority class may queue: shed here, never sent. `retry_after`: seconds worth waiting."""

    code = "BACKEND_BUSY"
    when = (
        "a backend's budget of calls stayed spent for longer than the request's class may wait (see \"Protecting "
        'the systems of record"); nothing was sent to it. `Retry-After` and `extensions.retryAfter` say when to retry'
    )
    http = "200 (a BI export: 503), with `Retry-After`"
    describe = "busy: its budget of calls is spent"

    def __init__(self, source: str, method: str, detail: str, *, retry_after: int) -> None:
        super().__init__(source, method, detail)
        self.retry_after = retry_after
