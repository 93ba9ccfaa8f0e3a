"""The regkit test rig: real registries (basic and nginx+TLS shapes), image pusher, crane/skopeo.

Fixtures live in ``tests/conftest.py``: ``rig_basic``, ``rig_tls`` (session, 2.8),
``rig_basic_v3``, ``rig_tls_v3`` (session, registry:3), ``rig`` (parametrised over all four, ids
"basic"/"tls"/"basic-v3"/"tls-v3"), ``repo_prefix`` (unique repository prefix per test) and
``rig_factory`` (private rigs with options, stopped after the test); ``rig_crane`` (session):
go-containerregistry's registry (``crane registry serve``), a ``CraneRig``; ``client_for``
(a ``RegistryClient`` for a rig, closed at teardown). The same without the fixture:
``tests.rig.client_for(rig, **options)``.
"""

from .accesslog import AccessRecord, Request
from .clients import client_for
from .crane import ToolError, crane, crane_path, require_crane
from .cranereg import CraneRegistryProcess, CraneRig, RigFeatureUnavailable, start_crane_rig
from .images import (
    ACCEPT,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_KINDS,
    KINDS,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Kind,
    PlatformManifest,
    PushedImage,
    Pusher,
    PushError,
    rfc3339,
    sha256_digest,
    short_sha_tags,
    tag_on_disk,
    team_time,
)
from .regctl import regctl, regctl_path, require_regctl
from .shapes import (
    PRODUCTION,
    RIG_PARAMS,
    SHAPES,
    Rig,
    Shape,
    parse_rig_param,
    rig_shapes,
    rig_versions,
    start_rig,
)
from .skopeo import require_skopeo, skopeo, skopeo_flags
from .tools import VERSIONS, Version, registry_binary, require_registry, tool_path, tools_dir

__all__ = [
    "ACCEPT",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_KINDS",
    "KINDS",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "PRODUCTION",
    "RIG_PARAMS",
    "SHAPES",
    "VERSIONS",
    "AccessRecord",
    "Blob",
    "CraneRegistryProcess",
    "CraneRig",
    "Kind",
    "PlatformManifest",
    "PushError",
    "PushedImage",
    "Pusher",
    "Request",
    "Rig",
    "RigFeatureUnavailable",
    "Shape",
    "ToolError",
    "Version",
    "client_for",
    "crane",
    "crane_path",
    "parse_rig_param",
    "regctl",
    "regctl_path",
    "registry_binary",
    "require_crane",
    "require_regctl",
    "require_registry",
    "require_skopeo",
    "rfc3339",
    "rig_shapes",
    "rig_versions",
    "sha256_digest",
    "short_sha_tags",
    "skopeo",
    "skopeo_flags",
    "start_crane_rig",
    "start_rig",
    "tag_on_disk",
    "team_time",
    "tool_path",
    "tools_dir",
]
