"""Native SOPS decryption: age identities (pyrage) and AES-256-GCM (cryptography).

>>> doc = decrypt_file("secrets/infrastructure-secrets.yml")   # doctest: +SKIP
>>> doc.get(["registry_password"])                              # doctest: +SKIP

Each file format is a store (``regkit.sops.stores``), registered by name and extension in
``STORES``. Files whose keys are not age (PGP, KMS, ...) are handed to a ``sops`` binary on PATH.
"""

from __future__ import annotations

from regkit.sops.document import SopsDocument, decrypt_file, decrypt_text, format_for_path
from regkit.sops.errors import (
    MacMismatchError,
    MalformedValueError,
    MissingKeyError,
    NoIdentityError,
    NoMatchingIdentityError,
    SopsError,
    SopsFormatError,
    UnsupportedKeyTypeError,
)
from regkit.sops.keys import Identities, load_identities
from regkit.sops.stores import STORES, Store, store_for

__all__ = [
    "STORES",
    "Identities",
    "MacMismatchError",
    "MalformedValueError",
    "MissingKeyError",
    "NoIdentityError",
    "NoMatchingIdentityError",
    "SopsDocument",
    "SopsError",
    "SopsFormatError",
    "Store",
    "UnsupportedKeyTypeError",
    "decrypt_file",
    "decrypt_text",
    "format_for_path",
    "load_identities",
    "store_for",
]
