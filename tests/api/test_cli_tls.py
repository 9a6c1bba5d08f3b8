"""`spectral-edge api --ssl-certfile/--ssl-keyfile`: uvicorn serves https on a real loopback port,
verified by a client that trusts only the test CA; bad TLS options stop it before it starts."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from analyzer.service.embedded_redis import free_port
from api.cli import app
from tests.support.certificates import Authority
from tests.support.cli_process import spectral_edge
from tests.support.polling import eventually


def _answers(url: str, verify: ssl.SSLContext) -> bool:
    try:
        return httpx.get(url, verify=verify, timeout=2.0).status_code == 200
    except httpx.ConnectError:
        return False


def test_the_api_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    leaf, port = authority.issue("localhost", "127.0.0.1"), free_port()
    tls = ("--ssl-certfile", str(leaf.certfile), "--ssl-keyfile", str(leaf.keyfile))
    with spectral_edge("api", "--port", str(port), *tls, lines=4) as (_, api, _dashboard, token):
        base = f"https://localhost:{port}"
        assert api.split() == ["api", f"https://127.0.0.1:{port}/api/v1/runs"]
        trusted = authority.client_context()
        assert eventually(lambda: _answers(f"{base}/healthz", trusted), timeout=30)
        auth = {"Authorization": f"Bearer {token.split()[2]}"}
        runs = httpx.get(f"{base}/api/v1/runs", verify=trusted, headers=auth, timeout=5.0)
        assert runs.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/healthz", timeout=5.0)  # the public CAs do not vouch for it
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://localhost:{port}/healthz", timeout=5.0)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--ssl-keyfile", "{key}"], "ssl_keyfile needs ssl_certfile"),
        (["--ssl-certfile", "{missing}"], "ssl_certfile: Path does not point to a file"),
    ],
)
def test_bad_tls_options_are_refused_before_anything_starts(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    (tmp_path / "server.key").write_text("")
    paths = {"key": str(tmp_path / "server.key"), "missing": str(tmp_path / "missing.pem")}
    result = CliRunner().invoke(app, ["api", *(a.format(**paths) for a in args)])
    assert result.exit_code == 2 and reason in result.output
