"""The `spectral-edge` command: run the analyzer, the api, or both with an embedded Redis."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Annotated

import typer
import uvicorn

from analyzer.config import AnalyzerSettings
from analyzer.embedded import EmbeddedRedis
from analyzer.service import AnalyzerService
from api.app import create_app
from api.config import ApiSettings

app = typer.Typer(help="Spectral Edge Dynamics: training-dynamics monitor.", no_args_is_help=True)

RedisUrl = Annotated[
    str | None,
    typer.Option(help="Redis to use; an embedded redis-server is started when omitted."),
]
Bind = Annotated[str, typer.Option(help="ZeroMQ endpoint the analyzer binds for producers.")]
Host = Annotated[str, typer.Option(help="Address the api listens on.")]
Port = Annotated[int, typer.Option(help="Port the api listens on.")]


@contextlib.contextmanager
def redis_or_embedded(url: str | None) -> Iterator[str]:
    """Yield `url`, or the URL of an embedded redis-server that lives as long as the block."""
    if url:
        yield url
        return
    with EmbeddedRedis() as embedded:
        typer.echo(f"embedded redis  {embedded.url}")
        yield embedded.url


@app.command()
def up(
    redis_url: RedisUrl = None,
    bind: Bind = "tcp://127.0.0.1:5555",
    host: Host = "127.0.0.1",
    port: Port = 8000,
) -> None:
    """Start the analyzer and the api together (Ctrl-C stops both)."""
    with redis_or_embedded(redis_url) as url:
        service = AnalyzerService(AnalyzerSettings(redis_url=url, bind=bind))
        service.start()
        typer.echo(f"analyzer        {service.endpoint}")
        typer.echo(f"api             http://{host}:{port}/api/v1/runs")
        try:
            uvicorn.run(create_app(ApiSettings(redis_url=url, host=host, port=port)),
                        host=host, port=port, log_level="warning")  # fmt: skip
        finally:
            service.stop()


@app.command()
def analyzer(redis_url: RedisUrl = None, bind: Bind = "tcp://127.0.0.1:5555") -> None:
    """Run the analyzer alone."""
    with redis_or_embedded(redis_url) as url:
        service = AnalyzerService(AnalyzerSettings(redis_url=url, bind=bind))
        service.start()
        typer.echo(f"analyzer        {service.endpoint}")
        service.run_forever()


@app.command()
def api(redis_url: RedisUrl = None, host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the api alone."""
    with redis_or_embedded(redis_url) as url:
        typer.echo(f"api             http://{host}:{port}/api/v1/runs")
        settings = ApiSettings(redis_url=url, host=host, port=port)
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@app.command()
def demo(
    redis_url: RedisUrl = None,
    port: Port = 8000,
    steps: Annotated[int, typer.Option(help="Optimizer steps to train.")] = 1500,
    batch: Annotated[int, typer.Option(help="Mini-batch size.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of data split and model.")] = 0,
    exit_: Annotated[bool, typer.Option("--exit", help="Exit when training ends.")] = False,
) -> None:
    """Train modular addition on the CPU through the whole pipeline, with a webhook receiver."""
    from api.demo.runner import demo as run_demo

    with redis_or_embedded(redis_url) as url:
        run_demo(url, port, steps, batch, seed, exit_)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app()
