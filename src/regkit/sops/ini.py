"""INI store (basic go-ini subset): sections become top-level keys, metadata in ``[sops]``."""

from __future__ import annotations

from typing import Any

from regkit.sops.dotenv import unflatten, value_to_string
from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import Branch, Comment


def load_ini_plain(text: str) -> Branch:
    root = Branch()
    default = Branch()
    current = default
    pending: list[Comment] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line[0] in ";#":
            pending.append(Comment(line.lstrip("#; ")))
            continue
        if line.startswith("[") and line.endswith("]"):
            current = Branch()
            root.append((line[1:-1].strip(), current))
            pending = []
            continue
        pos = line.find("=")
        if pos == -1:
            raise SopsFormatError(f"invalid INI line {number}: expected key = value")
        current.extend((comment, None) for comment in pending)
        pending = []
        current.append((line[:pos].strip(), line[pos + 1 :].strip()))
    if default:
        root.insert(0, ("DEFAULT", default))
    return root


def load_ini(text: str) -> tuple[Branch, dict[str, Any] | None]:
    data = Branch()
    meta: dict[str, Any] | None = None
    for key, value in load_ini_plain(text):
        if key == "sops" and isinstance(value, Branch):
            meta = unflatten({k: v for k, v in value if not isinstance(k, Comment)})
        else:
            data.append((key, value))
    return data, meta


def emit_ini(branch: Branch) -> str:
    sections = []
    for name, section in branch:
        if isinstance(name, Comment):
            continue
        if not isinstance(section, Branch):
            raise SopsFormatError(f"cannot write {name!r} as INI: values must sit inside sections")
        keys = [k for k, _ in section if not isinstance(k, Comment)]
        width = max((len(k) for k in keys), default=0)
        lines = [f"[{name}]\n"]
        for key, value in section:
            if isinstance(key, Comment):
                lines.append(f"; {key.text}\n")
            elif isinstance(value, (Branch, list)):
                raise SopsFormatError(f"cannot write the nested value {name}.{key} as INI")
            else:
                lines.append(f"{key.ljust(width)} = {value_to_string(value)}\n")
        sections.append("".join(lines))
    return "\n".join(sections)
