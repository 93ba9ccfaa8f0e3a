"""Render a decrypted document as ``sops decrypt`` prints it (``--output-type``, ``--extract``);
each format's writing is its store's (``regkit.sops.stores``)."""

from __future__ import annotations

from regkit.sops.document import SopsDocument, extract, parse_extract
from regkit.sops.errors import SopsFormatError
from regkit.sops.stores import STORES
from regkit.sops.tree import Branch


def render(
    doc: SopsDocument, output_type: str | None = None, extract_path: str | None = None
) -> bytes:
    """The bytes ``sops decrypt`` would print for ``doc``."""
    output_type = output_type or doc.format
    store = STORES.get(output_type)
    if store is None:
        raise SopsFormatError(f"unknown output type {output_type!r}")
    if not extract_path:
        return store.emit(doc.branches, doc.path)
    value = extract(doc.branches[0], parse_extract(extract_path))
    if isinstance(value, Branch):
        return store.emit([value], doc.path)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    return store.emit_value(value)
