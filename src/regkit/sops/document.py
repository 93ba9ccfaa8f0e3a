"""Open a SOPS file, decrypt it, and expose the result (:func:`decrypt_file`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regkit.sops.core import decrypt_tree, recover_data_key
from regkit.sops.errors import MissingKeyError, SopsError, SopsFormatError, UnsupportedKeyTypeError
from regkit.sops.keys import Identities, load_identities
from regkit.sops.metadata import Metadata, parse_metadata
from regkit.sops.tree import Branch, Comment, to_plain

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")
#: Largest file read, by format: YAML is parsed in pure Python (seconds per MiB), the others in
#: C or with simple splitting. A secrets file is a few KiB; anything near these is refused.
_MAX_SIZE = {"yaml": 1 << 20}
_DEFAULT_MAX_SIZE = 16 << 20
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv", ".ini": "ini"}


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The store sops picks from a file name (unknown extensions are binary)."""
    return _EXTENSIONS.get(Path(path).suffix.lower(), "binary")


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


def load_encrypted(text: str, fmt: str) -> tuple[list[Branch], Any]:
    """Parse an encrypted file into data branches (metadata removed) and the raw metadata."""
    if fmt == "yaml":
        from regkit.sops.yamlio import load_yaml

        branches = load_yaml(text)
        raw_meta = None
        data = []
        for branch in branches:
            kept = Branch()
            for key, value in branch:
                if key == "sops":
                    if raw_meta is None:
                        raw_meta = to_plain(value)
                else:
                    kept.append((key, value))
            data.append(kept)
        return data, raw_meta
    if fmt in ("json", "binary"):
        from regkit.sops.jsonio import load_json

        branch = load_json(text)
        raw_meta = None
        kept = Branch()
        for key, value in branch:
            if key == "sops":
                raw_meta = to_plain(value)
            else:
                kept.append((key, value))
        return [kept], raw_meta
    if fmt == "dotenv":
        from regkit.sops.dotenv import load_dotenv, split_metadata

        data_branch, flat_meta = split_metadata(load_dotenv(text))
        return [data_branch], flat_meta or None
    if fmt == "ini":
        from regkit.sops.ini import load_ini

        data_branch, meta = load_ini(text)
        return [data_branch], meta
    raise SopsFormatError(f"unknown input type {fmt!r}; use one of {', '.join(FORMATS)}")


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
    path: str, fmt: str, meta: Metadata, ignore_mac: bool
) -> SopsDocument:
    sops = shutil.which("sops")
    kinds = sorted({kind for group in meta.groups for kind in group.others})
    if sops is None:
        raise UnsupportedKeyTypeError(
            f"{path} has no age recipients (only {', '.join(kinds) or 'other'} keys); regkit "
            "decrypts age keys natively and uses a sops binary on PATH for other key types, but "
            "none was found. Install sops, or add an age recipient to the file"
        )
    argv = [sops, "decrypt", "--input-type", fmt, "--output-type", fmt]
    if ignore_mac:
        argv.append("--ignore-mac")
    proc = subprocess.run([*argv, path], capture_output=True, check=False)
    if proc.returncode != 0:
        # sops' own message can quote file content, so it is not repeated here
        raise SopsError(
            f"sops could not decrypt {path} (exit {proc.returncode}); run 'sops decrypt {path}' "
            "to see why, and check that its key (PGP, KMS, ...) is available"
        )
    text = proc.stdout.decode("utf-8")
    if fmt == "binary":
        branches = [Branch([("data", text)])]
    elif fmt == "yaml":
        from regkit.sops.yamlio import load_yaml

        branches = load_yaml(text)
    elif fmt == "json":
        from regkit.sops.jsonio import load_json

        branches = [load_json(text)]
    elif fmt == "dotenv":
        from regkit.sops.dotenv import load_dotenv

        branches = [load_dotenv(text)]
    else:
        from regkit.sops.ini import load_ini_plain

        branches = [load_ini_plain(text)]
    secrets: list[str] = []
    for branch in branches:
        _secret_strings(branch, secrets)
    return SopsDocument(branches, meta, fmt, path, secrets)


def decrypt_text(
    text: str,
    fmt: str,
    *,
    identities: Identities | None = None,
    ignore_mac: bool = False,
    name: str = "the SOPS file",
) -> SopsDocument:
    """Decrypt the content of a SOPS file given as text."""
    _check_size(len(text), fmt, name)
    branches, raw_meta = load_encrypted(text, fmt)
    if raw_meta is None:
        raise SopsFormatError(
            f"sops metadata not found in {name}: it is not a SOPS-encrypted {fmt} file "
            "(check the file, or --input-type)"
        )
    meta = parse_metadata(raw_meta)
    if not meta.has_age:
        return _decrypt_with_sops_binary(name, fmt, meta, ignore_mac)
    if identities is None:
        first = next(k.recipient for g in meta.groups for k in g.age)
        identities = load_identities(recipient=first)
    key = recover_data_key(meta, identities)
    decrypted, secrets = decrypt_tree(branches, meta, key, ignore_mac=ignore_mac, name=name)
    return SopsDocument(decrypted, meta, fmt, name, secrets)


def decrypt_file(
    path: str | os.PathLike[str],
    identities: Identities | None = None,
    ignore_mac: bool = False,
    *,
    input_type: str | None = None,
) -> SopsDocument:
    """Decrypt a SOPS file. ``identities=None`` loads them from the environment like sops."""
    fmt = input_type or format_for_path(path)
    if fmt not in FORMATS:
        raise SopsFormatError(f"unknown input type {fmt!r}; use one of {', '.join(FORMATS)}")
    limit = _MAX_SIZE.get(fmt, _DEFAULT_MAX_SIZE)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)  # never more than the limit in memory
    except OSError as err:
        raise SopsError(f"cannot read {path}: {err.strerror}") from None
    _check_size(len(raw), fmt, str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SopsFormatError(f"{path} is not UTF-8 text, so it is not a SOPS file") from None
    return decrypt_text(text, fmt, identities=identities, ignore_mac=ignore_mac, name=str(path))


def _check_size(size: int, fmt: str, name: str) -> None:
    limit = _MAX_SIZE.get(fmt, _DEFAULT_MAX_SIZE)
    if size > limit:
        raise SopsFormatError(
            f"{name} is larger than {limit >> 20} MiB, too large for a SOPS {fmt} secrets file; "
            "check that it is the right file"
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
                f'invalid --extract path {expression!r}: expected steps like ["key"] or [0]'
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
