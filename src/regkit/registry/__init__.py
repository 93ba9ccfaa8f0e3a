"""The registry API, nothing else: no GitHub, no SOPS, no CLI.

``RegistryClient`` and ``RetryPolicy`` load httpx on first use, so that importing
``regkit.registry.manifest`` (and ``regkit --version``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regkit.registry.manifest import Descriptor, Manifest

if TYPE_CHECKING:
    from regkit.registry.client import RegistryClient
    from regkit.registry.retry import RetryPolicy

__all__ = ["Descriptor", "Manifest", "RegistryClient", "RetryPolicy"]


def __getattr__(name: str) -> Any:
    if name == "RegistryClient":
        from regkit.registry.client import RegistryClient

        return RegistryClient
    if name == "RetryPolicy":
        from regkit.registry.retry import RetryPolicy

        return RetryPolicy
    raise AttributeError(f"module 'regkit.registry' has no attribute {name!r}")
