"""Text from a registry (tags, labels, error bodies) made safe for a terminal or a log line.

A registry is not trusted to send printable text: a label holding ``\\r::error::x`` turns into
a GitHub Actions workflow command when printed in a ``run:`` step, and ESC sequences recolour
or retitle a terminal. ``escape`` replaces every control character with a visible escape:

- C0 (U+0000-U+001F, incl. TAB, LF, CR and ESC) and DEL (U+007F): ``\\t``, ``\\n``, ``\\r``,
  else ``\\xNN``;
- C1 (U+0080-U+009F): ``\\xNN``;
- the line and paragraph separators U+2028 and U+2029 (line breaks to some log viewers):
  ``\\u2028``, ``\\u2029``.

Every printer of registry text (tables, Markdown, plain lines, error messages) goes through
it; JSON output does not (``json.dumps`` escapes control characters itself and stays exact).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _replace(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: object) -> str:
    """``str(text)`` with every control character replaced by a visible escape."""
    return _UNSAFE.sub(_replace, str(text))


def is_safe(text: str) -> bool:
    """True when ``text`` holds no character ``escape`` would replace."""
    return _UNSAFE.search(text) is None


# Characters that open Markdown or HTML constructs inside a line. CommonMark lets a backslash
# escape any ASCII punctuation, so an escaped value shows literally and cannot open a link or an
# image (``[``), an HTML tag or autolink (``<``), an entity (``&``), emphasis, code, strike-through
# or a table cell. At the start of a line ``#``, ``+``, ``-``, ``=`` and ``>`` would also open a
# block (heading, list, quote), so a leading one is escaped too.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MARKDOWN_LINE_START = re.compile(r"^([#+\-=>]|[0-9]{1,9}(?=[.)](?:\s|$)))")


def _escape_line_start(match: re.Match[str]) -> str:
    text = match.group(1)
    return text + "\\" if text[0].isdigit() else "\\" + text  # "1\." and "\#"


def escape_markdown(text: object) -> str:
    """``text`` as literal Markdown on one line: punctuation escaped, line breaks as ``<br>``."""
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    value = _MARKDOWN_LINE_START.sub(_escape_line_start, value)
    return value.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>")


__all__ = ["escape", "escape_markdown", "is_safe"]
