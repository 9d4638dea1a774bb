"""Typed settings: defaults run the demo; a TOML file and ISTHMUS_* variables override."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class BackendSettings(BaseModel):
    url: str
    timeout: float = Field(2.0, description="Seconds to wait for one backend answer.")
    connect_timeout: float = 1.0
    max_connections: int = 64


class CacheSettings(BaseModel):
    """Cross-request caching of backend data, by kind of data (seconds; 0 switches a kind off)."""

    enabled: bool = True
    ttl: dict[str, float] = Field(
        default_factory=lambda: {"master": 300, "activity": 60, "lists": 30, "orders": 30, "balances": 30, "stock": 5}
    )
    grace: float = Field(300, description="How long past its TTL an entry may still be served when its backend fails.")
    max_entries: int = Field(10_000, description="Per source method.")


class ResilienceSettings(BaseModel):
    retries: int = Field(2, description="Extra attempts for a failed read (never past the deadline).")
    breaker: bool = Field(True, description="Circuit breakers on (tests of other behaviour may switch them off).")
    breaker_threshold: int = Field(5, description="Consecutive failures that open a backend's circuit.")
    breaker_window: int = Field(20, description="Recent calls looked at for a failure ratio of 50 %.")
    breaker_cooldown: float = Field(5.0, description="Seconds an open circuit waits before one probe call.")
    max_request_timeout: float = Field(30.0, description="Cap on a deadline asked for with X-Request-Timeout.")


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
    audience: str | None = None
    issuer: str | None = None
    api_keys: list[ApiKey] = []
    allow_anonymous: bool = Field(False, description="Demo only: no credentials -> a principal with no roles.")
    enabled: bool = Field(True, description="Benchmark switch only: False skips field and row checks.")


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
    http_transport: Literal["httpx", "aiohttp"] = "aiohttp"
    request_timeout: float = Field(5.0, description="Deadline for one GraphQL request, in seconds.")
    max_body_bytes: int = 1_000_000
    document_cache_size: int = 1000
    batching: bool = Field(True, description="Benchmark switch only: False sends one backend call per key.")
    cache: CacheSettings = CacheSettings()
    resilience: ResilienceSettings = ResilienceSettings()
    auth: AuthSettings = AuthSettings()
    policy_dir: str | None = Field(None, description="Folder with model.conf and policy.csv (default: the shipped ones).")

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
    def load(cls, path: str | Path | None = None, **overrides: Any) -> "Settings":
        values = tomllib.loads(Path(path).read_text()) if path else {}
        return cls(**{**values, **overrides})
