"""The regkit test rig: real registries (basic and nginx+TLS shapes), image pusher, crane/skopeo.

Fixtures live in ``tests/conftest.py``: ``rig_basic``, ``rig_tls`` (session), ``rig``
(parametrised over both, ids "basic"/"tls"), ``repo_prefix`` (unique repository prefix per
test) and ``rig_factory`` (private rigs with options, stopped after the test).
"""

from .accesslog import AccessRecord, Request
from .crane import ToolError, crane, crane_path, require_crane
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
from .shapes import SHAPES, Rig, Shape, start_rig
from .skopeo import require_skopeo, skopeo, skopeo_flags

__all__ = [
    "ACCEPT",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_KINDS",
    "KINDS",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "SHAPES",
    "AccessRecord",
    "Blob",
    "Kind",
    "PlatformManifest",
    "PushError",
    "PushedImage",
    "Pusher",
    "Request",
    "Rig",
    "Shape",
    "ToolError",
    "crane",
    "crane_path",
    "require_crane",
    "require_skopeo",
    "rfc3339",
    "sha256_digest",
    "short_sha_tags",
    "skopeo",
    "skopeo_flags",
    "start_rig",
    "tag_on_disk",
    "team_time",
]
