"""Who is calling: a Bearer JWT or an API key becomes a Principal, or the request is refused.

- `Authorization: Bearer <JWT>`: HS256 with a shared secret, or RS256/ES256 with a
  public key or a JWKS file; `exp` and `nbf` are checked with a small leeway.
  Claims: `sub` (for sales staff their SalesRep id in the CRM), `name`, `roles`, `team`.
- `X-API-Key: <key>` for service accounts: only the key's SHA-256 is configured.
- Nothing, or something that does not verify: HTTP 401 with a message saying which.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt

from resolvers.context import Principal
from server.settings import AuthSettings


class Unauthenticated(Exception):
    """The request carries no valid credentials; the message tells the caller what to fix."""


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._keys = self._verification_keys(settings)
        self._api_keys = {entry.sha256.lower(): entry for entry in settings.api_keys}

    def authenticate(self, headers: Any) -> Principal:
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
            return self._from_token(token.strip())
        if api_key:
            return self._from_api_key(api_key)
        if self.settings.allow_anonymous:
            return Principal(id="anonymous", name="Anonymous", roles=())
        raise Unauthenticated("No credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>`.")

    def _from_token(self, token: str) -> Principal:
        if not self._keys:
            raise Unauthenticated("This gateway accepts no tokens (no verification key is configured).")
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid")) or self._keys.get(None)
            if key is None:
                raise Unauthenticated(f"The token's key id {header.get('kid')!r} is not one this gateway knows.")
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self.settings.jwt_algorithms,
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
            raise Unauthenticated(f"The token's algorithm is not accepted here ({', '.join(self.settings.jwt_algorithms)}).") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"The token is not valid: {exc}.") from None
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        return Principal(
            id=str(claims["sub"]),
            name=claims.get("name"),
            roles=tuple(sorted(str(role) for role in roles)),
            team=claims.get("team"),
        )

    def _from_api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).hexdigest()
        for known, entry in self._api_keys.items():
            if hmac.compare_digest(known, digest):
                return Principal(id=entry.principal, name=entry.name, roles=tuple(sorted(entry.roles)))
        raise Unauthenticated("Unknown API key.")

    @staticmethod
    def _verification_keys(settings: AuthSettings) -> dict[str | None, Any]:
        keys: dict[str | None, Any] = {}
        if settings.jwt_secret:
            keys[None] = settings.jwt_secret.get_secret_value()
        if settings.jwt_public_key_file:
            keys[None] = Path(settings.jwt_public_key_file).read_text()
        if settings.jwks_file:
            jwks = jwt.PyJWKSet.from_dict(json.loads(Path(settings.jwks_file).read_text()))
            for jwk in jwks.keys:
                keys[jwk.key_id] = jwk.key
        return keys


def mint_token(secret: str, *, user: str, roles: list[str], team: str | None = None, name: str | None = None,
               ttl_seconds: int = 8 * 3600) -> str:
    """An HS256 token for demos and tests (`isthmus token`)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "roles": roles, "iat": now, "nbf": now, "exp": now + ttl_seconds}
    if team:
        claims["team"] = team
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")
