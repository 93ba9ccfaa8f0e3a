"""A registry that serves the OCI 1.1 referrers API: go-containerregistry's registry (the one
``crane registry serve`` runs) with ``registry.WithReferrersSupport(true)``, which the crane CLI
leaves off. Source: ``tests/rig/referrers-registry/`` (main.go, go.mod, go.sum pinning
go-containerregistry v0.22.1), built by ``scripts/install-system-deps`` into
``$REGKIT_TOOLS_DIR/bin/referrers-registry``.

It takes crane's command line and prints crane's ``serving on port N``, so it runs as a
``CraneRegistryProcess`` and is used through a ``CraneRig`` (same behaviour as crane's registry:
plain HTTP, no auth, manifests in memory), with ``param`` ``"referrers-api"``.

What its referrers API does (go-containerregistry v0.22.1, ``pkg/registry/manifest.go``): lists
every manifest of the repository whose ``subject`` is the digest; reports the config's media
type as ``artifactType`` (``application/vnd.oci.empty.v1+json`` for an oras artifact, whose
real type is the manifest's ``artifactType``); ignores the ``artifactType`` filter (no
``OCI-Filters-Applied``); never pages. It does not answer ``OCI-Subject`` to a manifest PUT, so
oras also writes the referrers tag schema's ``sha256-<hex>`` index there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .cranereg import CraneRegistryProcess, CraneRig
from .tools import tool_path, tools_dir

NAME = "referrers-registry"


def require_referrers_registry() -> str:
    path = tool_path(NAME)
    if path is None:
        pytest.skip(
            f"{NAME} not built (looked for {tools_dir()}/bin/{NAME} and on PATH): "
            "run scripts/install-system-deps with Go >= 1.26"
        )
    return path


def start_referrers_rig(workdir: Path) -> CraneRig:
    """Start it with its files under ``workdir``; the caller must ``close()``. Skips when it is
    not built."""
    registry = CraneRegistryProcess(workdir / "registry", require_referrers_registry())
    registry.start()
    try:
        rig = CraneRig(workdir, registry)
    except BaseException:
        registry.stop(kill=True)
        raise
    rig.param = "referrers-api"
    return rig
