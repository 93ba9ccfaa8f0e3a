"""Fixtures for the GHCR tests: a started local GHCR and regkit pointed at it."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ghcrfake import FakeGHCR, Token
from tests.rig.crane import require_crane
from tests.rig.images import Pusher

TOKEN = "ghp_fakeAdminToken0123456789abcdefABCDEF"  # admin on acme and on bob
READER = "ghs_fakeNoAdminToken0123456789abcdefABCD"  # GITHUB_TOKEN without admin on acme
SECRETS = (TOKEN, READER)


@pytest.fixture
def ghcr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGHCR]:
    fake = FakeGHCR(
        tmp_path / "ghcr",
        tokens={
            TOKEN: Token("bob", frozenset({"acme", "bob"})),
            READER: Token("ci", frozenset({"acme"}), admin=False, kind="github_token"),
        },
        orgs=frozenset({"acme"}),
    )
    fake.start()
    try:
        monkeypatch.setenv("REGKIT_GHCR_HOST", fake.host)
        monkeypatch.setenv("GITHUB_API_URL", fake.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("REGISTRY_USERNAME", "bob")
        monkeypatch.setenv("REGISTRY_PASSWORD", TOKEN)
        monkeypatch.setenv("REGKIT_GHCR_DELETE_INTERVAL", "0")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def pusher(ghcr: FakeGHCR) -> Iterator[Pusher]:
    with Pusher(ghcr.backend_url) as p:
        yield p


def docker_config(directory: Path, host: str, password: str = TOKEN) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"bob:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return directory


def crane_pull(
    fake: FakeGHCR, ref: str, config_dir: Path, out: Path
) -> subprocess.CompletedProcess[str]:
    """``crane pull --format oci`` through the GHCR front (Bearer tokens, as on ghcr.io): the
    index, every platform and attestation manifest and every blob, digests checked. (``crane
    validate`` without ``--fast`` refuses buildx attestations: their in-toto layers are not
    gzip.)"""
    crane = require_crane()
    return subprocess.run(
        [crane, "pull", "--format", "oci", f"{fake.host}/{ref}", str(out), "--insecure"],
        capture_output=True,
        text=True,
        env={"DOCKER_CONFIG": str(config_dir), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
