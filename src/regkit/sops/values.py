"""``ENC[AES256_GCM,...]`` values: parse, decrypt to typed values, and the MAC byte forms."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from regkit.sops.errors import MalformedValueError
from regkit.sops.tree import Comment, Timestamp, go_format_f, parse_timestamp

_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.DOTALL)

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_FLOAT_RE = re.compile(
    r"^[+-]?(?:(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?|inf|infinity|nan)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EncryptedValue:
    data: bytes
    iv: bytes
    tag: bytes
    datatype: str


def parse_enc(text: str, where: str) -> EncryptedValue:
    """Parse an ``ENC[...]`` string; ``where`` names its location for the error message."""
    m = _ENC_RE.match(text)
    if m is None:
        raise MalformedValueError(
            f"the value at {where} is not an encrypted SOPS value (expected ENC[AES256_GCM,...]); "
            "the file was edited by hand or is damaged"
        )
    try:
        data, iv, tag = (base64.b64decode(part, validate=True) for part in m.group(1, 2, 3))
    except (binascii.Error, ValueError):
        raise MalformedValueError(
            f"the encrypted value at {where} has invalid base64; the file is damaged"
        ) from None
    if len(tag) != 16 or not 8 <= len(iv) <= 128:  # sops writes 32; AES-GCM here takes 8-128
        raise MalformedValueError(f"the encrypted value at {where} has a malformed iv or tag")
    return EncryptedValue(data, iv, tag, m.group(4))


def decrypt_raw(key: bytes, enc: EncryptedValue, aad: str, where: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(enc.iv, enc.data + enc.tag, aad.encode())
    except InvalidTag:
        raise MalformedValueError(
            f"the encrypted value at {where} does not authenticate: it was modified, moved to "
            "another key, or belongs to another file"
        ) from None


def decrypt_value(key: bytes, text: str, aad: str, where: str) -> Any:
    """Decrypt one value and convert it to its sops type (``Comment`` for comments)."""
    enc = parse_enc(text, where)
    plain = decrypt_raw(key, enc, aad, where)
    return convert(plain, enc.datatype, where)


def convert(plain: bytes, datatype: str, where: str) -> Any:
    if datatype == "bytes":
        return plain
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedValueError(f"the value at {where} is not valid UTF-8") from None
    if datatype == "str":
        return text
    if datatype == "comment":
        return Comment(text)
    if datatype == "int":
        if _INT_RE.match(text):
            return int(text)
    elif datatype == "float":
        if _FLOAT_RE.match(text) and "__" not in text:
            return float(text.replace("_", ""))
    elif datatype == "bool":
        if text in _GO_TRUE:
            return True
        if text in _GO_FALSE:
            return False
    elif datatype == "time":
        stamp = parse_timestamp(text)
        if stamp is not None:
            return stamp
    else:
        raise MalformedValueError(f"the value at {where} has an unknown datatype {datatype!r}")
    raise MalformedValueError(f"the value at {where} does not parse as its type {datatype!r}")


def to_bytes(value: Any) -> bytes:
    """The bytes sops feeds into the MAC for a leaf (sops' ``ToBytes``)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return go_format_f(value).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, Timestamp):
        return value.text.encode()
    if isinstance(value, Comment):
        return value.text.encode("utf-8")
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")
