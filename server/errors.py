"""Every error a client can see, under one root (`sources.errors.IsthmusError`), and the README's table of them.

The sources' and resolvers' errors are raised where they happen; the server's are here:
refusals before execution (`BadRequest`: an HTTP status and a coded body) and demand
limits (`Refused`: a coded GraphQL error, nothing executed). Codes graphql-core and the
executor produce as plain errors (parse, validation, deadline) are described here too,
so that the table lists every code. `error_table()` renders the table; a test checks
that the README holds exactly it.
"""

from __future__ import annotations

from resolvers.access import Forbidden
from resolvers.costing import BomCycle
from resolvers.errors import BadUserInput, GatewayError, NotFound, NotSupported
from resolvers.live import SubscriberTooSlow, TooManySubscriptions
from sources.errors import (
    BackendBusy,
    IsthmusError,
    SourceBadResponse,
    SourceOutcomeUnknown,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from sources.idempotency import KeyInUse, KeyReused


class BadRequest(IsthmusError):
    """A request refused before execution: HTTP `status`, a coded GraphQL-shaped error."""

    code = "BAD_REQUEST"
    when = "the body is not a GraphQL request (not JSON, no `query`, ...)"
    http = "400 (413 when too large)"
    status = 400

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.headers = headers or {}


class Unauthenticated(IsthmusError):
    """The request carries no valid credentials; the message tells the caller what to fix."""

    code = "UNAUTHENTICATED"
    when = "no, expired or invalid credentials"
    http = "401"


class RateLimited(BadRequest):
    code = "RATE_LIMITED"
    when = "the caller's cost budget for the window is spent; `Retry-After` says when to retry"
    http = "429"
    status = 429


class FreshReadsSpent(BadRequest):
    code = "FRESH_READS_SPENT"
    when = (
        "`Cache-Control: no-cache, only-if-fresh` past the caller's allowance of fresh reads (`budgets.fresh_reads`); "
        "nothing was executed. Without `only-if-fresh` the answer comes from the cache instead, its ages stated"
    )
    http = "429"
    status = 429


class PersistedQueryNotFound(BadRequest):
    code = "PERSISTED_QUERY_NOT_FOUND"
    when = "APQ: the hash is not known (yet); send the text with it. Message `PersistedQueryNotFound`"
    http = "200"
    status = 200


class PersistedQueryNotSupported(BadRequest):
    code = "PERSISTED_QUERY_NOT_SUPPORTED"
    when = "APQ: a `persistedQuery.version` other than 1 (400), or APQ switched off (200)"
    http = "400 / 200"


class PersistedQueryHashMismatch(BadRequest):
    code = "PERSISTED_QUERY_HASH_MISMATCH"
    when = "APQ: `sha256Hash` is not the SHA-256 of the text sent with it"
    http = "400"


class PersistedDocumentNotFound(BadRequest):
    code = "PERSISTED_DOCUMENT_NOT_FOUND"
    when = "a `documentId`, or `/bi/<name>`, that is no trusted document"
    http = "404"
    status = 404


class DocumentNotTrusted(BadRequest):
    code = "DOCUMENT_NOT_TRUSTED"
    when = (
        "the caller may only run trusted documents (`bi_reader`; everyone without `documents:any` under "
        "`persisted.trusted_only`)"
    )
    http = "403"
    status = 403


class MethodNotAllowed(BadRequest):
    code = "METHOD_NOT_ALLOWED"
    when = "a mutation sent with GET"
    http = "405"
    status = 405


class NotExportable(BadRequest):
    code = "NOT_EXPORTABLE"
    when = "`/bi/<name>` of a trusted operation that selects no list, or of a mutation"
    http = "400"


class Refused(IsthmusError):
    """A valid document over a demand limit: answered with a coded error, never executed."""

    when = 'the document is over a demand limit (see "Demand control"); nothing was executed'


class QueryTooDeep(Refused):
    code = "QUERY_TOO_DEEP"


class TooManyAliases(Refused):
    code = "TOO_MANY_ALIASES"


class TooManyRootFields(Refused):
    code = "TOO_MANY_ROOT_FIELDS"


class TooManyFields(Refused):
    code = "TOO_MANY_FIELDS"


class QueryTooComplex(Refused):
    code = "QUERY_TOO_COMPLEX"
    when = "the operation's estimated cost is over `limits.max_cost`; ask for smaller `first` or fewer nested lists"


class IntrospectionDisabled(Refused):
    code = "INTROSPECTION_DISABLED"
    when = "introspection is kept to some roles (`limits.introspection_roles`)"


# Codes the GraphQL layer writes itself (schema/executor.py); described, never raised.


class GraphqlParseFailed(IsthmusError):
    code = "GRAPHQL_PARSE_FAILED"
    when = "the document is not valid GraphQL"


class GraphqlValidationFailed(IsthmusError):
    code = "GRAPHQL_VALIDATION_FAILED"
    when = "unknown field, wrong argument, ..."


class DeadlineExceeded(IsthmusError):
    code = "DEADLINE_EXCEEDED"
    when = "the request as a whole outlived its deadline (a net under the per-call timeouts)"


class EventRefused(IsthmusError):
    """A change event not taken (server/events.py): `outcome` labels `isthmus_events_total`, `status` is answered."""

    outcome = "refused"
    status = 400


class EventSignatureInvalid(EventRefused):
    code = "EVENT_SIGNATURE_INVALID"
    when = "a change event (`POST /events/{system}`) without webhook headers, or whose signature does not verify"
    http = "401"
    outcome = "forged"
    status = 401


class EventExpired(EventRefused):
    code = "EVENT_EXPIRED"
    when = "a change event whose `webhook-timestamp` is more than `events.tolerance` seconds from now (a replay)"
    http = "400"
    outcome = "expired"


class EventDuplicate(EventRefused):
    code = "EVENT_DUPLICATE"
    when = "a change event whose id was taken before (a replay; a sender's retry takes it as delivered)"
    http = "409"
    outcome = "duplicate"
    status = 409


Row = type[IsthmusError] | tuple[type[IsthmusError], ...]

# The README's order; a tuple is one row for codes that share what they mean.
TABLE: tuple[Row, ...] = (
    GraphqlParseFailed,
    GraphqlValidationFailed,
    BadUserInput,
    BadRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    SourceUnavailable,
    SourceTimeout,
    SourceBadResponse,
    BackendBusy,
    BomCycle,
    NotSupported,
    (QueryTooDeep, TooManyAliases, TooManyRootFields, TooManyFields),
    QueryTooComplex,
    RateLimited,
    FreshReadsSpent,
    IntrospectionDisabled,
    DeadlineExceeded,
    GatewayError,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
    PersistedQueryHashMismatch,
    PersistedDocumentNotFound,
    DocumentNotTrusted,
    MethodNotAllowed,
    NotExportable,
    KeyReused,
    KeyInUse,
    SourceOutcomeUnknown,
    SourceRejected,
    EventSignatureInvalid,
    EventExpired,
    EventDuplicate,
    TooManySubscriptions,
    SubscriberTooSlow,
)


def error_table() -> str:
    """The README's error table: one row per code (or group of codes), what it means, its HTTP status."""
    lines = ["| code | when | HTTP |", "|---|---|---|"]
    for row in TABLE:
        group = row if isinstance(row, tuple) else (row,)
        codes = ", ".join(f"`{error.code}`" for error in group)
        lines.append(f"| {codes} | {group[0].when} | {group[0].http} |")
    return "\n".join(lines) + "\n"


def documented_codes() -> set[str]:
    return {error.code for row in TABLE for error in (row if isinstance(row, tuple) else (row,))}
