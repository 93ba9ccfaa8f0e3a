"""Errors of the SOPS decryptor. Messages name paths, recipients and sources, never secrets."""

from __future__ import annotations

from regkit.errors import SopsError

__all__ = [
    "MacMismatchError",
    "MalformedValueError",
    "MissingKeyError",
    "NoIdentityError",
    "NoMatchingIdentityError",
    "SopsError",
    "SopsFormatError",
    "UnsupportedKeyTypeError",
]


class SopsFormatError(SopsError):
    """The file is not a SOPS file, or its structure or metadata cannot be read."""


class MalformedValueError(SopsFormatError):
    """A value in an encrypted position is not a valid ``ENC[...]`` value or does not decrypt."""


class NoIdentityError(SopsError):
    """No age identity was found in any of the places sops looks."""


class NoMatchingIdentityError(SopsError):
    """Identities were found but none can decrypt the file's data key."""


class MacMismatchError(SopsError):
    """The file's MAC does not match its content: it was edited or tampered with."""


class UnsupportedKeyTypeError(SopsError):
    """The file has no age recipients (PGP, KMS, ... only) and no ``sops`` binary is available."""


class MissingKeyError(SopsError):
    """A requested key or index is not in the decrypted document."""
