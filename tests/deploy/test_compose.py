"""docker-compose.yml runs commands the CLI has (no Docker engine here: parse and compare)."""

from pathlib import Path

import yaml
from typer.testing import CliRunner

from api.cli import app

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
