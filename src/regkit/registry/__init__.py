"""The registry API, nothing else: no GitHub, no SOPS, no CLI."""

from regkit.registry.client import RegistryClient
from regkit.registry.manifest import Descriptor, Manifest
from regkit.registry.transport import RetryPolicy

__all__ = ["Descriptor", "Manifest", "RegistryClient", "RetryPolicy"]
