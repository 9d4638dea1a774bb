"""Typed settings: defaults run the demo; a TOML file and ISTHMUS_* variables override."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sources.redact import redact

Priority = Literal["interactive", "worklist", "batch"]
BATCH: Priority = "batch"


def _per_class(*, interactive: float, worklist: float, batch: float) -> dict[Priority, float]:
    return {"interactive": interactive, "worklist": worklist, "batch": batch}


class BudgetSettings(BaseModel):
    """What the gateway may ask of one backend (see "Protecting the systems of record")."""

    max_concurrent: int = Field(32, ge=1, description="Calls in flight at once, all replicas together.")
    max_rate: float = Field(
        1000.0, ge=0, description="Calls per second, all replicas together (a burst of one second's worth); 0: none."
    )
    adaptive: bool = Field(
        False, description="Shrink the concurrency limit while the backend's latency is over 1.5 times its baseline."
    )
    min_concurrent: int = Field(1, ge=1, description="The adaptive limit's floor.")


class BackendSettings(BaseModel):
    url: str
    timeout: float = Field(2.0, description="Seconds to wait for one backend answer.")
    connect_timeout: float = 1.0
    max_connections: int = 64
    budget: BudgetSettings = BudgetSettings()

    def __repr_args__(self) -> Any:
        """A `user:password@` in the URL never reaches a repr (or a log line that prints settings)."""
        for name, value in super().__repr_args__():
            yield name, redact(value) if name == "url" and isinstance(value, str) else value


class TrytonSettings(BackendSettings):
    """Tryton as the ERP (`erp_kind = "tryton"`): its JSON-RPC at `<url>/<database>/rpc/`.

    The password comes from the environment (ISTHMUS_TRYTON__PASSWORD) and is never logged.
    A CRM customer's ERP ref names a Tryton party: by default its `code` equals the ref;
    `party_code_prefix` covers codes like "CUST-P00001"; `party_ref = "id"` takes the ref as
    the party's database id instead.
    """

    url: str = "http://127.0.0.1:8010"
    timeout: float = Field(5.0, description="Seconds to wait for one answer (a login hashes a password: ~150 ms).")
    database: str = "demo"
    user: str = "admin"
    password: SecretStr | None = Field(None, description="From ISTHMUS_TRYTON__PASSWORD; never logged.")
    language: str = "en"
    party_ref: Literal["code", "id"] = Field("code", description="Which party field a CRM ERP ref holds.")
    party_code_prefix: str = Field("", description="Party code = this prefix + the CRM's ERP ref.")


DEFAULT_TTL: dict[str, float] = {"master": 300, "activity": 60, "lists": 30, "orders": 30, "balances": 30, "stock": 5}


class CacheSettings(BaseModel):
    """Cross-request caching of backend data, by kind of data (seconds; 0 switches a kind off)."""

    enabled: bool = True
    ttl: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TTL))
    grace: float = Field(300, description="How long past its TTL an entry may still be served when its backend fails.")
    max_entries: int = Field(10_000, description="Per source method.")
    max_bytes: int = Field(
        48_000_000,
        gt=0,
        description="All the source caches of a process together, in estimated resident bytes (a record takes about "
        "4 bytes per byte of the backend JSON it came from); over it, the largest cache drops its least recently used.",
    )


class ResilienceSettings(BaseModel):
    retries: int = Field(2, description="Extra attempts for a failed read (never past the deadline).")
    breaker: bool = Field(True, description="Circuit breakers on (tests of other behaviour may switch them off).")
    breaker_threshold: int = Field(5, description="Consecutive failures that open a backend's circuit.")
    breaker_window: int = Field(20, description="Recent calls looked at for a failure ratio of 50 %.")
    breaker_cooldown: float = Field(5.0, description="Seconds an open circuit waits before one probe call.")
    max_request_timeout: float = Field(30.0, description="Cap on a deadline asked for with X-Request-Timeout.")


class BudgetsSettings(BaseModel):
    """Backend budgets, the priority classes that queue for them, and the fresh reads a caller may force.

    A request's class: its trusted document's (`documents`), else its operation's (`operations`),
    else `entities` for `_entities` (from a router), else the most urgent of its roles' (`roles`),
    else `default_class`. BI exports are `bi_exports`.
    """

    enabled: bool = True
    replicas: int = Field(
        1, ge=1, description="Replicas sharing the budgets; while Redis is away each keeps to its share (1/replicas)."
    )
    max_wait: dict[Priority, float] = Field(
        default_factory=lambda: _per_class(interactive=1.0, worklist=2.0, batch=4.0),
        description="Seconds a call of each class may queue for its backend's budget before it is shed.",
    )
    shares: dict[Priority, float] = Field(
        default_factory=lambda: _per_class(interactive=1.0, worklist=0.75, batch=0.5),
        description="A class starts a call only while fewer than this share of the limit are in flight.",
    )
    default_class: Priority = "interactive"
    operations: dict[str, Priority] = Field(default_factory=dict, description="Operation name -> class.")
    documents: dict[str, Priority] = Field(
        default_factory=dict, description='Trusted document id ("sha256:<hash>") -> class.'
    )
    roles: dict[str, Priority] = Field(default_factory=lambda: {"bi_reader": BATCH}, description="Role -> class.")
    entities: Priority | None = Field(None, description="The class of `_entities` (a router's calls), if set.")
    bi_exports: Priority = "batch"
    fresh_reads: int = Field(
        60,
        ge=0,
        description="Requests per principal per window that may bypass the cache (`no-cache`, `@fresh(maxAge: 0)`); "
        "0: none rationed.",
    )
    fresh_reads_window: float = Field(60.0, gt=0)


class ApiKey(BaseModel):
    """A service account: only the SHA-256 (hex) of its key is stored."""

    sha256: str
    principal: str
    name: str | None = None
    roles: list[str] = []


class AuthSettings(BaseModel):
    jwt_secret: SecretStr | None = Field(None, description="HS256 shared secret (from the environment, never logged).")
    jwt_public_key_file: str | None = Field(None, description="PEM public key for RS256/ES256 tokens.")
    jwks_file: str | None = Field(None, description="A JWKS file; tokens pick their key by `kid`.")
    jwt_algorithms: list[str] = ["HS256", "RS256", "ES256"]
    leeway_seconds: int = 30
    token_cache_size: int = Field(
        10_000, ge=0, description="Verified tokens remembered (by SHA-256) until they expire; 0 verifies every request."
    )
    audience: str | None = None
    issuer: str | None = None
    api_keys: list[ApiKey] = []
    allow_anonymous: bool = Field(False, description="Demo only: no credentials -> a principal with no roles.")
    enabled: bool = Field(True, description="Benchmark switch only: False skips field and row checks.")


class LimitSettings(BaseModel):
    """Demand control, on by default: documents over a limit are refused before any backend call."""

    max_depth: int = 12
    max_aliases: int = 100
    max_root_fields: int = 40
    max_fields: int = 1500
    max_tokens: int = 15_000
    max_cost: int = Field(
        300_000, description="Estimated cost of one operation (the 360 page with first: 100 is about 235,000)."
    )
    budget_per_window: int = Field(
        20_000_000, description="Cost a principal may spend per window; 0 switches the budget off."
    )
    budget_window: float = 60.0
    introspection_roles: list[str] | None = Field(
        None, description='Roles that may introspect the schema; None lets everyone (production: e.g. ["admin"]).'
    )


class ApqSettings(BaseModel):
    """Automatic persisted queries (the Apollo APQ protocol): documents registered by their SHA-256."""

    enabled: bool = True
    max_bytes: int = Field(
        16_000_000,
        description="Bound of the in-process store: total characters of the documents kept (least recently used go first).",
    )
    redis_ttl: float = Field(
        7 * 86400, description="Seconds a registered document stays in Redis (0: until Redis evicts it)."
    )


class PersistedSettings(BaseModel):
    """Trusted documents (the repository's persisted/ folder), safelisting and BI exports."""

    dir: str | None = Field(
        None, description="Folder of trusted .graphql operations (default: persisted/ beside app.py)."
    )
    trusted_only: bool = Field(
        False, description="Production: only trusted documents, except for roles the policy grants `documents:any`."
    )
    bi_page_size: int = Field(
        100, description="Items per page when an export pages through a connection whose $first has no default."
    )


class RedisSettings(BaseModel):
    """State shared by replicas: APQ documents, the second-level source cache, cost budgets,
    policy-reload notices. Unset: everything stays in-process. Redis down: the gateway keeps
    answering from in-process state and says so in /readyz."""

    url: SecretStr | None = Field(
        None,
        description="redis://host:6379/0 (rediss:// for TLS); the same for every replica. May hold the password: never printed.",
    )
    prefix: str = Field("isthmus:", description="Key prefix; replicas of one deployment must share it.")
    timeout: float = Field(0.1, description="Seconds to wait for Redis before going without it.")
    retry_after: float = Field(2.0, description="After a Redis failure, seconds before trying it again.")
    source_cache: bool = Field(
        True, description="Share backend answers through Redis (the in-process cache stays in front)."
    )


class IdempotencySettings(BaseModel):
    """Idempotency keys of mutations: how long an outcome is kept, and the claim on a key being worked on."""

    keep: float = Field(86_400.0, gt=0, description="Seconds a key's outcome is kept (in Redis, and in-process).")
    lease: float = Field(
        60.0, gt=0, description="Seconds a claim on a key holds if its holder dies; longer than any request."
    )
    max_keys: int = Field(10_000, ge=1, description="Keys kept in-process (least recently used out).")


class EventSettings(BaseModel):
    """Change events from the systems of record (`POST /events/{system}`, signed webhooks: server/events.py)."""

    secret: SecretStr | None = Field(
        None,
        description="The shared webhook secret (`whsec_<base64>` or any text); unset: no event endpoint. Never logged.",
    )
    tolerance: float = Field(300.0, gt=0, description="Seconds an event's timestamp may be from now, either way.")
    keep: float = Field(86_400.0, gt=0, description="Seconds an event id is remembered to refuse it again.")
    max_ids: int = Field(
        100_000, ge=1, description="Event ids remembered in-process (with Redis: across replicas too)."
    )


class SubscriptionSettings(BaseModel):
    """GraphQL subscriptions over WebSocket (graphql-transport-ws) and SSE (graphql-sse): resolvers/live.py."""

    max_per_principal: int = Field(20, ge=1, description="Subscriptions one principal may hold at once, per process.")
    queue_size: int = Field(100, ge=1, description="Events a subscriber may fall behind before it is ended.")
    coalesce: float = Field(
        0.02, ge=0, description="Seconds changes are gathered before one evaluation of them all (bursts coalesce)."
    )
    memory: int = Field(50_000, ge=1, description="Customers whose last alerts are remembered to tell what changed.")
    init_timeout: float = Field(10.0, gt=0, description="Seconds a WebSocket may take to send `connection_init`.")


class OpsSettings(BaseModel):
    """Who may read `/metrics` and `/readyz?details`: admins, and scrapers with the metrics token."""

    metrics_token_sha256: str | None = Field(
        None,
        description="SHA-256 (hex) of a bearer token for Prometheus scrapers; it opens /metrics and /readyz?details only.",
    )


class FederationSettings(BaseModel):
    """Apollo Federation v2: serve `_service` and `_entities` so a router can compose this subgraph."""

    enabled: bool = Field(
        False,
        description="Add the federation fields (a router needs them); the same limits, policy and safelisting apply.",
    )


class Settings(BaseSettings):
    """Typed settings: defaults run the demo; a TOML file and ISTHMUS_* variables override.

    Environment variables win over the file, e.g. ISTHMUS_ERP__URL=http://erp:8080.
    """

    model_config = SettingsConfigDict(env_prefix="ISTHMUS_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    crm: BackendSettings = BackendSettings(url="http://127.0.0.1:8101")
    erp: BackendSettings = BackendSettings(url="http://127.0.0.1:8102")
    clm: BackendSettings = BackendSettings(url="http://127.0.0.1:8103")
    desk: BackendSettings = BackendSettings(url="http://127.0.0.1:8104")
    srm: BackendSettings = BackendSettings(url="http://127.0.0.1:8105")
    mes: BackendSettings = BackendSettings(url="http://127.0.0.1:8106")
    erp_kind: Literal["demo", "tryton"] = Field(
        "demo", description="The ERP behind the `erp` source: the demo REST ERP or Tryton."
    )
    tryton: TrytonSettings = TrytonSettings()
    credit_basis: Literal["gross", "net"] = Field(
        "gross",
        description="Credit used = open receivables + uninvoiced open orders, both gross (with tax, like the "
        "credit limit) or both net.",
    )
    http_transport: Literal["httpx", "aiohttp"] = "aiohttp"
    request_timeout: float = Field(5.0, description="Deadline for one GraphQL request, in seconds.")
    max_body_bytes: int = 1_000_000
    document_cache_size: int = 1000
    plan_cache_size: int = Field(
        500, ge=1, description="Operation plans kept (per document, operation, policy decisions); a reload empties it."
    )
    plans: bool = Field(
        True, description="Run operations on their plans; False: on graphql-core's executor (the reference)."
    )
    batching: bool = Field(True, description="Benchmark switch only: False sends one backend call per key.")
    cache: CacheSettings = CacheSettings()
    resilience: ResilienceSettings = ResilienceSettings()
    budgets: BudgetsSettings = BudgetsSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitSettings = LimitSettings()
    apq: ApqSettings = ApqSettings()
    persisted: PersistedSettings = PersistedSettings()
    federation: FederationSettings = FederationSettings()
    redis: RedisSettings = RedisSettings()
    ops: OpsSettings = OpsSettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    events: EventSettings = EventSettings()
    subscriptions: SubscriptionSettings = SubscriptionSettings()
    policy_dir: str | None = Field(
        None, description="Folder with model.conf and policy.csv (default: the shipped ones)."
    )
    approval_rules: str | None = Field(
        None,
        description="The quote approval rules file (default: the shipped policies/approvals.toml); re-read when it changes.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        values = tomllib.loads(Path(path).read_text()) if path else {}
        return cls(**{**values, **overrides})
