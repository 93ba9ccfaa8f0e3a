"""Write a tree as ``sops -d`` writes YAML: yaml.v3's emitter with indent 4, unicode, no wrapping.

Scalar styles follow yaml.v3's ``stringv`` + ``analyze_scalar`` + ``select_scalar_style``;
comments follow sops' store (leading comments of a mapping or sequence are its head comment,
comments before an item are that item's head comment, trailing ones the foot of the last item).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from regkit.sops.tree import Branch, Comment, Timestamp, go_format_g, go_plain_scalar
from regkit.sops.yamlio import resolve_plain

_BEST_INDENT = 4
_BREAKS = "\r\n\x85\u2028\u2029"
_OLD_BOOLS = {
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
    "n", "N", "no", "No", "NO", "off", "Off", "OFF",
}  # fmt: skip
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_ESCAPES = {
    "\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}  # fmt: skip


def _printable(ch: str) -> bool:
    cp = ord(ch)
    return (
        cp == 0x0A
        or 0x20 <= cp <= 0x7E
        or 0xA0 <= cp <= 0xD7FF
        or (0xE000 <= cp <= 0xFFFD and cp != 0xFEFF)
    )


class _Analysis:
    __slots__ = ("block", "block_plain", "multiline", "single")

    def __init__(self, value: str) -> None:
        self.multiline = False
        if not value:
            self.block_plain, self.single, self.block = True, True, False
            return
        block_ind = False
        if value.startswith(("---", "...")):
            block_ind = True
        leading_space = leading_break = trailing_space = trailing_break = False
        break_space = space_break = tabs = special = line_breaks = False
        prev_space = prev_break = False
        preceded_ws = True
        last = len(value) - 1
        for i, ch in enumerate(value):
            followed_ws = i == last or value[i + 1] in " \t"
            if i == 0:
                if ch in "#,[]{}&*!|>'\"%@`":
                    block_ind = True
                elif ch in "?:":
                    block_ind = block_ind or followed_ws
                elif ch == "-" and followed_ws:
                    block_ind = True
            elif ch in ",?[]{}":
                pass
            elif ch == ":":
                block_ind = block_ind or followed_ws
            elif ch == "#" and preceded_ws:
                block_ind = True
            if ch == "\t":
                tabs = True
            elif not _printable(ch):
                special = True
            if ch == " ":
                leading_space = leading_space or i == 0
                trailing_space = trailing_space or i == last
                break_space = break_space or prev_break
                prev_space, prev_break = True, False
            elif ch in _BREAKS:
                line_breaks = True
                leading_break = leading_break or i == 0
                trailing_break = trailing_break or i == last
                space_break = space_break or prev_space
                prev_space, prev_break = False, True
            else:
                prev_space = prev_break = False
            preceded_ws = ch in " \t" or ch in _BREAKS
        self.multiline = line_breaks
        plain = single = block = True
        if leading_space or leading_break or trailing_space or trailing_break:
            plain = False
        if trailing_space:
            block = False
        if break_space:
            plain = single = False
        if space_break or tabs or special:
            plain = single = False
        if space_break or special:
            block = False
        if line_breaks:
            plain = False
        if block_ind:
            plain = False
        self.block_plain, self.single, self.block = plain, single, block


def _double_quoted(value: str) -> str:
    out = ['"']
    for ch in value:
        if not _printable(ch) or ch == "\ufeff" or ch in _BREAKS or ch in '"\\':
            code = _ESCAPES.get(ch)
            if code is not None:
                out.append("\\" + code)
            elif ord(ch) <= 0xFF:
                out.append(f"\\x{ord(ch):02X}")
            elif ord(ch) <= 0xFFFF:
                out.append(f"\\u{ord(ch):04X}")
            else:
                out.append(f"\\U{ord(ch):08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _single_quoted(value: str) -> str:
    out = ["'"]
    breaks = False
    for ch in value:
        if ch in _BREAKS:
            if not breaks and ch == "\n":
                out.append("\n")
            out.append(ch)
            breaks = True
        else:
            out.append("''" if ch == "'" else ch)
            breaks = False
    out.append("'")
    return "".join(out)


def _literal(value: str, indent: int) -> str:
    """A literal block scalar: the header and the content lines (each ending in a newline)."""
    hints = ""
    if value[0] == " " or value[0] in _BREAKS:
        hints += str(_BEST_INDENT)
    if value[-1] not in _BREAKS:
        hints += "-"
    elif len(value) == 1 or value[-2] in _BREAKS:
        hints += "+"
    out = ["|" + hints, "\n"]
    breaks = True
    for ch in value:
        if ch in _BREAKS:
            out.append(ch)
            breaks = True
        else:
            if breaks:
                out.append(" " * indent)
                breaks = False
            out.append(ch)
    if not breaks:
        out.append("\n")
    return "".join(out)


def _string(value: str, *, key: bool, indent: int) -> str:
    can_plain = isinstance(resolve_plain(value), str) and not (
        value in _OLD_BOOLS or _BASE60.match(value)
    )
    style = "literal" if "\n" in value and not key else ("plain" if can_plain else "double")
    analysis = _Analysis(value)
    if key and analysis.multiline:
        style = "double"
    if style == "plain" and (not analysis.block_plain or (not value and key)):
        style = "single"
    if style == "single" and not analysis.single:
        style = "double"
    if style == "literal" and (not analysis.block or key):
        style = "double"
    if style == "plain":
        return value
    if style == "single":
        return _single_quoted(value)
    if style == "double":
        return _double_quoted(value)
    return _literal(value, indent)


def scalar_text(value: Any, *, key: bool = False, indent: int = 0) -> str:
    """The YAML text of a scalar; a literal block ends with a newline, others do not."""
    plain = go_plain_scalar(value)
    if plain is not None:
        return plain
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return go_format_g(value)
    if isinstance(value, Timestamp):
        return value.text
    if isinstance(value, bytes):
        return "!!binary " + base64.b64encode(value).decode()
    if value == "<<" and not key:
        return "!!merge <<"  # yaml.v3 re-resolves the string as a merge key and tags it
    return _string(str(value), key=key, indent=indent)


def _child_indent(indent: int) -> int:
    return _BEST_INDENT * ((indent + _BEST_INDENT) // _BEST_INDENT)


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def comments(self, comments: list[str], indent: int) -> None:
        for text in comments:
            self.parts.append(" " * indent + "#" + text + "\n")

    def value_after(self, value: Any, indent_for_children: int, block_indent: int) -> None:
        """Write ``value`` after ``key:`` or ``-`` (the line is open)."""
        if isinstance(value, Branch) and any(not isinstance(k, Comment) for k, _ in value):
            self.parts.append("\n")
            self.mapping(value, indent_for_children, None)
        elif isinstance(value, list) and any(not isinstance(v, Comment) for v in value):
            self.parts.append("\n")
            self.sequence(value, indent_for_children, None)
        elif isinstance(value, Branch):
            self.parts.append(" {}\n")
            self.comments([k.text for k, _ in value], indent_for_children)
        elif isinstance(value, list):
            self.parts.append(" []\n")
            self.comments([v.text for v in value], indent_for_children)
        else:
            text = scalar_text(value, indent=block_indent)
            self.parts.append(" " + text + ("" if text.endswith("\n") else "\n"))

    def _lines(
        self,
        entries: list[Any],
        comment: Callable[[Any], Comment | None],
        indent: int,
        first_prefix: str | None,
    ) -> Iterator[tuple[str, Any]]:
        """Each entry of a mapping or a sequence that is not a comment (``comment(entry)`` is
        None), with the start of its line: ``first_prefix`` for the first when given, else the
        indent. The comments before an entry are written before it is yielded, those after the
        last entry at the end."""
        pending: list[str] = []
        first = True
        for entry in entries:
            note = comment(entry)
            if note is not None:
                pending.append(note.text)
                continue
            self.comments(pending, indent)
            pending = []
            yield (first_prefix if first and first_prefix is not None else " " * indent), entry
            first = False
        self.comments(pending, indent)

    def mapping(self, branch: Branch, indent: int, first_prefix: str | None) -> None:
        for prefix, (key, value) in self._lines(branch, _key_comment, indent, first_prefix):
            self.parts.append(prefix + scalar_text(key, key=True) + ":")
            self.value_after(value, _child_indent(indent), _child_indent(indent))

    def sequence(self, items: list[Any], dash: int, first_prefix: str | None) -> None:
        for prefix, item in self._lines(items, _item_comment, dash, first_prefix):
            if isinstance(item, Branch) and any(not isinstance(k, Comment) for k, _ in item):
                lead = [k.text for k, _ in item[: _first_key(item)]]
                self.comments(lead, dash + 2)
                self.mapping(Branch(item[_first_key(item) :]), dash + 2, prefix + "- ")
            elif isinstance(item, list) and any(not isinstance(v, Comment) for v in item):
                self.sequence(item, dash + 2, prefix + "- ")
            else:
                self.parts.append(prefix + "-")
                self.value_after(item, dash + 2, dash + 2)


def _key_comment(item: tuple[Any, Any]) -> Comment | None:
    """The comment a mapping item stands for (its key), or None for a key and its value."""
    return item[0] if isinstance(item[0], Comment) else None


def _item_comment(item: Any) -> Comment | None:
    """The comment a sequence item is, or None for a value."""
    return item if isinstance(item, Comment) else None


def _first_key(branch: Branch) -> int:
    for index, (key, _) in enumerate(branch):
        if not isinstance(key, Comment):
            return index
    return len(branch)


def emit_yaml(branches: list[Branch]) -> str:
    writer = _Writer()
    for number, branch in enumerate(branches):
        if number:
            writer.parts.append("---\n")
        if any(not isinstance(k, Comment) for k, _ in branch):
            writer.mapping(branch, 0, None)
        else:
            writer.comments([k.text for k, _ in branch], 0)
            writer.parts.append("{}\n")
    return "".join(writer.parts)


def emit_yaml_value(value: Any) -> str:
    """A single value as sops' ``EmitValue`` for YAML (used by ``--extract`` on a subtree)."""
    if isinstance(value, Branch):
        return emit_yaml([value])
    writer = _Writer()
    if isinstance(value, list):
        writer.sequence(value, 0, None)
        return "".join(writer.parts)
    text = scalar_text(value, indent=_BEST_INDENT)
    return text if text.endswith("\n") else text + "\n"
