"""regkit: operate a self-hosted Docker registry from GitHub Actions and a shell.

The Python API is ``regkit.api``; its functions are also reachable from the package root
(``regkit.connect``, ``regkit.prune``, ...), imported on first use so that ``regkit --version``
stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regkit.errors import RegkitError

__version__ = "0.1.0"

#: Names of ``regkit.api`` re-exported here, loaded lazily.
_API = (
    "CheckReport",
    "Deletion",
    "Inspection",
    "Overview",
    "Promotion",
    "PruneReport",
    "Registry",
    "SyncReport",
    "check",
    "connect",
    "delete",
    "inspect",
    "overview",
    "promote",
    "prune",
    "sync",
)

if TYPE_CHECKING:
    from regkit.api import (
        CheckReport,
        Deletion,
        Inspection,
        Overview,
        Promotion,
        PruneReport,
        Registry,
        SyncReport,
        check,
        connect,
        delete,
        inspect,
        overview,
        promote,
        prune,
        sync,
    )


def __getattr__(name: str) -> Any:
    if name in _API:
        from regkit import api

        return getattr(api, name)
    raise AttributeError(f"module 'regkit' has no attribute {name!r}")


__all__ = [
    "CheckReport",
    "Deletion",
    "Inspection",
    "Overview",
    "Promotion",
    "PruneReport",
    "Registry",
    "RegkitError",
    "SyncReport",
    "__version__",
    "check",
    "connect",
    "delete",
    "inspect",
    "overview",
    "promote",
    "prune",
    "sync",
]
