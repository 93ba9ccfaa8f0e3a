"""YAML store: load an encrypted (or plain) YAML file into a tree the way sops' yaml.v3 store does.

ruamel.yaml composes the node graph (structure, styles, positions); scalars are resolved with
yaml.v3's rules (YAML 1.2-ish: ``yes`` is a string, ``0x1F`` and ``0777`` are ints, unquoted
timestamps are times). Comments are found by position and placed where yaml.v3 + sops put them:
a comment belongs to the innermost open collection whose indentation it reaches; a comment on the
line of an item goes before that item.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Any

from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import Branch, Comment, parse_timestamp

_STR = "tag:yaml.org,2002:str"
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUES = {"true", "True", "TRUE"}
_FALSES = {"false", "False", "FALSE"}
_NANS = {".nan", ".NaN", ".NAN"}
_PINF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NINF = {"-.inf", "-.Inf", "-.INF"}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?$")
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def _go_parse_int(text: str, *, unsigned: bool = False) -> int | None:
    """``strconv.ParseInt(text, 0, 64)`` / ``ParseUint``; ``None`` where Go returns an error."""
    negative = False
    if not unsigned and text[:1] in ("+", "-"):
        negative = text[0] == "-"
        text = text[1:]
    base = 10
    if len(text) > 1 and text[0] == "0":
        prefix = text[1].lower()
        if prefix in "xob":
            base = {"x": 16, "o": 8, "b": 2}[prefix]
            text = text[2:]
        else:
            base = 8
            text = text[1:]
    if not text or any(ch not in _DIGITS[base] for ch in text):
        return None
    value = -int(text, base) if negative else int(text, base)
    if unsigned:
        return value if value < 1 << 64 else None
    return value if -(1 << 63) <= value < 1 << 63 else None


def _go_parse_float(text: str) -> float | None:
    if not _GO_FLOAT.match(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value  # Go reports ERANGE


def resolve_plain(text: str) -> Any:
    """Value of a plain (unquoted, untagged) scalar, as yaml.v3 decodes it into ``interface{}``."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    if text in _NANS:
        return math.nan
    if text in _PINF:
        return math.inf
    if text in _NINF:
        return -math.inf
    first = text[0]
    if first == ".":
        value = _go_parse_float(text)
        return text if value is None else value
    if first not in "+-0123456789":
        return text
    stamp = parse_timestamp(text, yaml_forms=True) if re.match(r"^\d{4}-", text) else None
    if stamp is not None:
        return stamp
    plain = text.replace("_", "")
    for unsigned in (False, True):
        number = _go_parse_int(plain, unsigned=unsigned)
        if number is not None:
            return number
    if _YAML_FLOAT.match(plain):
        value = _go_parse_float(plain)
        if value is not None:
            return value
    for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
        if plain.startswith(prefix):
            digits = plain[len(prefix) :]
            if digits and all(ch in _DIGITS[base] for ch in digits):
                value_int = int(digits, base)
                return -value_int if prefix.startswith("-") else value_int
    return text


# --- loading --------------------------------------------------------------------------------


@dataclass
class _Container:
    obj: Branch | list[Any]
    indent: int
    parent: _Container | None
    index_in_parent: int  # index of the item holding this container in its parent (-1 at root)
    first_line: int | None = None


@dataclass
class _Item:
    line: int
    col: int
    container: _Container
    index: int
    value: _Container | None = None


@dataclass
class _Doc:
    root: _Container
    items: list[_Item] = field(default_factory=list)


#: Deepest nesting of collections accepted (sops' yaml.v3 stops at 10000; Python's recursion,
#: and ruamel's scanner, which slows down quadratically with open flow collections, much earlier).
#: A secrets file nests a few levels.
MAX_DEPTH = 200


def _too_deep() -> SopsFormatError:
    return SopsFormatError(f"the YAML file is nested deeper than {MAX_DEPTH} levels")


def _check_flow_depth(text: str) -> None:
    """Refuse more than MAX_DEPTH open ``[``/``{`` before ruamel sees them (it would take
    seconds to minutes on thousands). Brackets inside scalars count too: an encrypted file's
    values are ``ENC[...]``, balanced, so only a hostile or broken file gets near the limit."""
    depth = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep()
        elif ch in "]}" and depth:
            depth -= 1


def _compose_all(text: str) -> list[Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    _check_flow_depth(text)
    try:
        return list(YAML(typ="rt", pure=True).compose_all(text))
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise SopsFormatError(f"cannot parse the YAML file{where}: {problem}") from None
    except RecursionError:
        raise _too_deep() from None


class _Builder:
    """Turns ruamel's node graph into a tree. An alias (``*name``) is the very node its anchor
    names, so it is expanded by visiting that node again; the visits are counted, so that nested
    aliases ("billion laughs") cannot expand into billions of nodes, and an alias inside its own
    anchor (a cycle) is refused."""

    def __init__(self, text_length: int = 0) -> None:
        self.items: list[_Item] = []
        self.scalar_spans: list[tuple[int, int, int, int]] = []  # start line/col, end line/col
        # Without aliases every node is visited once, and a node takes at least a character.
        self.budget = 10_000 + 10 * text_length
        self.visits = 0
        self.open: set[int] = set()  # collection nodes being built (a cycle comes back to one)

    def scalar(self, node: Any) -> Any:
        self.scalar_spans.append(
            (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)
        )
        explicit = getattr(node.ctag, "handle", None) is not None
        if node.style is None and not explicit:
            return resolve_plain(node.value)
        if explicit and node.tag != _STR:
            tag = str(node.tag)
            if tag.startswith("tag:yaml.org,2002:") and node.style is None:
                return resolve_plain(node.value)
        return node.value

    def value(self, node: Any, parent: _Container, index: int) -> tuple[Any, _Container | None]:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        self.visits += 1
        if self.visits > self.budget:
            raise SopsFormatError(
                "the YAML file expands into too many values (aliases of aliases, a "
                "'billion laughs' file?); refusing to read it"
            )
        if isinstance(node, MappingNode | SequenceNode):
            if id(node) in self.open:
                line = node.start_mark.line + 1
                raise SopsFormatError(
                    f"the YAML file has an alias inside its own anchor (line {line}): "
                    "an endless structure"
                )
            if len(self.open) >= MAX_DEPTH:
                raise _too_deep()
            self.open.add(id(node))
            try:
                if isinstance(node, MappingNode):
                    container = _Container(Branch(), 0, parent, index)
                    self.mapping(node, container)
                else:
                    container = _Container([], 0, parent, index)
                    self.sequence(node, container)
            finally:
                self.open.discard(id(node))
            return container.obj, container
        return self.scalar(node), None

    def mapping(self, node: Any, container: _Container) -> None:
        branch = container.obj
        assert isinstance(branch, Branch)
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise SopsFormatError(
                    f"the YAML key at line {key_node.start_mark.line + 1} is not a string; "
                    "SOPS supports string keys only"
                )
            if key in seen:
                raise SopsFormatError(
                    f"mapping key {key!r} is defined twice (line {key_node.start_mark.line + 1})"
                )
            seen.add(key)
            if container.first_line is None:
                container.first_line = key_node.start_mark.line
                container.indent = key_node.start_mark.column
            item = _Item(
                key_node.start_mark.line, key_node.start_mark.column, container, len(branch)
            )
            self.items.append(item)
            value, item.value = self.value(value_node, container, len(branch))
            branch.append((key, value))

    def sequence(self, node: Any, container: _Container) -> None:
        seq = container.obj
        assert isinstance(seq, list)
        for child in node.value:
            # the dash sits two columns before the item in block style
            line, col = child.start_mark.line, child.start_mark.column
            if container.first_line is None:
                container.first_line = line
                container.indent = max(col - 2, 0) if not node.flow_style else col
            item = _Item(line, max(col - 2, 0), container, len(seq))
            self.items.append(item)
            value, item.value = self.value(child, container, len(seq))
            seq.append(value)


def _comment_lines(
    lines: list[str], spans: list[tuple[int, int, int, int]]
) -> tuple[list[tuple[int, int, str]], list[int]]:
    """Comments ``(line, column, text after #)`` outside scalars, and document marker lines."""
    protected: set[int] = set()
    stop_at: dict[int, int] = {}  # line -> column after which the line is scalar content
    last_end: dict[int, int] = {}
    for sl, sc, el, ec in spans:
        if el > sl:
            stop_at[sl] = min(stop_at.get(sl, sc), sc)
            protected.update(range(sl + 1, el if ec == 0 else el + 1))
            if ec:
                last_end[el] = max(last_end.get(el, 0), ec)
        else:
            last_end[sl] = max(last_end.get(sl, 0), ec)
    comments: list[tuple[int, int, str]] = []
    markers: list[int] = []
    for number, line in enumerate(lines):
        if number in protected or number in stop_at:
            continue
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        if line.startswith(("---", "...")) and (len(line) == 3 or line[3] in " \t"):
            markers.append(number)
            rest_from = 3
        else:
            rest_from = last_end.get(number, 0)
        if stripped.startswith("#") and len(line) - len(stripped) >= rest_from:
            col = len(line) - len(stripped)
            comments.append((number, col, line[col + 1 :].rstrip("\r")))
            continue
        m = re.search(r"(?:^|[ \t])#", line[rest_from:])
        if m:
            col = rest_from + m.end() - 1
            comments.append((number, col, line[col + 1 :].rstrip("\r")))
    return comments, markers


def _place_comments(doc: _Doc, comments: list[tuple[int, int, str]]) -> None:
    items = sorted(doc.items, key=lambda it: (it.line, it.col))
    keys = [(it.line, it.col) for it in items]
    inserts: dict[int, list[tuple[int, int, Comment]]] = {}
    owners: dict[int, _Container] = {}
    for order, (line, col, text) in enumerate(comments):
        target, position = _target(doc, items, keys, line, col)
        inserts.setdefault(id(target), []).append((position, order, Comment(text)))
        owners[id(target)] = target
    for key, pending in inserts.items():
        container = owners[key]
        old = list(container.obj)
        pending.sort(key=lambda p: (p[0], p[1]))
        new: list[Any] = []
        cursor = 0
        for position, _, comment in pending:
            new.extend(old[cursor:position])
            cursor = max(cursor, position)
            new.append((comment, None) if isinstance(container.obj, Branch) else comment)
        new.extend(old[cursor:])
        container.obj[:] = new


def _target(
    doc: _Doc, items: list[_Item], keys: list[tuple[int, int]], line: int, col: int
) -> tuple[_Container, int]:
    pos = bisect.bisect_left(keys, (line, col))
    if pos and items[pos - 1].line == line:  # a comment after an item on its line goes before it
        item = items[pos - 1]
        return item.container, item.index
    before = bisect.bisect_left(keys, (line, -1))
    if before == 0:
        return doc.root, 0
    item = items[before - 1]
    first = item.value.first_line if item.value is not None else None
    if item.value is not None and first is not None and first > line:
        return item.value, 0
    container: _Container | None = item.container
    index = item.index
    while container is not None:
        if container.indent <= col or container.parent is None:
            return container, index + 1
        index = container.index_in_parent
        container = container.parent
    return doc.root, len(doc.root.obj)


def load_yaml(text: str) -> list[Branch]:
    """Parse every document into a :class:`Branch` (top level must be a mapping)."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    builder = _Builder(len(text))
    docs: list[_Doc] = []
    starts: list[int] = []
    for node in _compose_all(text):
        root = _Container(Branch(), 0, None, -1)
        first_item = len(builder.items)
        if isinstance(node, MappingNode):
            builder.mapping(node, root)
        elif not (isinstance(node, ScalarNode) and node.value == "" and node.style is None):
            raise SopsFormatError(
                "the YAML document is not a mapping; SOPS needs a mapping at the top"
            )
        doc = _Doc(root, builder.items[first_item:])
        docs.append(doc)
        starts.append(node.start_mark.line)
    if not docs:
        docs.append(_Doc(_Container(Branch(), 0, None, -1)))
        starts.append(0)
    comments, markers = _comment_lines(text.split("\n"), builder.scalar_spans)
    # a document owns the comments from its opening marker (or the previous one's end) onwards
    bounds = [0]
    for k in range(1, len(docs)):
        candidates = [m for m in markers if starts[k - 1] < m <= starts[k]]
        bounds.append(candidates[-1] if candidates else starts[k])
    per_doc: list[list[tuple[int, int, str]]] = [[] for _ in docs]
    for comment in comments:
        k = bisect.bisect_right(bounds, comment[0]) - 1
        per_doc[max(k, 0)].append(comment)
    for doc, doc_comments in zip(docs, per_doc, strict=True):
        if doc_comments:
            _place_comments(doc, doc_comments)
    result = []
    for doc in docs:
        assert isinstance(doc.root.obj, Branch)
        result.append(doc.root.obj)
    return result
