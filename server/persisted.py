"""Persisted documents: automatic persisted queries, trusted documents, safelisting, GET caching.

- **APQ** (the Apollo protocol): a request may carry
  `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`. Without `query`
  the document is looked up by its hash (`PERSISTED_QUERY_NOT_FOUND` when unknown:
  the client then sends it again with the text); with `query` the hash must be the
  text's SHA-256 (`PERSISTED_QUERY_HASH_MISMATCH` otherwise) and a valid document is
  registered. The store is bounded and in-process, or Redis (`redis.url`) for
  several replicas. Documents are content-addressed: a stored text is checked against
  its hash before use, so nothing in the store can make a hash run another document.
- **Trusted documents**: the `.graphql` operations (queries, and the front-ends'
  mutations) of the repository's `persisted/` folder, loaded at start-up into a manifest
  (SHA-256 of the file's text -> text, operation name). Callable by
  `documentId: "sha256:<hex>"` (POST body, or GET query string for queries), by APQ
  hash, by their exact text, or, queries only, by name on the BI endpoint.
- **Safelisting**: the policy pins a role to `documents:trusted` or `documents:any`;
  other roles follow `persisted.trusted_only`. A caller limited to trusted documents
  who sends another gets `DOCUMENT_NOT_TRUSTED` (403).
- **GET caching**: a query answered over GET carries a weak `ETag` (a hash of its
  `data` and `errors`, not of the volatile `extensions`), `Cache-Control: private,
  max-age=N` (see `max_age_of`), and, like every answer, `Vary` on the credentials;
  `If-None-Match` with the current ETag gets 304.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from cachetools import LRUCache
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType, parse, validate

from resolvers.context import Principal
from server.access import caller
from server.errors import (
    BadRequest,
    DocumentNotTrusted,
    MethodNotAllowed,
    PersistedDocumentNotFound,
    PersistedQueryHashMismatch,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
)
from server.settings import ApqSettings
from sources.redis_link import RedisLink

log = logging.getLogger("isthmus.persisted")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "persisted"
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
MANIFEST_PATH = "/persisted/manifest"
# Errors that say something about the data, the same on every ask: such answers may be cached.
CACHEABLE_ERROR_CODES = frozenset({"FORBIDDEN", "NOT_FOUND"})
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Trusted documents
# ---------------------------------------------------------------------------


class ManifestError(Exception):
    """A file of persisted/ is not a valid trusted operation (the gateway does not start)."""


@dataclass(frozen=True)
class TrustedDocument:
    hash: str  # hex SHA-256 of `body`
    name: str  # the operation's name, unique in the manifest
    body: str  # the file's text, exactly
    kind: str  # "query" or "mutation" (a mutation runs over POST only, and is never exported)
    file: str  # the file's name, for messages

    @property
    def document_id(self) -> str:
        return f"sha256:{self.hash}"


class Manifest:
    """The trusted documents, by hash and by operation name."""

    def __init__(self, documents: list[TrustedDocument], folder: Path | None = None) -> None:
        self.folder = folder
        self.by_hash = {document.hash: document for document in documents}
        self.by_name = {document.name: document for document in documents}

    def __len__(self) -> int:
        return len(self.by_hash)

    def get(self, sha256: str) -> TrustedDocument | None:
        return self.by_hash.get(sha256.lower())

    @classmethod
    def load(cls, folder: str | Path | None, schema: GraphQLSchema) -> Manifest:
        """Every `*.graphql` of the folder: one named query or mutation each (fragments allowed), valid against
        the schema."""
        folder = Path(folder) if folder else DEFAULT_DIR
        if not folder.is_dir():
            log.warning("no persisted documents: %s is not a folder", folder)
            return cls([], folder)
        documents: list[TrustedDocument] = []
        names: dict[str, str] = {}
        for path in sorted(folder.glob("*.graphql")):
            body = path.read_bytes().decode("utf-8")  # exactly as stored: the hash is of these bytes
            try:
                document = parse(body)
            except GraphQLError as exc:
                raise ManifestError(f"{path.name}: not valid GraphQL: {exc.message}") from None
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            operation = operations[0] if len(operations) == 1 else None
            if operation is None or operation.name is None:
                raise ManifestError(f"{path.name}: a trusted document holds exactly one named operation")
            if operation.operation not in (OperationType.QUERY, OperationType.MUTATION):
                raise ManifestError(f"{path.name}: only queries and mutations may be trusted documents")
            errors = validate(schema, document)
            if errors:
                raise ManifestError(f"{path.name}: does not validate against the schema: {errors[0].message}")
            name = operation.name.value
            if name in names:
                raise ManifestError(f"{path.name}: operation {name} is already defined in {names[name]}")
            names[name] = path.name
            documents.append(TrustedDocument(sha256_hex(body), name, body, operation.operation.value, path.name))
        return cls(documents, folder)

    def as_json(self) -> dict[str, Any]:
        """Apollo's persisted query manifest format, which client build tools read."""
        return {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                {"id": d.hash, "name": d.name, "type": d.kind, "body": d.body}
                for d in sorted(self.by_hash.values(), key=lambda d: d.name)
            ],
        }


# ---------------------------------------------------------------------------
# APQ stores
# ---------------------------------------------------------------------------


class ApqStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryStore:
    """In-process, bounded by the total size of the documents; least recently used go first."""

    def __init__(self, max_chars: int) -> None:
        self._documents: LRUCache[str, str] = LRUCache(maxsize=max_chars, getsizeof=len)

    def __len__(self) -> int:
        return len(self._documents)

    @property
    def size(self) -> int:
        return int(self._documents.currsize)

    async def get(self, sha256: str) -> str | None:
        return self._documents.get(sha256)

    async def put(self, sha256: str, document: str) -> None:
        with contextlib.suppress(ValueError):  # larger than the whole store: not kept
            self._documents[sha256] = document

    async def aclose(self) -> None:
        return None


class RedisStore:
    """Shared by every replica; a small in-process store in front saves a round trip per hit.

    Documents are content-addressed, so the local copy can never be stale, and a text
    read from Redis is used only if it hashes to its key. Redis failing degrades to a
    miss (the client sends the text again), never to an error.
    """

    def __init__(self, link: RedisLink, ttl: float, *, local_chars: int = 2_000_000) -> None:
        self._link = link
        self._ttl = int(ttl) if ttl and ttl > 0 else None
        self._local = MemoryStore(local_chars)

    async def get(self, sha256: str) -> str | None:
        found = await self._local.get(sha256)
        if found is not None:
            return found
        value = await self._link.run("APQ read", lambda client: client.get(self._link.key("apq", sha256)), None)
        if value is None:
            return None
        document = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        if sha256_hex(document) != sha256:
            log.error("APQ store (Redis) holds a document that does not match its hash %s; ignored", sha256)
            return None
        await self._local.put(sha256, document)
        return document

    async def put(self, sha256: str, document: str) -> None:
        await self._local.put(sha256, document)
        await self._link.run(
            "APQ write", lambda client: client.set(self._link.key("apq", sha256), document, ex=self._ttl), None
        )

    async def aclose(self) -> None:
        return None  # the link belongs to the gateway


def make_store(settings: ApqSettings, link: RedisLink | None) -> ApqStore:
    if link is not None:
        return RedisStore(link, settings.redis_ttl)
    return MemoryStore(settings.max_bytes)


# ---------------------------------------------------------------------------
# Resolving a request's document
# ---------------------------------------------------------------------------


class PersistedDocuments:
    """Turns a request (query, documentId, or APQ hash) into the document to run, or refuses it."""

    def __init__(self, services: Any, gateway: Any) -> None:
        """`services`: the wiring (server/wiring.py); `gateway`: the request pipeline, with its document cache."""
        self.settings = settings = services.settings
        self.gateway = gateway
        self.manifest = Manifest.load(settings.persisted.dir, services.executor.schema)
        self.store = make_store(settings.apq, services.redis)
        log.info(
            "trusted documents loaded", extra={"documents": len(self.manifest), "folder": str(self.manifest.folder)}
        )

    async def aclose(self) -> None:
        await self.store.aclose()

    def level(self, principal: Principal) -> str:
        """ "any" or "trusted": which documents this caller may send."""
        default = "trusted" if self.settings.persisted.trusted_only else "any"
        if not self.settings.auth.enabled:
            return default
        authorizer = self.gateway.authorizer
        authorizer.reload_if_changed()
        return authorizer.documents(principal.roles, default)

    async def resolve(self, payload: Any, principal: Principal, method: str) -> tuple[Any, TrustedDocument | None]:
        """The payload to run (with `query` filled in) and the trusted document it is, if it is one."""
        if not isinstance(payload, dict):
            return payload, None
        query = payload.get("query")
        query = query if isinstance(query, str) and query.strip() else None
        document_id = payload.get("documentId")
        extensions = payload.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise BadRequest("`extensions` must be a JSON object.")
        apq = (extensions or {}).get("persistedQuery")
        trusted: TrustedDocument | None = None
        register: str | None = None

        if document_id is not None:
            if query is not None:
                raise BadRequest("Send either `documentId` or `query`, not both.")
            trusted = self._by_document_id(document_id)
            query = trusted.body
        elif apq is not None:
            sha256 = self._apq_hash(apq)
            if query is not None:
                if sha256_hex(query) != sha256:
                    raise PersistedQueryHashMismatch(
                        "The persistedQuery sha256Hash is not the SHA-256 of the query text (hex of its UTF-8 bytes)."
                    )
                trusted = self.manifest.get(sha256)
                register = sha256 if trusted is None else None
            else:
                trusted = self.manifest.get(sha256)
                if trusted is not None:
                    query = trusted.body
                elif self.settings.apq.enabled:
                    query = await self.store.get(sha256)
                    if query is None:
                        raise PersistedQueryNotFound("PersistedQueryNotFound", headers=NO_CACHE)
                else:
                    raise PersistedQueryNotSupported("PersistedQueryNotSupported", status=200, headers=NO_CACHE)
        elif query is not None:
            trusted = self.manifest.get(sha256_hex(query))

        if query is None:
            return payload, None  # parse_payload says what is missing
        operation_name = payload.get("operationName")
        if method == "GET" and self.gateway.documents.is_mutation(
            query, operation_name if isinstance(operation_name, str) else None
        ):
            raise MethodNotAllowed(
                "Only queries may be sent with GET; send mutations with POST.", headers={"Allow": "POST"}
            )
        if trusted is None and self.level(principal) == "trusted":
            raise DocumentNotTrusted(
                'Your role may only run trusted documents: send `documentId: "sha256:<hash>"` of an operation '
                f"listed by GET {MANIFEST_PATH} (or export it from /bi/<operationName>.csv); "
                "ad-hoc documents are not accepted."
            )
        # Only documents that parse and validate are kept (the check is cached for the run).
        if register is not None and self.settings.apq.enabled and not self.gateway.documents.prepare(query).errors:
            await self.store.put(register, query)
        resolved = {key: value for key, value in payload.items() if key not in ("documentId", "extensions")}
        resolved["query"] = query
        if trusted is not None and not isinstance(resolved.get("operationName"), str):
            resolved["operationName"] = trusted.name
        return resolved, trusted

    def _by_document_id(self, document_id: Any) -> TrustedDocument:
        if (
            not isinstance(document_id, str)
            or not document_id.startswith("sha256:")
            or not HEX64.match(document_id[7:])
        ):
            raise BadRequest(
                '`documentId` must be "sha256:" followed by the 64 hex digits of a trusted document\'s hash.'
            )
        trusted = self.manifest.get(document_id[7:])
        if trusted is None:
            raise PersistedDocumentNotFound(
                f"No trusted document has the id {document_id}; GET {MANIFEST_PATH} lists them."
            )
        return trusted

    @staticmethod
    def _apq_hash(apq: Any) -> str:
        if not isinstance(apq, dict):
            raise BadRequest("`extensions.persistedQuery` must be a JSON object.")
        if apq.get("version") != 1:
            raise PersistedQueryNotSupported("PersistedQueryNotSupported: only persistedQuery version 1 is supported.")
        sha256 = apq.get("sha256Hash")
        if not isinstance(sha256, str) or not HEX64.match(sha256):
            raise BadRequest("`extensions.persistedQuery.sha256Hash` must be 64 hex digits.")
        return sha256.lower()


# ---------------------------------------------------------------------------
# HTTP caching of GET answers
# ---------------------------------------------------------------------------


def etag_of(result: dict[str, Any]) -> str:
    """A weak ETag of what the answer says (data and errors), not of its volatile extensions."""
    content = orjson.dumps({"data": result.get("data"), "errors": result.get("errors")}, option=orjson.OPT_SORT_KEYS)
    return f'W/"{hashlib.sha256(content).hexdigest()[:40]}"'


def max_age_of(result: dict[str, Any], gateway: Any) -> int:
    """How long a client may reuse this answer: what is left of the gateway's own cache lifetime.

    For each source in `extensions.freshness`: the shortest TTL among that source's
    cached methods minus the age of the oldest data it served; the smallest of these,
    in whole seconds, at least 0. 0 when the cache is off, any kind of data is not
    cached (TTL 0: live data is not in the freshness report) or any data was stale.
    An answer that used no backend gets the shortest configured TTL.
    """
    cache = gateway.settings.cache
    ttls = [float(ttl) for ttl in cache.ttl.values()]
    if not cache.enabled or not ttls or min(ttls) <= 0:
        return 0
    sources = {source.name: source for source in gateway.backends.all()}
    remaining: list[float] = []
    for name, seen in ((result.get("extensions") or {}).get("freshness") or {}).items():
        if seen.get("stale"):
            return 0
        source = sources.get(name)
        methods = [c.ttl for c in source.caches.values()] if source is not None else []
        remaining.append((min(methods) if methods else min(ttls)) - float(seen.get("age", 0.0)))
    return max(0, int(min(remaining) if remaining else min(ttls)))


def cacheable(result: dict[str, Any]) -> bool:
    errors = result.get("errors") or []
    return all((e.get("extensions") or {}).get("code") in CACHEABLE_ERROR_CODES for e in errors) and "data" in result


def if_none_match(header: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def conditional_get(request: Request, response: Response, result: dict[str, Any], gateway: Any) -> Response:
    """Add ETag and Cache-Control to a GET answer; 304 when the client's copy is current."""
    # `Vary: Authorization, X-API-Key` comes with every answer (server.http.VaryOnCredentials).
    if not cacheable(result):
        response.headers["Cache-Control"] = "private, no-store"
        return response
    etag = etag_of(result)
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age_of(result, gateway)}"}
    if if_none_match(request.headers.get("if-none-match"), etag):
        keep = {k: v for k, v in response.headers.items() if k.lower() == "x-request-id"}
        return Response(status_code=304, headers={**keep, **headers})
    response.headers.update(headers)
    return response


# ---------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------


def add_manifest_route(app: FastAPI) -> None:
    @app.get(
        MANIFEST_PATH,
        summary="The trusted documents (Apollo persisted query manifest format)",
        dependencies=[Depends(caller)],
    )
    async def manifest(request: Request) -> Response:
        documents: PersistedDocuments = request.app.state.documents
        return Response(orjson.dumps(documents.manifest.as_json()), media_type="application/json")
