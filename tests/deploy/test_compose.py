"""docker-compose.yml runs commands the CLI has, with secrets from `keys create --compose` (no
Docker engine here: parse and compare, and run the redis service's own command on loopback)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import redis
import yaml
from dotenv import dotenv_values
from typer.testing import CliRunner

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import free_port, redis_server_binary, stop_process
from api.cli import app
from tests.support.polling import eventually

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_ports_and_healthchecks() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "analyzer", "api"}
    assert services["analyzer"]["ports"] == ["5555:5555"]
    assert services["api"]["ports"] == ["8000:8000"]
    assert all("healthcheck" in service for service in services.values())
    assert "redis-data:/data" in services["redis"]["volumes"]


def test_commands_parse_with_the_cli() -> None:
    runner = CliRunner()
    for name in ("analyzer", "api"):
        command = compose()["services"][name]["command"]
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, result.output
        options = {arg for arg in command if arg.startswith("--")}
        assert options <= set(result.output.replace("─", " ").split()), options


def secrets(directory: Path) -> Path:
    """`spectral-edge keys create DIRECTORY/secrets --compose`, as the compose file says to run."""
    result = CliRunner().invoke(app, ["keys", "create", str(directory / "secrets"), "--compose"])
    assert result.exit_code == 0, result.output
    return directory / "secrets"


def env_file(path: Path) -> dict[str, str]:
    """The variables an `env_file` gives a service (read as compose does: quotes literal)."""
    return {name: value or "" for name, value in dotenv_values(path).items()}


def test_secrets_are_generated_not_baked_into_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, generated = compose()["services"], secrets(tmp_path)
    for service in services.values():
        assert "environment" not in service
        assert (tmp_path / service["env_file"]).parent == generated
        assert (tmp_path / service["env_file"]).is_file()
    assert not re.search(r"^\s*(ENV|ARG)\b", (ROOT / "Dockerfile").read_text(), re.M)
    assert "--open" not in services["api"]["command"]
    assert "--insecure" not in services["analyzer"]["command"]
    bind = services["analyzer"]["command"][services["analyzer"]["command"].index("--bind") + 1]
    for name, value in env_file(generated / "analyzer.env").items():
        monkeypatch.setenv(name, value)
    analyzer = AnalyzerSettings(bind=bind)
    assert analyzer.curve_secret_key == (generated / "server.secret").read_text().strip()
    assert analyzer.curve_clients == [(generated / "client-1.public").read_text().strip()]
    password = env_file(generated / "redis.env")["REDISCLI_AUTH"]
    api_url = env_file(generated / "api.env")["SPECTRAL_EDGE_REDIS_URL"]
    assert analyzer.redis_url == api_url == f"redis://:{password}@redis:6379/0"


def test_the_compose_redis_needs_the_generated_password(tmp_path: Path) -> None:
    """The redis service's own command and healthcheck, run here on a free loopback port."""
    redis_service, generated = compose()["services"]["redis"], secrets(tmp_path)
    shell, flag, script = redis_service["command"]
    port = free_port()
    script = script.replace("$$", "$") + f" --port {port} --bind 127.0.0.1 --dir {tmp_path}"
    binaries = str(Path(redis_server_binary()).parent)
    env = {**os.environ, **env_file(generated / "redis.env"),
           "PATH": binaries + os.pathsep + os.environ["PATH"]}  # fmt: skip
    server = subprocess.Popen([shell, flag, script], env=env, stdout=subprocess.DEVNULL)
    try:
        cli, *command = redis_service["healthcheck"]["test"][1:]
        healthcheck = [cli, "-p", str(port), *command]
        assert eventually(
            lambda: subprocess.run(healthcheck, env=env, capture_output=True).stdout == b"PONG\n"
        )
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        url = env_file(generated / "api.env")["SPECTRAL_EDGE_REDIS_URL"]
        with redis.Redis.from_url(url.replace("@redis:6379", f"@127.0.0.1:{port}")) as client:
            assert client.ping()
    finally:
        stop_process(server)
