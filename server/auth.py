"""Who is calling: a Bearer JWT or an API key becomes a Principal, or the request is refused.

- `Authorization: Bearer <JWT>`: HS256 with a shared secret, or RS256/ES256 with a
  public key or a JWKS file; `exp` and `nbf` are checked with a small leeway. Each key
  takes only the configured algorithms of its kind, so a token "signed" with HS256 and
  the public key as secret (algorithm confusion) is refused like any bad token.
  Claims: `sub` (for sales staff their SalesRep id in the CRM), `name`, `roles`, `team`.
- `X-API-Key: <key>` for service accounts: only the key's SHA-256 is configured.
- Nothing, or something that does not verify (malformed, oversized, non-ASCII, claims of
  the wrong shape): HTTP 401 with a message saying which, never a 500.

A client sends the same token with every request, and checking its signature and claims
was a fifth of the CPU of a small query. A token that verified is remembered, by its
SHA-256 (never the token itself), until its `exp` (without the leeway), and used only
within the window verification allowed (`nbf`, `iat`); at most `auth.token_cache_size`
of them, least recently used out first. A token that failed is never remembered: it is
verified again, and refused again, every time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cachetools import TLRUCache

from resolvers.context import Principal
from server.errors import Unauthenticated
from server.settings import AuthSettings

MAX_TOKEN_LENGTH = 8192  # characters; real tokens are a few hundred
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class Authenticator:
    def __init__(self, settings: AuthSettings, *, clock: Callable[[], float] = time.time) -> None:
        """`clock`: wall time in seconds, as `exp` and `nbf` count it (tests move it)."""
        self.settings = settings
        self._keys = self._verification_keys(settings)
        self._api_keys = {entry.sha256.lower(): entry for entry in settings.api_keys}
        self._clock = clock
        self._verified: TLRUCache[bytes, Verified] | None = None
        if settings.token_cache_size > 0:
            self._verified = TLRUCache(settings.token_cache_size, ttu=_until_expiry, timer=clock)
        self._lock = threading.Lock()  # the authentication dependency runs in a thread pool

    def authenticate(self, headers: Any) -> Principal:
        return self.session(headers)[0]

    def session(self, headers: Any) -> tuple[Principal, float | None]:
        """The principal, and when its credentials expire (a token's `exp`, wall time; None for an
        API key): a subscription, which outlives the request that opened it, ends then."""
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
            verified = self._from_token(token.strip())
            return verified.principal, verified.expires
        if api_key:
            return self._from_api_key(api_key), None
        if self.settings.allow_anonymous:
            return Principal(id="anonymous", name="Anonymous", roles=()), None
        raise Unauthenticated("No credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>`.")

    def _from_token(self, token: str) -> Verified:
        if not self._keys:
            raise Unauthenticated("This gateway accepts no tokens (no verification key is configured).")
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated(f"The token is longer than {MAX_TOKEN_LENGTH} characters; it is not one of ours.")
        if not token.isascii():
            raise Unauthenticated("The token is not a JWT: it holds characters outside ASCII.")
        if self._verified is None:
            return self._verify(token)
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            known = self._verified.get(digest)
        if known is not None and known.not_before <= self._clock():
            return known
        verified = self._verify(token)
        with self._lock:
            self._verified[digest] = verified  # not kept if it expires before now (TLRUCache)
        return verified

    def _verify(self, token: str) -> Verified:
        """Signature and claims, or Unauthenticated saying what is wrong."""
        key: VerificationKey | None = None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")  # PyJWT has checked that it is a string, if present
            key = self._keys.get(kid) or self._keys.get(None)
            if key is None:
                raise Unauthenticated(f"The token's key id {kid!r} is not one this gateway knows.")
            # The key decides the algorithms: a public key never serves as an HMAC secret.
            if header.get("alg") not in key.algorithms:
                raise jwt.InvalidAlgorithmError(header.get("alg"))
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=key.algorithms,
                leeway=self.settings.leeway_seconds,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["sub", "exp"], "verify_aud": self.settings.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired; get a new one.") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("The token is not valid yet (nbf is in the future).") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("The token's signature does not verify.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"The token lacks the `{exc.claim}` claim.") from None
        except jwt.InvalidAlgorithmError:
            accepted = ", ".join(key.algorithms if key else self.settings.jwt_algorithms) or "none"
            raise Unauthenticated(f"The token's algorithm is not accepted here ({accepted}).") from None
        except jwt.InvalidKeyError:
            raise Unauthenticated("The token's algorithm does not fit the key this gateway verifies it with.") from None
        except jwt.PyJWTError as exc:  # malformed, wrong key type, bad claims: all a 401, never a 500
            raise Unauthenticated(f"The token is not valid: {exc}.") from None
        # PyJWT has read these claims as int() reads them; `exp` is required.
        starts = [int(claims[name]) for name in ("nbf", "iat") if name in claims]
        return Verified(
            _principal(claims),
            not_before=max(starts, default=0) - self.settings.leeway_seconds,
            expires=int(claims["exp"]),
        )

    def _from_api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).hexdigest()
        for known, entry in self._api_keys.items():
            if hmac.compare_digest(known, digest):
                return Principal(id=entry.principal, name=entry.name, roles=tuple(sorted(entry.roles)))
        raise Unauthenticated("Unknown API key.")

    @staticmethod
    def _verification_keys(settings: AuthSettings) -> dict[str | None, VerificationKey]:
        """Keys by `kid`, each with the configured algorithms of its own kind (HMAC or public-key)."""
        hmac_algorithms = [a for a in settings.jwt_algorithms if a in HMAC_ALGORITHMS]
        public_algorithms = [a for a in settings.jwt_algorithms if a in PUBLIC_KEY_ALGORITHMS]
        keys: dict[str | None, VerificationKey] = {}
        if settings.jwt_secret:
            keys[None] = VerificationKey(settings.jwt_secret.get_secret_value(), hmac_algorithms)
        if settings.jwt_public_key_file:
            keys[None] = VerificationKey(Path(settings.jwt_public_key_file).read_text(), public_algorithms)
        if settings.jwks_file:
            jwks = jwt.PyJWKSet.from_dict(json.loads(Path(settings.jwks_file).read_text()))
            for jwk in jwks.keys:
                keys[jwk.key_id] = VerificationKey(
                    jwk.key, hmac_algorithms if jwk.key_type == "oct" else public_algorithms
                )
        return keys


@dataclass(frozen=True)
class VerificationKey:
    key: Any
    algorithms: list[str]


@dataclass(frozen=True)
class Verified:
    """A token's caller, and the wall-clock window in which it may be taken without verifying again."""

    principal: Principal
    not_before: float  # nbf or iat, less the leeway: what verification accepted
    expires: float  # exp, without the leeway


def _until_expiry(digest: bytes, verified: Verified, now: float) -> float:
    return verified.expires


def _principal(claims: dict[str, Any]) -> Principal:
    """The caller from verified claims; claims of the wrong shape are a bad token, not a crash."""
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthenticated("The token's `roles` claim must be a list of strings.")
    for name in ("name", "team"):
        if claims.get(name) is not None and not isinstance(claims[name], str):
            raise Unauthenticated(f"The token's `{name}` claim must be a string.")
    return Principal(
        id=str(claims["sub"]),
        name=claims.get("name"),
        roles=tuple(sorted(roles)),
        team=claims.get("team"),
    )


def mint_token(
    secret: str,
    *,
    user: str,
    roles: list[str],
    team: str | None = None,
    name: str | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    """An HS256 token for demos and tests (`isthmus token`)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "roles": roles, "iat": now, "nbf": now, "exp": now + ttl_seconds}
    if team:
        claims["team"] = team
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")
