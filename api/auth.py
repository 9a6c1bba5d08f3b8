"""Bearer tokens with `read` and `admin` scopes, stored hashed in Redis, and the scope checks.

A token is `se_` + 32 random bytes (base64url). Redis keeps only its SHA-256 (a high-entropy secret
needs no slow hash) in the HASH `keys.API_TOKENS`, field = hex digest, value = the token's public
record as JSON. `admin` includes `read`. A server started open (loopback only, see `ApiSettings`)
treats every request as admin.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from typing import Annotated

import redis
import redis.asyncio as aioredis
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from pydantic import BaseModel, Field

from analyzer.service import keys
from api.errors import ApiError

TOKEN_PREFIX = "se_"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Scope(StrEnum):
    """What a token may do: `read` every resource, or also change configuration (`admin`)."""

    READ = "read"
    ADMIN = "admin"


class Token(BaseModel):
    """A token's public record (never the token itself)."""

    id: str
    scope: Scope
    name: str = Field(default="", max_length=128)
    created_at: float


class TokenStore:
    """Create, list, revoke and resolve tokens in one Redis hash."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def create(self, scope: Scope, name: str, now: float) -> tuple[str, Token]:
        """A new token and its record; the token is shown only here."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = Token(id=f"tok_{secrets.token_hex(8)}", scope=scope, name=name, created_at=now)
        self.client.hset(keys.API_TOKENS, _digest(secret), token.model_dump_json())
        return secret, token

    def records(self) -> list[Token]:
        """Every token's record, oldest first."""
        tokens = [Token.model_validate_json(v) for v in self.client.hvals(keys.API_TOKENS)]
        return sorted(tokens, key=lambda t: (t.created_at, t.id))

    def revoke(self, token_id: str) -> bool:
        """Delete the token with this id; False when there is none."""
        for digest, raw in self.client.hscan_iter(keys.API_TOKENS):
            if Token.model_validate_json(raw).id == token_id:
                return bool(self.client.hdel(keys.API_TOKENS, digest))
        return False

    def resolve(self, secret: str) -> Token | None:
        """The record of a presented token, or None when it is unknown or revoked."""
        raw = self.client.hget(keys.API_TOKENS, _digest(secret))
        return None if raw is None else Token.model_validate_json(raw)


async def resolve(client: aioredis.Redis, secret: str) -> Token | None:
    """`TokenStore.resolve` over an async client (the request path)."""
    raw = await client.hget(keys.API_TOKENS, _digest(secret))
    return None if raw is None else Token.model_validate_json(raw)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="`se_...` api token")


async def authorize(
    request: Request,
    required: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Token | None:
    """The caller's token if it holds every required scope; None on an open server."""
    if request.app.state.settings.open:
        return None
    if credentials is None:
        raise ApiError(401, "UNAUTHENTICATED", "a bearer token is required", _CHALLENGE)
    token = await resolve(request.app.state.async_redis, credentials.credentials)
    if token is None:
        raise ApiError(401, "UNAUTHENTICATED", "unknown or revoked token", _CHALLENGE)
    if Scope.ADMIN in required.scopes and token.scope is not Scope.ADMIN:
        raise ApiError(403, "PERMISSION_DENIED", "this endpoint needs a token with admin scope")
    return token


ReadScope = Annotated[Token | None, Security(authorize, scopes=[Scope.READ])]
AdminScope = Annotated[Token | None, Security(authorize, scopes=[Scope.ADMIN])]
READ = Security(authorize, scopes=[Scope.READ])
ADMIN = Security(authorize, scopes=[Scope.ADMIN])
