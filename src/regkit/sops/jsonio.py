"""JSON store: load in order (sops reads every number as a float64) and write like sops.

Output matches sops' ``encodeTree`` + Go ``json.Indent`` with a tab: one item per line, ``{}`` and
``[]`` for empty collections, Go string escaping (``<>&`` as ``\\u003c`` ...), trailing newline.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import Branch, Comment, Timestamp, go_json_float, go_plain_scalar


def _pairs(pairs: list[tuple[str, Any]]) -> Branch:
    return Branch(pairs)


#: Deepest nesting accepted: the tree is walked recursively later (decryption, output).
MAX_DEPTH = 200


def load_json(text: str) -> Branch:
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise SopsFormatError(
            f"cannot parse the JSON file at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise SopsFormatError(f"the JSON file is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:  # int(): a number of more than 4300 digits
        raise SopsFormatError(
            f"the JSON file has a number that cannot be read ({str(err).split(':')[0]})"
        ) from None
    if not isinstance(value, Branch):
        raise SopsFormatError("the JSON file is not an object; SOPS needs an object at the top")
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    """Refuse more than MAX_DEPTH levels of objects and arrays (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SopsFormatError(f"the JSON file is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, Branch):
            stack.extend((item, depth + 1) for _key, item in node)
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def _reject_constant(name: str) -> Any:
    raise SopsFormatError(f"the JSON file contains {name}, which is not valid JSON")


#: The characters Go's ``encoding/json`` writes with a short escape.
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def go_json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif cp < 0x20 or ch in "<>&" or cp in (0x2028, 0x2029):
            out.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_scalar(value: Any) -> str:
    plain = go_plain_scalar(value)
    if plain is not None:
        return plain
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise SopsFormatError("cannot write NaN or infinity as JSON (sops cannot either)")
        return go_json_float(value)
    if isinstance(value, Timestamp):
        return go_json_string(value.text)
    if isinstance(value, bytes):
        return go_json_string(base64.b64encode(value).decode())
    return go_json_string(str(value))


def _emit(value: Any, depth: int, out: list[str]) -> None:
    if isinstance(value, Branch):
        items = [(k, v) for k, v in value if not isinstance(k, Comment)]
        if not items:
            out.append("{}")
            return
        out.append("{")
        for index, (key, item) in enumerate(items):
            out.append("\n" + "\t" * (depth + 1) + go_json_string(str(key)) + ": ")
            _emit(item, depth + 1, out)
            if index < len(items) - 1:
                out.append(",")
        out.append("\n" + "\t" * depth + "}")
    elif isinstance(value, list):
        elements = [v for v in value if not isinstance(v, Comment)]
        if not elements:
            out.append("[]")
            return
        out.append("[")
        for index, item in enumerate(elements):
            out.append("\n" + "\t" * (depth + 1))
            _emit(item, depth + 1, out)
            if index < len(elements) - 1:
                out.append(",")
        out.append("\n" + "\t" * depth + "]")
    else:
        out.append(json_scalar(value))


def emit_json(branch: Branch) -> str:
    out: list[str] = []
    _emit(branch, 0, out)
    return "".join(out) + "\n"


def emit_json_value(value: Any) -> str:
    """A single value as sops' JSON ``EmitValue`` (no trailing newline)."""
    out: list[str] = []
    _emit(value, 0, out)
    return "".join(out)
