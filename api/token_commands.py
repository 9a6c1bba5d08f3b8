"""`spectral-edge token create|list|revoke`: manage api tokens in the api's Redis."""

from __future__ import annotations

import time
from typing import Annotated

import redis
import typer

from api.auth import Scope, TokenStore
from api.config import ApiSettings

app = typer.Typer(help="Create, list and revoke api bearer tokens.", no_args_is_help=True)

RedisUrl = Annotated[
    str | None,
    typer.Option(help="Redis of the api (default: SPECTRAL_EDGE_REDIS_URL or the local one)."),
]


def _store(redis_url: str | None) -> TokenStore:
    url = redis_url or ApiSettings().redis_url
    return TokenStore(redis.Redis.from_url(url))


@app.command()
def create(
    scope: Annotated[Scope, typer.Option(help="read: every GET; admin: also changes.")],
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
    redis_url: RedisUrl = None,
) -> None:
    """Create a token and print it once (the server keeps only its hash)."""
    secret, token = _store(redis_url).create(scope, name, time.time())
    typer.echo(f"{token.id}  {token.scope}  {secret}")


@app.command("list")
def list_tokens(redis_url: RedisUrl = None) -> None:
    """List token ids, scopes, names and creation times."""
    for token in _store(redis_url).records():
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(token.created_at))
        typer.echo(f"{token.id}  {token.scope:<5}  {created}  {token.name}")


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The id `token list` shows (tok_...).")],
    redis_url: RedisUrl = None,
) -> None:
    """Revoke a token at once."""
    if not _store(redis_url).revoke(token_id):
        typer.echo(f"no token {token_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id}")


def bootstrap(redis_url: str) -> str | None:
    """A new admin token when the store has none yet (first start), else None."""
    store = _store(redis_url)
    if store.records():
        return None
    secret, _ = store.create(Scope.ADMIN, "bootstrap", time.time())
    return secret
