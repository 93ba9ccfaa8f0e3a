"""Combine Shamir shares as sops does (HashiCorp Vault's scheme over GF(2^8), polynomial 0x11B).

A share is the y-bytes followed by one x-byte. The secret byte ``i`` is the Lagrange
interpolation at zero of the points ``(x_j, y_j[i])``.
"""

from __future__ import annotations

from collections.abc import Sequence

from regkit.sops.errors import SopsFormatError


def _build_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        # multiply by the generator 3 in GF(2^8) with the AES polynomial
        doubled = value << 1
        if doubled & 0x100:
            doubled ^= 0x11B
        value ^= doubled
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _build_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def combine(parts: Sequence[bytes]) -> bytes:
    """Recover the secret from at least two shares (errors as Vault's ``shamir.Combine``)."""
    if len(parts) < 2:
        raise SopsFormatError("less than two Shamir parts cannot be used to reconstruct the key")
    length = len(parts[0])
    if length < 2:
        raise SopsFormatError("Shamir parts must be at least two bytes")
    if any(len(part) != length for part in parts):
        raise SopsFormatError("all Shamir parts must be the same length")
    xs = [part[-1] for part in parts]
    if len(set(xs)) != len(xs):
        raise SopsFormatError("duplicate Shamir part; the key groups are damaged")
    secret = bytearray(length - 1)
    for i in range(length - 1):
        acc = 0
        for j, part in enumerate(parts):
            basis = 1
            for m, xm in enumerate(xs):
                if m != j:
                    basis = _mul(basis, _div(xm, xs[j] ^ xm))
            acc ^= _mul(part[i], basis)
        secret[i] = acc
    return bytes(secret)
