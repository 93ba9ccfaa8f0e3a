"""Which registry is GHCR and which token talks to its REST API (no server)."""

from __future__ import annotations

import pytest

from regkit.dockerconfig import Credentials
from regkit.errors import UsageError
from regkit.ghcr.hosts import github_token, is_ghcr, login_secret, token_login
from regkit.ops import ConnectOptions
from regkit.registry import RegistryClient


def test_ghcr_host_and_token_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REGKIT_GHCR_HOST", "GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert is_ghcr("ghcr.io") and is_ghcr("GHCR.io") and not is_ghcr("registry.example.com")
    monkeypatch.setenv("REGKIT_GHCR_HOST", "127.0.0.1:5999")
    assert is_ghcr("127.0.0.1:5999") and is_ghcr("ghcr.io")
    with RegistryClient("ghcr.io", credentials=Credentials("me", "from-login")) as client:
        assert github_token(client) == "from-login"
        monkeypatch.setenv("GH_TOKEN", "from-gh")
        assert github_token(client) == "from-gh"
        monkeypatch.setenv("GITHUB_TOKEN", "from-actions")
        assert github_token(client) == "from-actions"
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.delenv("GH_TOKEN")
    with RegistryClient("ghcr.io") as client, pytest.raises(UsageError, match="set GITHUB_TOKEN"):
        github_token(client)


def test_token_login_only_on_ghcr_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in ("REGISTRY_USERNAME", "REGISTRY_PASSWORD", "REGKIT_GHCR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    options = ConnectOptions()
    assert token_login(options, "registry.example.com", "t0ken") is options
    assert token_login(options, "ghcr.io", None) is options
    logged = token_login(options, "ghcr.io", "t0ken")
    assert (logged.username, logged.password) == ("regkit", "t0ken")
    assert login_secret(logged) == Credentials("regkit", "t0ken").basic_token()
    monkeypatch.setenv("REGISTRY_USERNAME", "me")
    monkeypatch.setenv("REGISTRY_PASSWORD", "mine")
    assert token_login(options, "ghcr.io", "t0ken") is options  # a login of its own wins
