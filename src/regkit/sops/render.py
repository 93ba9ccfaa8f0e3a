"""Render a decrypted document as ``sops decrypt`` prints it (``--output-type``, ``--extract``)."""

from __future__ import annotations

from typing import Any

from regkit.sops.document import SopsDocument, extract, parse_extract
from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import Branch, Comment


def _scalar_bytes(value: Any, output_type: str) -> bytes:
    if isinstance(value, Comment) and output_type == "yaml":
        from regkit.sops.yamlemit import scalar_text

        return f"value: {scalar_text(value.text)}\n".encode()  # what sops prints
    if isinstance(value, Comment):
        value = value.text
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if output_type == "json":
        from regkit.sops.jsonio import emit_json_value

        return emit_json_value(value).encode()
    if output_type in ("dotenv", "ini", "binary"):
        raise SopsFormatError(
            f"the {output_type} output type can only print string values; use --output-type yaml"
        )
    from regkit.sops.yamlemit import emit_yaml_value

    return emit_yaml_value(value).encode()


def render(
    doc: SopsDocument, output_type: str | None = None, extract_path: str | None = None
) -> bytes:
    """The bytes ``sops decrypt`` would print for ``doc``."""
    output_type = output_type or doc.format
    if extract_path:
        steps = parse_extract(extract_path)
        value = extract(doc.branches[0], steps)
        if isinstance(value, Branch):
            return _document(doc, [value], output_type)
        if isinstance(value, list):
            if output_type == "json":
                from regkit.sops.jsonio import emit_json_value

                return emit_json_value(value).encode()
            if output_type != "yaml":
                raise SopsFormatError(
                    f"the {output_type} output type cannot print a list; use --output-type yaml"
                )
            from regkit.sops.yamlemit import emit_yaml_value

            return emit_yaml_value(value).encode()
        return _scalar_bytes(value, output_type)
    return _document(doc, doc.branches, output_type)


def _document(doc: SopsDocument, branches: list[Branch], output_type: str) -> bytes:
    if output_type == "yaml":
        from regkit.sops.yamlemit import emit_yaml

        return emit_yaml(branches).encode()
    if output_type == "json":
        from regkit.sops.jsonio import emit_json

        return emit_json(branches[0]).encode()
    if output_type == "dotenv":
        from regkit.sops.dotenv import emit_dotenv

        return emit_dotenv(branches[0]).encode()
    if output_type == "ini":
        from regkit.sops.ini import emit_ini

        return emit_ini(branches[0]).encode()
    if output_type == "binary":
        for key, value in branches[0]:
            if not isinstance(key, Comment) and key == "data":
                if isinstance(value, str):
                    return value.encode("utf-8")
                if isinstance(value, bytes):
                    return value
        raise SopsFormatError(
            f"{doc.path} has no string 'data' value, so it cannot be printed as binary; "
            "choose another --output-type"
        )
    raise SopsFormatError(f"unknown output type {output_type!r}")
