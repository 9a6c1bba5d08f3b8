"""`spectral-edge keys create`: private key files, env files a shell reads back verbatim, and the
README's three lines run for real: an analyzer on those keys admits the producer given one of
them, and nothing of a producer without keys (or with keys of its own) lands in Redis."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import redis
import zmq
from typer.testing import CliRunner

from analyzer.service.embedded_redis import free_port
from analyzer.service.store import Store
from api.cli import app
from api.key_commands import server_keys
from producer.transport import Sender
from tests.support.cli_process import clean_environment, spectral_edge
from tests.support.producers import sending

D = 8
PRODUCER = """
import sys
import numpy as np
from producer.config import resolve_config
from producer.transport import Sender
from producer.wire import Kind
sender = Sender(resolve_config(endpoint=sys.argv[1], resend_after=0.2, linger_ms=0), sys.argv[2])
sender.start()
sender.send(Kind.START, body={"d": 8})
for i, x in enumerate(np.random.default_rng(0).normal(size=(5, 8))):
    sender.send(Kind.SKETCH, step=i, index=i, d=8, payload=x)
sender.close(timeout=20.0)
sys.exit(0 if sender.pending == 0 else 1)
"""


def create(directory: Path, *options: str) -> str:
    """`spectral-edge keys create DIRECTORY OPTIONS`; its output."""
    result = CliRunner().invoke(app, ["keys", "create", str(directory), *options])
    assert result.exit_code == 0, result.output
    return result.output


def sourced(env_file: Path, *names: str) -> list[str]:
    """The values a POSIX shell gets for `names` from `set -a; . env_file`."""
    script = f'set -a; . "{env_file}"; set +a; ' + " ".join(f'echo "${n}";' for n in names)
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_key_pairs_are_private_and_read_back_verbatim(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    create(keys, "--clients", "2")
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert sorted(p.name for p in keys.iterdir()) == [
        "client-1.public", "client-1.secret", "client-2.public", "client-2.secret",
        "producer-1.env", "producer-2.env", "server.public", "server.secret",
    ]  # fmt: skip
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())
    read = {p.name: p.read_text().strip() for p in keys.iterdir() if p.suffix != ".env"}
    for name in ("server", "client-1", "client-2"):
        assert zmq.curve_public(read[f"{name}.secret"].encode()).decode() == read[f"{name}.public"]
    secret, clients = server_keys(keys)
    assert (secret, clients) == (read["server.secret"], [read["client-1.public"],
                                                         read["client-2.public"]])  # fmt: skip
    assert sourced(keys / "producer-2.env", "SPECTRAL_EDGE_SERVER_KEY", "SPECTRAL_EDGE_PUBLIC_KEY",
                   "SPECTRAL_EDGE_SECRET_KEY") == [read["server.public"], read["client-2.public"],
                                                   read["client-2.secret"]]  # fmt: skip


def test_existing_keys_are_never_overwritten(tmp_path: Path) -> None:
    create(tmp_path, "--clients", "1")
    before = (tmp_path / "server.secret").read_text()
    result = CliRunner().invoke(app, ["keys", "create", str(tmp_path)])
    assert result.exit_code == 1 and "already holds keys" in result.output
    assert (tmp_path / "server.secret").read_text() == before


def test_an_analyzer_on_created_keys_admits_only_their_producers(tmp_path: Path) -> None:
    keys, run = tmp_path / "keys", f"keys-test-{uuid.uuid4().hex[:12]}"
    create(keys, "--clients", "1")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    args = ("analyzer", "--curve-keys", str(keys), "--bind", endpoint)
    with spectral_edge(*args, lines=2) as (embedded, started):
        assert started.split() == ["analyzer", endpoint], (embedded, started)
        script = f'set -a; . "{keys}/producer-1.env"; set +a; exec "$0" -c "$1" "$2" "$3"'
        producer = [sys.executable, PRODUCER, endpoint, f"{run}-keyed"]
        admitted = subprocess.run(["sh", "-c", script, *producer], env=clean_environment(),
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        assert admitted.returncode == 0, admitted.stderr
        server_key = (keys / "server.public").read_text().strip()
        stranger_public, stranger_secret = (k.decode() for k in zmq.curve_keypair())
        outsiders = [
            _send(endpoint, f"{run}-keyless"),
            _send(endpoint, f"{run}-stranger", server_key=server_key,
                  public_key=stranger_public, secret_key=stranger_secret),
        ]  # fmt: skip
        time.sleep(1.0)
        assert all(sender.pending == 6 for sender in outsiders)
        for sender in outsiders:
            sender.close(timeout=0.1)
        store = Store(redis.Redis.from_url(embedded.split()[-1]))
        assert store.get_run(f"{run}-keyed") is not None  # and every message acknowledged
        assert store.get_run(f"{run}-keyless") is None and store.get_run(f"{run}-stranger") is None
        store.client.close()


def _send(endpoint: str, run: str, **keys: str) -> Sender:
    """A producer in this process sending START and five sketches (optionally a CURVE client)."""
    return sending(endpoint, run, np.random.default_rng(0).normal(size=(5, D)), **keys)
