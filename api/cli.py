"""The `spectral-edge` command: run the analyzer, the api, or both with an embedded Redis."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import httpx
import typer
import uvicorn
from pydantic import ValidationError

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.server import AnalyzerService
from api.app import SETTINGS_VARIABLE, create_app
from api.client import Client, ClientError
from api.config import ApiSettings
from api.export import Format
from api.key_commands import app as keys_app
from api.key_commands import server_keys
from api.token_commands import app as token_app
from api.token_commands import bootstrap

app = typer.Typer(help="Spectral Edge Dynamics: training-dynamics monitor.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(keys_app, name="keys")

RedisUrl = Annotated[
    str | None,
    typer.Option(
        envvar="SPECTRAL_EDGE_REDIS_URL",
        help="Redis to use; an embedded redis-server is started when neither is given.",
    ),
]
Bind = Annotated[
    str | None,
    typer.Option(
        help="ZeroMQ endpoint the analyzer binds for producers (default: SPECTRAL_EDGE_BIND, "
        "else tcp://127.0.0.1:5555); off loopback it needs --curve-keys or --insecure."
    ),
]
CurveKeys = Annotated[
    Path | None,
    typer.Option(
        file_okay=False,
        help="Directory from `spectral-edge keys create`: CURVE on, admitting its producers.",
    ),
]
Insecure = Annotated[
    bool,
    typer.Option(
        "--insecure", help="Allow a non-loopback --bind without CURVE (anyone may send, in clear)."
    ),
]
SslCertfile = Annotated[
    Path | None, typer.Option(help="Serve the api over TLS with this certificate (PEM).")
]
SslKeyfile = Annotated[
    Path | None, typer.Option(help="The certificate's private key (PEM), if not in --ssl-certfile.")
]
Host = Annotated[str, typer.Option(help="Address the api listens on.")]
Port = Annotated[int, typer.Option(help="Port the api listens on.")]
Strides = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated strides s, each its own series of updates x_i - x_(i-s) "
        "(e.g. 1,5); default: SPECTRAL_EDGE_STRIDES, else 1."
    ),
]
ApiUrl = Annotated[str, typer.Option(envvar="SPECTRAL_EDGE_URL", help="The api.")]
ApiToken = Annotated[
    str | None, typer.Option(envvar="SPECTRAL_EDGE_TOKEN", help="A read token of the api.")
]
Open = Annotated[
    bool, typer.Option("--open", help="Serve without tokens (refused unless host is loopback).")
]


@contextlib.contextmanager
def redis_or_embedded(url: str | None) -> Iterator[str]:
    """Yield `url`, or the URL of an embedded redis-server that lives as long as the block."""
    if url:
        yield url
        return
    with EmbeddedRedis() as embedded, exit_on_sigterm():
        typer.echo(f"embedded redis  {embedded.url}")
        yield embedded.url


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit, so `with` blocks (an embedded Redis) unwind.

    Python's default SIGTERM ends the process at once and would leave the redis-server running.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)


@app.command()
def up(
    redis_url: RedisUrl = None,
    bind: Bind = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    open_: Open = False,
    strides: Strides = None,
    curve_keys: CurveKeys = None,
    insecure: Insecure = False,
    ssl_certfile: SslCertfile = None,
    ssl_keyfile: SslKeyfile = None,
) -> None:
    """Start the analyzer and the api together (Ctrl-C stops both)."""
    settings = api_settings(host, port, open_, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    analyzing = analyzer_settings(strides, curve_keys, bind=bind, insecure=insecure or None)
    with redis_or_embedded(redis_url) as url:
        service = AnalyzerService(analyzing.model_copy(update={"redis_url": url}))
        service.start()
        typer.echo(f"analyzer        {service.endpoint}")
        try:
            serve(settings.model_copy(update={"redis_url": url}))
        finally:
            service.stop()


@app.command()
def analyzer(
    redis_url: RedisUrl = None,
    bind: Bind = None,
    redis_cluster: Annotated[
        bool, typer.Option("--redis-cluster", help="--redis-url names a Redis Cluster node.")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (0: a free one).")
    ] = None,
    strides: Strides = None,
    curve_keys: CurveKeys = None,
    insecure: Insecure = False,
) -> None:
    """Run the analyzer alone; SIGTERM or Ctrl-C finish the batch in flight, then stop."""
    given = {"redis_cluster": redis_cluster or None, "metrics_port": metrics_port}
    settings = analyzer_settings(strides, curve_keys, bind=bind, insecure=insecure or None, **given)
    with redis_or_embedded(redis_url) as url:
        service = AnalyzerService(settings.model_copy(update={"redis_url": url}))
        service.start()
        typer.echo(f"analyzer        {service.endpoint}")
        if service.metrics_port is not None:
            typer.echo(f"metrics         http://127.0.0.1:{service.metrics_port}/metrics")
        service.run_forever()


@app.command()
def api(
    redis_url: RedisUrl = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    open_: Open = False,
    ssl_certfile: SslCertfile = None,
    ssl_keyfile: SslKeyfile = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="api processes sharing the port (live streams, webhooks "
            "and reads all work across them).",
        ),
    ] = 1,
) -> None:
    """Run the api alone."""
    settings = api_settings(host, port, open_, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    with redis_or_embedded(redis_url) as url:
        serve(settings.model_copy(update={"redis_url": url}), workers)


def api_settings(host: str, port: int, open_: bool, **given: Any) -> ApiSettings:
    """Validated api settings from the options (in `given`, None: not given); exits with a
    message when one is invalid, such as open mode off loopback."""
    options = {k: v for k, v in given.items() if v is not None}
    try:
        return ApiSettings(host=host, port=port, open=open_, **options)
    except ValueError as exc:
        typer.echo(f"error: {reason(exc)}", err=True)
        raise typer.Exit(2) from exc


def analyzer_settings(
    strides: str | None, curve_keys: Path | None, **given: Any
) -> AnalyzerSettings:
    """Validated analyzer settings from the options given (None: not given), CURVE keys read
    from `curve_keys`; exits with a message when one is invalid, such as an open bind."""
    options = {k: v for k, v in given.items() if v is not None}
    try:
        if strides is not None:
            options["strides"] = [int(s) for s in strides.split(",")]
        if curve_keys is not None:
            options["curve_secret_key"], options["curve_clients"] = server_keys(curve_keys)
        return AnalyzerSettings(**options)
    except ValueError as exc:
        typer.echo(f"error: {reason(exc)}", err=True)
        raise typer.Exit(2) from exc


def reason(exc: ValueError) -> str:
    """What was wrong, on one line: each validation error's message (after its field, if any)."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        ".".join(map(str, error["loc"])) + ": " + error["msg"] if error["loc"] else error["msg"]
        for error in exc.errors()
    )


def serve(settings: ApiSettings, workers: int = 1) -> None:
    """Print where the api and dashboard are (and a first admin token), then serve until Ctrl-C
    in one process or, with `workers` > 1, in that many (uvicorn's supervisor, `worker_app`)."""
    scheme = "http" if settings.ssl_certfile is None else "https"
    base = f"{scheme}://{settings.host}:{settings.port}"
    typer.echo(f"api             {base}/api/v1/runs")
    typer.echo(f"dashboard       {base}/dashboard/")
    token = None if settings.open else bootstrap(settings.redis_url)
    if token:
        typer.echo(f"admin token     {token}  (shown once; `spectral-edge token create` for more)")
    if workers > 1:
        os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
    uvicorn.run(
        create_app(settings) if workers == 1 else "api.app:worker_app",
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
    )


@app.command()
def demo(
    redis_url: RedisUrl = None,
    port: Port = 8000,
    steps: Annotated[int, typer.Option(help="Most optimizer steps (stops once grokked).")] = 3000,
    batch: Annotated[int, typer.Option(help="Mini-batch size.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of data split and model.")] = 0,
    exit_: Annotated[bool, typer.Option("--exit", help="Exit when training ends.")] = False,
) -> None:
    """Train modular addition until it groks, through the pipeline, with a webhook receiver."""
    from api.demo.runner import demo as run_demo

    with redis_or_embedded(redis_url) as url:
        run_demo(url, port, steps, batch, seed, exit_)


@app.command()
def sync(
    directory: Annotated[str, typer.Argument(help="Spool directory of an offline run.")],
    endpoint: Annotated[str | None, typer.Option(help="Analyzer endpoint.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait per file.")] = 30.0,
) -> None:
    """Replay offline spool files to the analyzer, in order, exactly once."""
    from producer.sync import sync as replay

    report = replay(directory, endpoint=endpoint, timeout=timeout)
    for name, (total, acked) in report.files.items():
        typer.echo(f"{name}  {acked}/{total} acknowledged")
    if not report.complete:
        raise typer.Exit(1)


@app.command()
def export(
    run_id: Annotated[str, typer.Argument(help="The run to export.")],
    fmt: Annotated[Format, typer.Option("--format", help="File format.")] = Format.CSV,
    window: Annotated[int, typer.Option(help="Window W of the series.")] = 10,
    group: Annotated[str, typer.Option(help="Parameter group of the series.")] = "all",
    stride: Annotated[int, typer.Option(help="Stride s of the series.")] = 1,
    scalars: Annotated[
        bool, typer.Option("--scalars", help="Export the logged scalars instead.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: named after the series; - stdout).")
    ] = None,
    url: ApiUrl = "http://127.0.0.1:8000",
    token: ApiToken = None,
) -> None:
    """Download a run's metric series (or its scalars) from the api as CSV, Parquet or JSON."""
    try:
        with Client(url, token) as client:
            body = client.export(run_id, fmt.value, window, group, stride, scalars=scalars)
    except (ClientError, httpx.HTTPError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if out == Path("-"):
        sys.stdout.buffer.write(body)
        return
    name = f"{run_id}-scalars" if scalars else f"{run_id}-{group}-W{window}-s{stride}"
    target = out or Path(f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.{fmt.value}")
    target.write_bytes(body)
    typer.echo(f"{target}  {len(body):,} bytes")


@app.command()
def bridge(
    tensorboard: Annotated[
        Path | None, typer.Option(help="Write TensorBoard event files under this directory.")
    ] = None,
    mlflow: Annotated[
        str | None, typer.Option(help="Log to the MLflow tracking server at this URI.")
    ] = None,
    wandb: Annotated[
        Path | None, typer.Option(help="Write W&B offline runs (for `wandb sync`) here.")
    ] = None,
    state: Annotated[Path, typer.Option(help="Where the bridge remembers what it sent.")] = Path(
        "spectral-edge-bridge.json"
    ),
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between passes.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    url: ApiUrl = "http://127.0.0.1:8000",
    token: ApiToken = None,
) -> None:
    """Mirror every run's window metrics and alerts into TensorBoard, MLflow or W&B."""
    from api.bridge.mirror import Mirror
    from api.bridge.sink import Sink

    sinks: list[Sink] = []
    if tensorboard is not None:
        from api.bridge.tensorboard import TensorBoardSink

        sinks.append(TensorBoardSink(tensorboard))
    if mlflow is not None:
        from api.bridge.mlflow import MlflowSink

        sinks.append(MlflowSink(mlflow))
    if wandb is not None:
        from api.bridge.wandb import WandbSink

        sinks.append(WandbSink(wandb))
    if not sinks:
        typer.echo("error: name at least one of --tensorboard, --mlflow, --wandb", err=True)
        raise typer.Exit(2)
    with Client(url, token) as client:
        mirror = Mirror(client, sinks, state)
        try:
            if once:
                typer.echo(f"sent {mirror.sync()} records and alerts")
            else:
                with exit_on_sigterm():
                    mirror.run_forever(interval, threading.Event())
        finally:
            mirror.close()


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app()
