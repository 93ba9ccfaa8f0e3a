"""dotenv store: ``KEY=value`` lines, ``#`` comments, metadata flattened as ``sops_*`` keys."""

from __future__ import annotations

import itertools
from typing import Any

from regkit.errors import Param
from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import Branch, Comment, Timestamp, go_format_g

PREFIX = "sops_"
#: Largest list index and most parts a flattened metadata key may have (real metadata has a
#: list per key group and recipient, and a few levels): past them the key is refused instead
#: of building a list of that many entries or a structure that deep.
MAX_FLAT_INDEX = 10_000
MAX_FLAT_PARTS = 32


def load_dotenv(text: str) -> Branch:
    branch = Branch()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line.startswith("#"):
            branch.append((Comment(line[1:]), None))
            continue
        pos = line.find("=")
        if pos == -1:
            raise SopsFormatError(f"invalid dotenv line {number}: no '=' (KEY=value expected)")
        branch.append((line[:pos], line[pos + 1 :].replace("\\n", "\n")))
    return branch


def split_metadata(branch: Branch, prefix: str = PREFIX) -> tuple[Branch, dict[str, Any]]:
    """Separate the flattened ``sops_*`` metadata from the data items."""
    data = Branch()
    flat: dict[str, Any] = {}
    for key, value in branch:
        if isinstance(key, str) and key.startswith(prefix):
            flat[key[len(prefix) :]] = value
        else:
            data.append((key, value))
    return data, unflatten(flat)


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Undo sops' ``FlattenMetadata`` (``__map_`` / ``__list_N`` separators)."""
    root: dict[str, Any] = {}
    for key, raw in flat.items():
        value = raw.replace("\\n", "\n") if isinstance(raw, str) else raw
        shown = repr(key if len(key) <= 60 else key[:57] + "...")
        parts = key.split("__", MAX_FLAT_PARTS)
        if len(parts) > MAX_FLAT_PARTS:
            raise SopsFormatError(
                f"malformed flattened sops metadata key {shown}: more than {MAX_FLAT_PARTS} parts"
            )
        node: Any = root
        steps: list[str | int] = [parts[0]]
        for part in parts[1:]:
            if part.startswith("list_") and part[5:].isdigit() and part[5:].isascii():
                if len(part) > 10 or int(part[5:]) > MAX_FLAT_INDEX:
                    raise SopsFormatError(
                        f"malformed flattened sops metadata key {shown}: list index past "
                        f"{MAX_FLAT_INDEX}"
                    )
                steps.append(int(part[5:]))
            elif part.startswith("map_"):
                steps.append(part[4:])
            else:
                raise SopsFormatError(f"malformed flattened sops metadata key {shown}")
        for step, nxt in itertools.pairwise(steps):
            container: Any = [] if isinstance(nxt, int) else {}
            if isinstance(step, int):
                while len(node) <= step:
                    node.append(None)
                if node[step] is None:
                    node[step] = container
                node = node[step]
            else:
                node = node.setdefault(step, container)
        last = steps[-1]
        if isinstance(last, int):
            while len(node) <= last:
                node.append(None)
            node[last] = value
        else:
            node[last] = value
    return root


def value_to_string(value: Any) -> str:
    """sops' ``stores.ValueToString`` for dotenv/INI output."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return go_format_g(value).upper().replace("INF", "Inf").replace("NAN", "NaN")
    if isinstance(value, Timestamp):
        return value.rfc3339
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def emit_dotenv(branch: Branch) -> str:
    lines = []
    for key, value in branch:
        if isinstance(key, Comment):
            lines.append(f"#{key.text}\n")
            continue
        if isinstance(value, (Branch, list)):
            raise SopsFormatError(
                (
                    f"cannot write the nested value of {key!r} as dotenv; choose ",
                    Param("output-type"),
                    " yaml or json",
                )
            )
        lines.append(f"{key}={value_to_string(value).replace(chr(10), chr(92) + 'n')}\n")
    return "".join(lines)
