"""`/api/v1/tokens`: create, list and revoke api tokens (admin); the caller's own token (read)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import AdminScope, ReadScope, Scope, Token
from api.deps import TokensDep
from api.errors import not_found

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """`POST /tokens`: the scope and an optional label."""

    model_config = ConfigDict(extra="forbid")

    scope: Scope = Scope.READ
    name: str = Field(default="", max_length=128)


class TokenCreated(Token):
    """`POST /tokens` response: the only place the token itself is shown."""

    token: str


class CurrentToken(BaseModel):
    """`GET /tokens/current`: the caller's token (`token` null on an open server) and scope."""

    token: Token | None
    scope: Scope


class TokenList(BaseModel):
    """`GET /tokens`: every token's record, oldest first."""

    tokens: list[Token]


@router.post("", status_code=201)
def create_token(body: TokenCreate, tokens: TokensDep, _: AdminScope) -> TokenCreated:
    """A new token; store it now, the server keeps only its hash."""
    secret, token = tokens.create(body.scope, body.name, time.time())
    return TokenCreated(**token.model_dump(), token=secret)


@router.get("")
def list_tokens(tokens: TokensDep, _: AdminScope) -> TokenList:
    """Every token's id, scope, name and creation time."""
    return TokenList(tokens=tokens.records())


@router.get("/current")
def current_token(token: ReadScope) -> CurrentToken:
    """Which token the request carries and what it may do."""
    return CurrentToken(token=token, scope=token.scope if token else Scope.ADMIN)


@router.delete("/{token_id}", status_code=204)
def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=64)], tokens: TokensDep, _: AdminScope
) -> Response:
    """Revoke a token at once."""
    if not tokens.revoke(token_id):
        raise not_found(f"token {token_id!r}")
    return Response(status_code=204)
