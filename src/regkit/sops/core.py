"""Decrypt a loaded tree: recover the data key, walk the tree as sops does, check the MAC."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from regkit import patterns
from regkit.errors import UsageError
from regkit.sops import shamir
from regkit.sops.errors import (
    MacMismatchError,
    MalformedValueError,
    NoIdentityError,
    NoMatchingIdentityError,
    SopsFormatError,
)
from regkit.sops.keys import Identities
from regkit.sops.metadata import Metadata
from regkit.sops.tree import Branch, Comment
from regkit.sops.values import decrypt_value, to_bytes

_MAC_ONLY_ENCRYPTED_INIT = hashlib.sha256(b"sops").digest()


def _where(path: list[str]) -> str:
    return "/".join(path) if path else "(top level)"


def recover_data_key(meta: Metadata, found: Identities) -> bytes:
    """Decrypt the data key (or enough Shamir shares) with the age identities."""
    import pyrage

    if not found.identities:
        extra = (
            (" Unsupported identities were skipped: " + "; ".join(found.unsupported) + ".")
            if found.unsupported
            else ""
        )
        raise NoIdentityError(
            "no age identity found to decrypt the SOPS file; looked at: "
            + "; ".join(found.sources)
            + "."
            + extra
            + " Set SOPS_AGE_KEY (or SOPS_AGE_KEY_FILE) to the age identity of one of the "
            "file's recipients."
        )
    parts: list[bytes] = []
    for group in meta.groups:
        for key in group.age:
            try:
                part = pyrage.decrypt(key.enc.encode(), found.identities)
            except Exception:  # noqa: S112 - pyrage raises one generic error per failure
                continue
            parts.append(part)
            break
    needed = 1 if len(meta.groups) == 1 else meta.threshold
    if len(parts) >= needed and parts:
        key_bytes = parts[0] if len(meta.groups) == 1 else shamir.combine(parts)
        if len(key_bytes) != 32:
            raise SopsFormatError(
                "the decrypted SOPS data key has the wrong length; the file is damaged"
            )
        return key_bytes
    groups = "; ".join(
        f"group {index + 1}: {group.describe()}" for index, group in enumerate(meta.groups)
    )
    need = (
        f" (need {needed} of {len(meta.groups)} key groups, decrypted {len(parts)})"
        if len(meta.groups) > 1
        else ""
    )
    count = len(found.identities)
    raise NoMatchingIdentityError(
        f"none of the {count} age identit{'y' if count == 1 else 'ies'} found can decrypt this "
        f"file{need}. The file's recipients: {groups}. Identities came from: "
        + "; ".join(s for s in found.sources if "not set" not in s and "not present" not in s)
        + ". Use the identity of one of these recipients."
    )


def _compile_rule(option: str, rule: str) -> re.Pattern[str]:
    """The metadata's ``*_regex`` compiled with the pattern module's guards (one error line)."""
    try:
        return patterns.compile_match(rule, what=f"sops.{option}")
    except UsageError as err:
        raise SopsFormatError(f"{err.message}; the file's sops metadata is damaged") from None


@dataclass
class _Walk:
    key: bytes
    meta: Metadata
    hasher: Any = field(default_factory=hashlib.sha512)
    secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.meta.mac_only_encrypted:
            self.hasher.update(_MAC_ONLY_ENCRYPTED_INIT)
        option, rule = self.meta.rule
        self.option = option
        self.rule = rule
        self.regex = _compile_rule(option, rule) if option.endswith("regex") else None
        self.found: frozenset[str] = frozenset()  # the names and comments ``regex`` finds

    def search_all(self, branches: list[Branch]) -> None:
        """Match ``regex`` once against every key and comment of ``branches``, within the
        pattern module's time budget on any thread (a catastrophic rule is one error line)."""
        if self.regex is None:
            return
        texts: set[str] = set()
        stack: list[Any] = list(branches)
        while stack:
            node = stack.pop()
            items = list(node) if isinstance(node, Branch) else [(None, v) for v in node]
            for key, value in items:
                if isinstance(key, Comment):
                    texts.add(key.text)
                elif isinstance(key, str):
                    texts.add(key)
                if isinstance(value, Comment):
                    texts.add(value.text)
                elif isinstance(value, (Branch, list)):
                    stack.append(value)
        what = f"sops.{self.option}"
        try:
            self.found = patterns.matching_tags(self.regex, sorted(texts), what=what)
        except UsageError as err:
            raise SopsFormatError(err.message) from None

    def _search(self, text: str) -> bool:
        return text in self.found

    def should_encrypt(self, path: list[str], stack: list[list[str]], is_comment: bool) -> bool:
        option, rule, regex = self.option, self.rule, self.regex
        if option == "unencrypted_suffix":
            return not any(p.endswith(rule) for p in path)
        if option == "encrypted_suffix":
            return any(p.endswith(rule) for p in path)
        assert regex is not None
        if option == "unencrypted_regex":
            return not any(self._search(p) for p in path)
        if option == "encrypted_regex":
            return any(self._search(p) for p in path)
        if option == "unencrypted_comment_regex":
            return not any(self._search(c) for level in stack for c in level)
        # encrypted_comment_regex: the marker comment itself stays clear
        last_level = len(stack) - 1
        for i, level in enumerate(stack):
            for j, c in enumerate(level):
                if is_comment and i == last_level and j == len(level) - 1:
                    continue
                if self._search(c):
                    return True
        return False

    def leaf(self, value: Any, path: list[str], stack: list[list[str]]) -> Any:
        is_comment = isinstance(value, Comment)
        encrypted = self.should_encrypt(path, stack, is_comment)
        result = value
        if encrypted:
            aad = ":".join(path) + ":"
            where = _where(path)
            if is_comment:
                try:
                    result = decrypt_value(self.key, value.text, aad, f"a comment in {where}")
                except MalformedValueError:
                    result = value  # sops keeps undecryptable comments (older files)
                if isinstance(result, str):
                    result = Comment(result)
            elif isinstance(value, str):
                if value:
                    result = decrypt_value(self.key, value, aad, where)
                    if isinstance(result, str) and result:
                        self.secrets.append(result)
            else:
                raise MalformedValueError(
                    f"the value at {where} is not encrypted but should be (sops would refuse it "
                    "too); the file was edited by hand"
                )
        if (not self.meta.mac_only_encrypted or encrypted) and not isinstance(result, Comment):
            self.hasher.update(to_bytes(result))
        return result

    def value(self, value: Any, path: list[str], stack: list[list[str]]) -> Any:
        if isinstance(value, Branch):
            return self.branch(value, path, stack)
        if isinstance(value, list):
            return self.sequence(value, path, stack)
        if value is None:
            return None
        return self.leaf(value, path, stack)

    def branch(self, branch: Branch, path: list[str], stack: list[list[str]]) -> Branch:
        stack = [*stack, []]
        out = Branch()
        for key, value in branch:
            if isinstance(key, Comment):
                stack[-1].append(key.text)
                out.append((self.leaf(key, path, stack), None))
                continue
            out.append((key, self.value(value, [*path, key], stack)))
            stack[-1] = []
        return out

    def sequence(self, items: list[Any], path: list[str], stack: list[list[str]]) -> list[Any]:
        stack = [*stack, []]
        out: list[Any] = []
        for item in items:
            is_comment = isinstance(item, Comment)
            if is_comment:
                stack[-1].append(item.text)
            out.append(self.value(item, path, stack))
            if not is_comment:
                stack[-1] = []
        return out


def decrypt_tree(
    branches: list[Branch], meta: Metadata, key: bytes, *, ignore_mac: bool, name: str
) -> tuple[list[Branch], list[str]]:
    """Decrypt every branch; verify the MAC unless ``ignore_mac``. Returns (branches, secrets)."""
    walk = _Walk(key, meta)
    walk.search_all(branches)
    result = [walk.branch(branch, [], []) for branch in branches]
    if not ignore_mac:
        computed = walk.hasher.hexdigest().upper()
        if not meta.mac:
            raise MacMismatchError(
                f"{name} has no MAC, so its integrity cannot be checked; refusing to use it "
                "(re-encrypt it with sops, or ignore the MAC explicitly if you trust the file)"
            )
        try:
            stored = decrypt_value(key, meta.mac, meta.mac_aad(), "sops.mac")
        except MalformedValueError:
            raise MacMismatchError(
                f"the MAC of {name} cannot be decrypted (sops.mac or sops.lastmodified was "
                "changed); refusing to use the file"
            ) from None
        if stored != computed:
            raise MacMismatchError(
                f"MAC mismatch: {name} was modified after it was encrypted (a value, its order or "
                "a clear-text entry changed); refusing to use it. Re-encrypt it with sops, or "
                "ignore the MAC explicitly if you trust the change"
            )
    return result, walk.secrets
