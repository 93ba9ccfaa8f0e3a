"""One store per file format, as sops has them (``stores/yaml``, ``stores/json``,
``stores/dotenv``, ``stores/ini``, and binary): each reads an encrypted file into data
branches plus its raw ``sops`` metadata, reads back what ``sops decrypt`` prints, and writes a
decrypted document the way ``sops decrypt`` does.

Every store is registered in :data:`STORES` under its ``--input-type`` / ``--output-type``
name; :func:`format_for_path` picks one from a file's extension (unknown extensions are binary,
as in sops). A new format is one class and one line in the table.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from regkit.errors import Param
from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import Branch, Comment, to_plain

#: Largest file read by default: the others parse in C or with simple splitting. A secrets
#: file is a few KiB; anything near the limits is refused.
DEFAULT_MAX_SIZE = 16 << 20


class Store(Protocol):
    """A file format: how an encrypted file is read and a decrypted document written."""

    #: the ``--input-type`` / ``--output-type`` name
    name: str
    #: file name endings that choose this store (as sops: case-sensitive)
    extensions: tuple[str, ...]
    #: largest file read, in bytes
    max_size: int

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        """The data branches (metadata removed) and the raw ``sops`` metadata (None: none)."""
        ...

    def load_plain(self, text: str) -> list[Branch]:
        """A decrypted file, as ``sops decrypt --output-type NAME`` prints it."""
        ...

    def emit(self, branches: list[Branch], name: str) -> bytes:
        """A decrypted document (``name``: the file, for an error) as ``sops decrypt`` prints it."""
        ...

    def emit_value(self, value: Any) -> bytes:
        """One value ``--extract`` reached that is neither a mapping nor a string: a comment,
        a list or a number, boolean, time or null."""
        ...


def _only_strings(name: str, value: Any) -> bytes:
    """``emit_value`` of the formats that hold nothing but strings (dotenv, INI, binary)."""
    if isinstance(value, Comment):
        return value.text.encode("utf-8")
    if isinstance(value, list):
        raise SopsFormatError(
            (f"the {name} output type cannot print a list; use ", Param("output-type"), " yaml")
        )
    raise SopsFormatError(
        (
            f"the {name} output type can only print string values; use ",
            Param("output-type"),
            " yaml",
        )
    )


def _split_top_level(branch: Branch) -> tuple[Branch, Any]:
    """A JSON object without its ``sops`` key, and that key's value as plain Python."""
    raw_meta = None
    kept = Branch()
    for key, value in branch:
        if key == "sops":
            raw_meta = to_plain(value)
        else:
            kept.append((key, value))
    return kept, raw_meta


class YamlStore:
    """``stores/yaml``: several documents, each with the same ``sops`` mapping (the first
    counts); parsed in pure Python (seconds per MiB), hence the smaller size limit."""

    name = "yaml"
    extensions: tuple[str, ...] = (".yaml", ".yml")
    max_size = 1 << 20

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        from regkit.sops.yamlio import load_yaml

        raw_meta = None
        data = []
        for branch in load_yaml(text):
            kept = Branch()
            for key, value in branch:
                if key == "sops":
                    if raw_meta is None:
                        raw_meta = to_plain(value)
                else:
                    kept.append((key, value))
            data.append(kept)
        return data, raw_meta

    def load_plain(self, text: str) -> list[Branch]:
        from regkit.sops.yamlio import load_yaml

        return load_yaml(text)

    def emit(self, branches: list[Branch], name: str) -> bytes:
        from regkit.sops.yamlemit import emit_yaml

        return emit_yaml(branches).encode()

    def emit_value(self, value: Any) -> bytes:
        if isinstance(value, Comment):
            from regkit.sops.yamlemit import scalar_text

            return f"value: {scalar_text(value.text)}\n".encode()  # what sops prints
        from regkit.sops.yamlemit import emit_yaml_value

        return emit_yaml_value(value).encode()


class JsonStore:
    """``stores/json``: one object, ``sops`` a top-level key."""

    name = "json"
    extensions: tuple[str, ...] = (".json",)
    max_size = DEFAULT_MAX_SIZE

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        from regkit.sops.jsonio import load_json

        kept, raw_meta = _split_top_level(load_json(text))
        return [kept], raw_meta

    def load_plain(self, text: str) -> list[Branch]:
        from regkit.sops.jsonio import load_json

        return [load_json(text)]

    def emit(self, branches: list[Branch], name: str) -> bytes:
        from regkit.sops.jsonio import emit_json

        return emit_json(branches[0]).encode()

    def emit_value(self, value: Any) -> bytes:
        if isinstance(value, Comment):
            return value.text.encode("utf-8")
        from regkit.sops.jsonio import emit_json_value

        return emit_json_value(value).encode()


class DotenvStore:
    """``stores/dotenv``: ``KEY=value`` lines, metadata flattened into ``sops_*`` keys."""

    name = "dotenv"
    extensions: tuple[str, ...] = (".env",)
    max_size = DEFAULT_MAX_SIZE

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        from regkit.sops.dotenv import load_dotenv, split_metadata

        data_branch, flat_meta = split_metadata(load_dotenv(text))
        return [data_branch], flat_meta or None

    def load_plain(self, text: str) -> list[Branch]:
        from regkit.sops.dotenv import load_dotenv

        return [load_dotenv(text)]

    def emit(self, branches: list[Branch], name: str) -> bytes:
        from regkit.sops.dotenv import emit_dotenv

        return emit_dotenv(branches[0]).encode()

    def emit_value(self, value: Any) -> bytes:
        return _only_strings(self.name, value)


class IniStore:
    """``stores/ini``: sections as top-level keys, metadata in a ``[sops]`` section."""

    name = "ini"
    extensions: tuple[str, ...] = (".ini",)
    max_size = DEFAULT_MAX_SIZE

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        from regkit.sops.ini import load_ini

        data_branch, meta = load_ini(text)
        return [data_branch], meta

    def load_plain(self, text: str) -> list[Branch]:
        from regkit.sops.ini import load_ini_plain

        return [load_ini_plain(text)]

    def emit(self, branches: list[Branch], name: str) -> bytes:
        from regkit.sops.ini import emit_ini

        return emit_ini(branches[0]).encode()

    def emit_value(self, value: Any) -> bytes:
        return _only_strings(self.name, value)


class BinaryStore:
    """Any other file: JSON ``{"data": "ENC[...]", "sops": {...}}``; decrypts to the raw
    bytes of ``data``. Chosen for every extension no other store claims."""

    name = "binary"
    extensions: tuple[str, ...] = ()
    max_size = DEFAULT_MAX_SIZE

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        from regkit.sops.jsonio import load_json

        kept, raw_meta = _split_top_level(load_json(text))
        return [kept], raw_meta

    def load_plain(self, text: str) -> list[Branch]:
        return [Branch([("data", text)])]

    def emit(self, branches: list[Branch], name: str) -> bytes:
        for key, value in branches[0]:
            if not isinstance(key, Comment) and key == "data":
                if isinstance(value, str):
                    return value.encode("utf-8")
                if isinstance(value, bytes):
                    return value
        raise SopsFormatError(
            (
                f"{name} has no string 'data' value, so it cannot be printed as binary; "
                "choose another ",
                Param("output-type"),
            )
        )

    def emit_value(self, value: Any) -> bytes:
        return _only_strings(self.name, value)


#: Every store by its ``--input-type`` / ``--output-type`` name, in the order ``--help`` lists.
STORES: dict[str, Store] = {
    store.name: store
    for store in (YamlStore(), JsonStore(), DotenvStore(), IniStore(), BinaryStore())
}
_FALLBACK = STORES["binary"]


def store_for(name: str) -> Store:
    """The store of ``--input-type NAME``; an unknown name is one error line listing them."""
    store = STORES.get(name)
    if store is None:
        raise SopsFormatError(f"unknown input type {name!r}; use one of {', '.join(STORES)}")
    return store


def store_for_path(path: str | os.PathLike[str]) -> Store:
    """The store sops picks from a file name: the first whose extension ends the name,
    case-sensitively as sops' ``strings.HasSuffix`` (``.env`` is dotenv, ``A.YAML`` is
    binary); no match is binary."""
    text = os.fspath(path)
    for store in STORES.values():
        if text.endswith(store.extensions):
            return store
    return _FALLBACK


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The name of the store sops picks from a file name (unknown extensions are binary)."""
    return store_for_path(path).name
