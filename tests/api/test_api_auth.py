"""Api tokens: stored hashed, resolved, revoked; the `spectral-edge token` commands; open mode."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest
import redis
from typer.testing import CliRunner

from analyzer.service import keys
from api.auth import Scope, TokenStore
from api.cli import app as cli
from api.config import ApiSettings, is_loopback
from api.token_commands import bootstrap

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def store() -> Iterator[TokenStore]:
    """The token store of the shared Redis; tokens named by a test are revoked afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    tokens = TokenStore(client)
    yield tokens
    for token in tokens.records():
        if token.name.startswith("test-auth"):
            tokens.revoke(token.id)
    client.close()


def test_only_the_hash_is_stored(store: TokenStore) -> None:
    secret, token = store.create(Scope.READ, "test-auth-hash", time.time())
    assert secret.startswith("se_") and len(secret) > 40
    raw = store.client.hgetall(keys.API_TOKENS)
    assert all(secret.encode() not in k + v for k, v in raw.items())
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in raw
    assert store.resolve(secret) == token
    assert store.resolve(secret + "x") is None


def test_revoke_takes_effect_at_once(store: TokenStore) -> None:
    secret, token = store.create(Scope.ADMIN, "test-auth-revoke", time.time())
    assert token in store.records()
    assert store.revoke(token.id)
    assert store.resolve(secret) is None
    assert not store.revoke(token.id)


def test_cli_creates_lists_and_revokes(store: TokenStore) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["token", "create", "--scope", "read", "--name", "test-auth-cli", "--redis-url", REDIS_URL],
    )
    assert created.exit_code == 0, created.output
    token_id, scope, secret = created.output.split()
    assert scope == "read" and store.resolve(secret) is not None
    listed = runner.invoke(cli, ["token", "list", "--redis-url", REDIS_URL])
    assert token_id in listed.output and secret not in listed.output
    revoked = runner.invoke(cli, ["token", "revoke", token_id, "--redis-url", REDIS_URL])
    assert revoked.exit_code == 0
    assert store.resolve(secret) is None
    again = runner.invoke(cli, ["token", "revoke", token_id, "--redis-url", REDIS_URL])
    assert again.exit_code == 1
    bad = runner.invoke(cli, ["token", "create", "--scope", "root", "--redis-url", REDIS_URL])
    assert bad.exit_code == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"])
def test_open_mode_on_loopback(host: str) -> None:
    assert is_loopback(host)
    assert ApiSettings(host=host, open=True).open


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "example.org", "192.168.1.2"])
def test_open_mode_is_refused_off_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="open mode"):
        ApiSettings(host=host, open=True)
    assert not ApiSettings(host=host).open


def test_cli_refuses_open_off_loopback() -> None:
    result = CliRunner().invoke(cli, ["api", "--host", "0.0.0.0", "--open"])
    assert result.exit_code == 2
    assert "open mode" in result.output


def test_first_start_bootstraps_one_admin_token(private_redis: str) -> None:
    first = bootstrap(private_redis)
    assert first is not None
    store = TokenStore(redis.Redis.from_url(private_redis))
    token = store.resolve(first)
    assert token is not None and token.scope is Scope.ADMIN
    assert bootstrap(private_redis) is None
    store.client.close()
