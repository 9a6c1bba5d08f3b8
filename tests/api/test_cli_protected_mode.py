"""`spectral-edge analyzer|up` in protected mode: an open bind without CURVE keys stops before
anything starts, with one error naming both ways out; `--curve-keys` and `--insecure` open it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import analyzer_settings, app

OPEN = "tcp://0.0.0.0:5555"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["analyzer", "--bind", OPEN], {}),
        (["up", "--bind", OPEN], {}),
        (["analyzer"], {"SPECTRAL_EDGE_BIND": OPEN}),
    ],
)
def test_an_open_bind_without_keys_is_refused_with_one_error(
    args: list[str], env: dict[str, str]
) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: refusing to bind {OPEN} without CURVE")
    assert "--curve-keys DIR" in line and "--insecure" in line


def test_insecure_or_curve_keys_allow_the_open_bind(tmp_path: Path) -> None:
    assert analyzer_settings(None, None, bind=OPEN, insecure=True).insecure
    result = CliRunner().invoke(app, ["keys", "create", str(tmp_path), "--clients", "2"])
    assert result.exit_code == 0, result.output
    keyed = analyzer_settings(None, tmp_path, bind=OPEN)
    assert keyed.curve_secret_key == (tmp_path / "server.secret").read_text().strip()
    assert keyed.curve_clients == [
        (tmp_path / f"client-{n}.public").read_text().strip() for n in (1, 2)
    ]


def test_curve_keys_from_a_directory_without_keys_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["analyzer", "--curve-keys", str(tmp_path), "--bind", OPEN])
    assert result.exit_code == 2
    assert "has no server.secret" in result.output
