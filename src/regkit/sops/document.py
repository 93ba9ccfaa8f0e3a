"""Open a SOPS file, decrypt it, and expose the result (:func:`decrypt_file`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from regkit.errors import Param
from regkit.sops.core import decrypt_tree, recover_data_key
from regkit.sops.errors import MissingKeyError, SopsError, SopsFormatError, UnsupportedKeyTypeError
from regkit.sops.keys import Identities, load_identities
from regkit.sops.metadata import Metadata, parse_metadata
from regkit.sops.stores import STORES, Store, format_for_path, store_for
from regkit.sops.tree import Branch, Comment, to_plain

__all__ = [
    "FORMATS",
    "SopsDocument",
    "decrypt_file",
    "decrypt_text",
    "extract",
    "format_for_path",
    "parse_extract",
]

#: The ``--input-type`` / ``--output-type`` names, one per store (``regkit.sops.stores``).
FORMATS = tuple(STORES)


@dataclass
class SopsDocument:
    """A decrypted SOPS file."""

    branches: list[Branch]  # every document, with comments (YAML can hold several)
    metadata: Metadata | None
    format: str
    path: str
    _secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def data(self) -> Any:
        """The (first) document as plain Python: dicts in file order, lists, scalars."""
        return to_plain(self.branches[0]) if self.branches else {}

    @property
    def documents(self) -> list[Any]:
        return [to_plain(branch) for branch in self.branches]

    def secrets(self) -> list[str]:
        """Every decrypted string value that was stored encrypted (for masking)."""
        return list(self._secrets)

    def get(self, path: Sequence[str | int]) -> Any:
        """The value at ``path``; :class:`MissingKeyError` names the first missing component."""
        node: Any = self.data
        for depth, step in enumerate(path):
            where = "".join(f"[{p!r}]" for p in path[: depth + 1])
            if isinstance(node, dict) and isinstance(step, str):
                if step not in node:
                    raise MissingKeyError(f"key {where} not found in {self.path}")
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and not isinstance(step, bool):
                if not -len(node) <= step < len(node):
                    raise MissingKeyError(f"index {where} out of range in {self.path}")
                node = node[step]
            else:
                raise MissingKeyError(f"{where} does not exist in {self.path}")
        return node


def _secret_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, Branch):
        for key, item in value:
            if not isinstance(key, Comment):
                _secret_strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _secret_strings(item, out)
    elif isinstance(value, str) and value:
        out.append(value)


def _decrypt_with_sops_binary(
    path: str, store: Store, meta: Metadata, ignore_mac: bool
) -> SopsDocument:
    sops = shutil.which("sops")
    kinds = sorted({kind for group in meta.groups for kind in group.others})
    if sops is None:
        raise UnsupportedKeyTypeError(
            f"{path} has no age recipients (only {', '.join(kinds) or 'other'} keys); regkit "
            "decrypts age keys natively and uses a sops binary on PATH for other key types, but "
            "none was found. Install sops, or add an age recipient to the file"
        )
    argv = [sops, "decrypt", "--input-type", store.name, "--output-type", store.name]
    if ignore_mac:
        argv.append("--ignore-mac")
    proc = subprocess.run([*argv, path], capture_output=True, check=False)
    if proc.returncode != 0:
        # sops' own message can quote file content, so it is not repeated here
        raise SopsError(
            f"sops could not decrypt {path} (exit {proc.returncode}); run 'sops decrypt {path}' "
            "to see why, and check that its key (PGP, KMS, ...) is available"
        )
    branches = store.load_plain(proc.stdout.decode("utf-8"))
    secrets: list[str] = []
    for branch in branches:
        _secret_strings(branch, secrets)
    return SopsDocument(branches, meta, store.name, path, secrets)


def decrypt_text(
    text: str,
    fmt: str,
    *,
    identities: Identities | None = None,
    ignore_mac: bool = False,
    name: str = "the SOPS file",
) -> SopsDocument:
    """Decrypt the content of a SOPS file given as text."""
    store = store_for(fmt)
    _check_size(len(text), store, name)
    branches, raw_meta = store.load_encrypted(text)
    if raw_meta is None:
        raise SopsFormatError(
            (
                f"sops metadata not found in {name}: it is not a SOPS-encrypted {store.name} "
                "file (check the file, or ",
                Param("input-type"),
                ")",
            )
        )
    meta = parse_metadata(raw_meta)
    if not meta.has_age:
        return _decrypt_with_sops_binary(name, store, meta, ignore_mac)
    if identities is None:
        first = next(k.recipient for g in meta.groups for k in g.age)
        identities = load_identities(recipient=first)
    key = recover_data_key(meta, identities)
    decrypted, secrets = decrypt_tree(branches, meta, key, ignore_mac=ignore_mac, name=name)
    return SopsDocument(decrypted, meta, store.name, name, secrets)


def decrypt_file(
    path: str | os.PathLike[str],
    identities: Identities | None = None,
    ignore_mac: bool = False,
    *,
    input_type: str | None = None,
) -> SopsDocument:
    """Decrypt a SOPS file. ``identities=None`` loads them from the environment like sops."""
    store = store_for(input_type or format_for_path(path))
    try:
        with open(path, "rb") as handle:
            raw = handle.read(store.max_size + 1)  # never more than the limit in memory
    except OSError as err:
        raise SopsError(f"cannot read {path}: {err.strerror}") from None
    _check_size(len(raw), store, str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SopsFormatError(f"{path} is not UTF-8 text, so it is not a SOPS file") from None
    return decrypt_text(
        text, store.name, identities=identities, ignore_mac=ignore_mac, name=str(path)
    )


def _check_size(size: int, store: Store, name: str) -> None:
    if size > store.max_size:
        raise SopsFormatError(
            f"{name} is larger than {store.max_size >> 20} MiB, too large for a SOPS "
            f"{store.name} secrets file; check that it is the right file"
        )


_EXTRACT_STEP = re.compile(r"""\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(-?\d+))\]""")


def parse_extract(expression: str) -> list[str | int]:
    """Parse sops' ``--extract`` syntax: ``["a"]["b"][0]``."""
    steps: list[str | int] = []
    pos = 0
    expression = expression.strip()
    while pos < len(expression):
        m = _EXTRACT_STEP.match(expression, pos)
        if m is None:
            raise SopsFormatError(
                (
                    "invalid ",
                    Param("extract"),
                    f' path {expression!r}: expected steps like ["key"] or [0]',
                )
            )
        if m.group(3) is not None:
            steps.append(int(m.group(3)))
        else:
            raw = m.group(1) if m.group(1) is not None else m.group(2)
            steps.append(re.sub(r"\\(.)", r"\1", raw))
        pos = m.end()
    return steps


def extract(branch: Branch, steps: Sequence[str | int]) -> Any:
    """Walk the tree (comments skipped) like sops' ``Tree.Branches[0].Truncate``."""
    node: Any = branch
    for step in steps:
        if isinstance(node, Branch):
            for key, value in node:
                if not isinstance(key, Comment) and key == step:
                    node = value
                    break
            else:
                raise MissingKeyError(f"component [{step!r}] not found")
        elif isinstance(node, list):
            # like sops, indices count the comment entries of a list too
            if not isinstance(step, int) or not 0 <= step < len(node):
                raise MissingKeyError(f"component [{step!r}] accesses out of bounds")
            node = node[step]
        else:
            raise MissingKeyError(f"component [{step!r}] not found: not a mapping or list")
    return node
