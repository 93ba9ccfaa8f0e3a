"""Scan captured output for secrets: the leak test every login/action test runs.

``assert_no_secrets(texts, secrets)`` looks at each text (stdout, stderr, the GITHUB_* files,
a written config, ...) line by line. A line that is a ``::add-mask::`` command is allowed to
hold a secret (that is how it gets masked); on every other line none of these may appear:

- the secret itself, and each of its lines (a multi-line age key file leaks line by line);
- its JSON-escaped form (``"`` and ``\\`` escaped, as in a JSON file or a repr);
- its base64 forms (standard and URL-safe, padded or not), also where the secret sits inside a
  longer encoded string (``base64("user:" + secret)``): for each of the three alignments the
  part of the encoding that depends only on the secret's bytes is searched for;
- its hex form.

``assert_masked_first(stdout, secrets)`` checks that every secret is registered with
``::add-mask::`` before the first line of stdout that is not a mask command.

Secrets shorter than ``MIN_SECRET_LENGTH`` are refused: a 2-character "secret" would match
everywhere and make the scan meaningless.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping

MASK_PREFIX = "::add-mask::"
MIN_SECRET_LENGTH = 4


def _b64_fragments(secret: bytes) -> set[str]:
    """Substrings that any base64 encoding containing ``secret`` must contain."""
    out: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        # Characters 0..ceil(offset*8/6) mix the prefix in; the tail mixes in what follows.
        start = -(-offset * 8 // 6) if offset else 0
        end_bits = (offset + len(secret)) * 8
        end = end_bits // 6  # characters fully determined by the data bytes
        fragment = encoded[start:end]
        if len(fragment) >= MIN_SECRET_LENGTH:
            out.add(fragment)
            out.add(fragment.replace("+", "-").replace("/", "_"))
    whole = base64.b64encode(secret).decode()
    out.add(whole)
    out.add(whole.rstrip("="))
    out.add(base64.urlsafe_b64encode(secret).decode().rstrip("="))
    return out


def forms(secret: str) -> dict[str, str]:
    """Every form of ``secret`` the scan looks for, named (``raw``, ``line 2``, ``base64``...)."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"a secret of {len(secret)} characters cannot be scanned for reliably "
            f"(minimum {MIN_SECRET_LENGTH})"
        )
    found: dict[str, str] = {"raw": secret}
    lines = [line.strip() for line in secret.splitlines() if line.strip()]
    if len(lines) > 1:
        for number, line in enumerate(lines, start=1):
            if len(line) >= MIN_SECRET_LENGTH and not line.startswith("#"):
                found[f"line {number}"] = line
    escaped = json.dumps(secret)[1:-1]
    if escaped != secret:
        found["json-escaped"] = escaped
    data = secret.encode()
    for number, fragment in enumerate(sorted(_b64_fragments(data)), start=1):
        found[f"base64 #{number}"] = fragment
    found["hex"] = binascii.hexlify(data).decode()
    return found


def find_leaks(texts: Mapping[str, str], secrets: Iterable[str]) -> list[str]:
    """Descriptions of every leak: ``"stdout line 3: base64 #2 of secret #1"``. Never the secret."""
    wanted = [(index, forms(secret)) for index, secret in enumerate(secrets, start=1)]
    leaks: list[str] = []
    for name, text in texts.items():
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.startswith(MASK_PREFIX):
                continue
            for index, variants in wanted:
                for form_name, form in variants.items():
                    if form in line:
                        leaks.append(f"{name} line {lineno}: {form_name} of secret #{index}")
                        break
    return leaks


def assert_no_secrets(texts: dict[str, str], secrets: list[str]) -> None:
    """Fail when any secret (or a base64/JSON/hex form of it) appears outside ``::add-mask::``."""
    assert secrets, "assert_no_secrets needs at least one secret to look for"
    leaks = find_leaks(texts, secrets)
    assert not leaks, "secret leaked: " + "; ".join(leaks)  # names places, never values


def masked_values(stdout: str) -> list[str]:
    """The values registered with ``::add-mask::`` (unescaped as the runner reads them)."""
    out = []
    for line in stdout.splitlines():
        if line.startswith(MASK_PREFIX):
            value = line[len(MASK_PREFIX) :]
            out.append(value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%"))
    return out


def assert_masked_first(stdout: str, secrets: list[str]) -> None:
    """Every secret is masked, and all masks come before any other line of stdout."""
    lines = stdout.splitlines()
    first_other = next(
        (i for i, line in enumerate(lines) if not line.startswith(MASK_PREFIX)), len(lines)
    )
    early = set(masked_values("\n".join(lines[:first_other])))
    missing = [f"secret #{i}" for i, s in enumerate(secrets, start=1) if s not in early]
    assert not missing, (
        f"not masked before the first other output line ({first_other + 1}): " + ", ".join(missing)
    )


def read_texts(paths: Mapping[str, object]) -> dict[str, str]:
    """``{name: file text}`` for the files that exist (GITHUB_OUTPUT etc.)."""
    from pathlib import Path

    out: dict[str, str] = {}
    for name, path in paths.items():
        p = Path(str(path))
        if p.is_file():
            out[name] = p.read_text(encoding="utf-8", errors="replace")
    return out
