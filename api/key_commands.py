"""`spectral-edge keys create`: CURVE key pairs for the analyzer and its producers, and with
`--compose` the other secrets docker-compose.yml reads, so nothing secret is baked into the image.

A key directory holds `server.public`/`server.secret`, per producer `client-N.public`/
`client-N.secret` and `producer-N.env` (the `SPECTRAL_EDGE_*` variables a producer needs), each
file mode 0600 (a directory it creates, 0700). `--curve-keys DIR` on the analyzer reads it back
(`server_keys`). `--compose` adds a Redis password: `redis.env` for the redis service, and
`analyzer.env`/`api.env`, whose Redis URL carries it (the analyzer's also turns CURVE on).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
import zmq

app = typer.Typer(help="Create CURVE keys (and deployment secrets).", no_args_is_help=True)

COMPOSE_REDIS = "redis:6379/0"  # the redis service of docker-compose.yml, as the others reach it


@app.command()
def create(
    directory: Annotated[Path, typer.Argument(help="Where to write the keys (created, 0700).")],
    clients: Annotated[int, typer.Option(min=1, help="Producer key pairs to make.")] = 1,
    compose: Annotated[
        bool, typer.Option("--compose", help="Also the env files docker-compose.yml reads.")
    ] = False,
) -> None:
    """Write a server key pair and `--clients` producer key pairs; never overwrites keys."""
    if (directory / "server.secret").exists():
        typer.echo(f"error: {directory} already holds keys; remove it to make new ones", err=True)
        raise typer.Exit(1)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    server_public, server_secret = _pair(directory, "server")
    client_publics = []
    for n in range(1, clients + 1):
        public, secret = _pair(directory, f"client-{n}")
        client_publics.append(public)
        producer = {"SERVER_KEY": server_public, "PUBLIC_KEY": public, "SECRET_KEY": secret}
        write_env(directory / f"producer-{n}.env", producer)
    if compose:
        password = secrets.token_urlsafe(32)
        redis_url = f"redis://:{password}@{COMPOSE_REDIS}"
        _write(directory / "redis.env", f"REDISCLI_AUTH='{password}'\n")
        write_env(directory / "api.env", {"REDIS_URL": redis_url})
        curve = {"CURVE_SECRET_KEY": server_secret, "CURVE_CLIENTS": json.dumps(client_publics)}
        write_env(directory / "analyzer.env", {"REDIS_URL": redis_url, **curve})
    typer.echo(f"server public key  {server_public}")
    typer.echo(f"analyzer           --curve-keys {directory}")
    typer.echo(f"producers          {directory}/producer-N.env, N = 1..{clients}")


def server_keys(directory: Path) -> tuple[str, list[str]]:
    """The server secret key and the producers' public keys of a `keys create` directory."""
    secret = directory / "server.secret"
    if not secret.is_file():
        raise ValueError(f"{directory} has no server.secret (make one: spectral-edge keys create)")
    clients = sorted(directory.glob("client-*.public"))
    return secret.read_text().strip(), [path.read_text().strip() for path in clients]


def write_env(path: Path, variables: dict[str, str]) -> None:
    """An env file of `SPECTRAL_EDGE_*` variables, single-quoted: Z85 keys hold `$`, `*` and `#`,
    which neither a shell's `.` nor compose's `env_file` may expand."""
    _write(path, "".join(f"SPECTRAL_EDGE_{name}='{value}'\n" for name, value in variables.items()))


def _pair(directory: Path, name: str) -> tuple[str, str]:
    public, secret = (key.decode() for key in zmq.curve_keypair())
    _write(directory / f"{name}.public", public + "\n")
    _write(directory / f"{name}.secret", secret + "\n")
    return public, secret


def _write(path: Path, text: str) -> None:
    """Create `path` with mode 0600 (whatever the umask), refusing to replace a file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
