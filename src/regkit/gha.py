"""The GitHub Actions contract: inputs, outputs, environment, masks, annotations, job summary.

An action step hands regkit its inputs as ``INPUT_<NAME>`` environment variables (GitHub's rule:
the input name upper-cased, spaces turned into ``_``, hyphens kept: ``sops-age-key`` arrives as
``INPUT_SOPS-AGE-KEY``) and reads results back from files named by ``GITHUB_OUTPUT``,
``GITHUB_ENV``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY``. Everything else is a workflow
command printed on stdout (``::add-mask::``, ``::group::``, ``::error::``).

The commands come from the ``actions-toolkit`` package (``actions_toolkit.command`` and
``actions_toolkit.file_command``), wrapped where it falls short:

- ``actions_toolkit.core`` is not imported: it imports ``requests`` (for OIDC tokens) and costs
  about 200 ms at start-up. Its functions are one-liners over the two modules used here.
- Its annotation helpers send every property, also the unset ones (``file=,line=,...``); here
  only the given ones are sent.
- Without ``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_PATH`` it falls back to ``::set-output``,
  ``::set-env`` and ``::add-path``, commands GitHub has disabled; here nothing is written then
  (a local run), except ``os.environ`` for env and path.
- It accepts any output/env name and any path: a name holding ``<<`` or a newline, or a path
  holding a newline, would write a second entry into the file. Names are checked and a path with
  a line break is refused.
- It writes commands to ``sys.stdout`` without flushing. When stdout is a pipe (always on a
  runner) Python buffers it, so an ``::add-mask::`` could reach the log after a secret printed on
  the unbuffered stderr. Every command here is flushed at once.
- It masks a multi-line secret as one string; the runner matches masks line by line, so each
  line is masked as well.
- Its input readers read only ``os.environ`` and raise bare ``Exception``/``TypeError``; here
  ``Inputs`` reads any mapping and raises ``UsageError`` naming the input.

Values are escaped by the toolkit's ``escape_data``/``escape_property`` (``%``, CR, LF; and ``:``
and ``,`` in properties), so data in a message cannot end the command line and start another.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypedDict, Unpack, overload

from actions_toolkit.command import issue_command
from actions_toolkit.file_command import prepare_key_value_message

from regkit.errors import UsageError
from regkit.textsafe import escape_markdown

__all__ = [
    "SUMMARY_LIMIT",
    "SUMMARY_ROWS",
    "Inputs",
    "Place",
    "Summary",
    "add_path",
    "cap_rows",
    "debug",
    "error",
    "escape_markdown",
    "export_variable",
    "group",
    "info",
    "input_env_name",
    "markdown_table",
    "mask",
    "notice",
    "set_output",
    "summary",
    "temp_file",
    "warning",
]

_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
# An output name ends up in expressions as ``steps.<id>.outputs.<name>``: letters, digits, ``_``
# and ``-``. Anything else (``<<``, ``=``, a newline) could forge a second file entry.
_OUTPUT_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIST_SPLIT_RE = re.compile(r"[\n,]")


def input_env_name(name: str) -> str:
    """The environment variable that carries input ``name`` (``INPUT_SOPS-AGE-KEY``)."""
    return "INPUT_" + name.replace(" ", "_").upper()


class Inputs:
    """Typed readers of an action's inputs. An empty input counts as not given.

    ``environ`` defaults to ``os.environ``, read at each call. Every reader trims whitespace, as
    ``@actions/core`` does, and raises ``UsageError`` naming the input when a value is wrong.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _raw(self, name: str) -> str:
        return self.environ.get(input_env_name(name), "").strip()

    @overload
    def get(self, name: str, *, required: bool = ..., default: str) -> str: ...
    @overload
    def get(self, name: str, required: bool = ..., default: None = None) -> str | None: ...
    def get(self, name: str, required: bool = False, default: str | None = None) -> str | None:
        value = self._raw(name)
        if value:
            return value
        if required:
            raise UsageError(f"input '{name}' is required: set it with 'with: {name}: ...'")
        return default

    def require(self, name: str) -> str:
        """The value of a required input (``get(name, required=True)`` with a ``str`` type)."""
        value = self.get(name, required=True)
        assert value is not None
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        """``true|True|TRUE|false|False|FALSE`` (YAML 1.2 core schema); empty gives ``default``."""
        value = self._raw(name)
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise UsageError(
            f"input '{name}' must be true or false (YAML 1.2 core schema: true, True, TRUE, "
            f"false, False, FALSE), got {_show(value)}"
        )

    @overload
    def get_int(
        self, name: str, default: int, *, minimum: int | None = ..., maximum: int | None = ...
    ) -> int: ...
    @overload
    def get_int(
        self,
        name: str,
        default: None = None,
        *,
        minimum: int | None = ...,
        maximum: int | None = ...,
    ) -> int | None: ...
    def get_int(
        self,
        name: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """A whole number in decimal, optionally bounded; empty gives ``default``."""
        value = self._raw(name)
        if not value:
            return default
        if not re.fullmatch(r"[+-]?[0-9]+", value):
            raise UsageError(f"input '{name}' must be a whole number, got {_show(value)}")
        if len(value.lstrip("+-")) > 18:  # int() refuses 4300 digits and more with ValueError
            raise UsageError(f"input '{name}' is out of range, got {_show(value)}")
        number = int(value)
        if minimum is not None and number < minimum:
            raise UsageError(f"input '{name}' must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise UsageError(f"input '{name}' must be at most {maximum}, got {number}")
        return number

    def get_list(self, name: str) -> list[str]:
        """Items separated by newlines or commas, each trimmed, empty ones dropped."""
        return [item.strip() for item in _LIST_SPLIT_RE.split(self._raw(name)) if item.strip()]

    @overload
    def get_choice(self, name: str, choices: Sequence[str], default: str) -> str: ...
    @overload
    def get_choice(self, name: str, choices: Sequence[str], default: None = None) -> str | None: ...
    def get_choice(
        self, name: str, choices: Sequence[str], default: str | None = None
    ) -> str | None:
        """One of ``choices`` (exact, case-sensitive); empty gives ``default``."""
        value = self._raw(name)
        if not value:
            return default
        if value not in choices:
            raise UsageError(
                f"input '{name}' must be one of {', '.join(choices)}, got {_show(value)}"
            )
        return value

    def get_secret(self, name: str, required: bool = False) -> str | None:
        """Read an input and mask it (each line too) before anything else can print it."""
        raw = self.environ.get(input_env_name(name), "")
        mask(raw)
        return self.get(name, required=required)


def _show(value: str, limit: int = 60) -> str:
    """A user's value quoted for a message: one line, shortened."""
    text = value if len(value) <= limit else value[: limit - 3] + "..."
    return repr(text)


# --- workflow commands on stdout ----------------------------------------------------------------


def _command(name: str, properties: Mapping[str, object], message: str) -> None:
    """Print ``::name k=v,...::message`` (escaped by the toolkit) and flush at once."""
    props = {key: str(value) for key, value in properties.items() if value is not None}
    sys.stdout.flush()  # what was printed before stays before
    issue_command(name, props, message)
    sys.stdout.flush()


def mask(secret: str | None) -> None:
    """Register ``secret`` with the runner's log masker: the whole value and each of its lines.

    The runner matches masks against single log lines, so a multi-line secret (an age key file,
    a PEM key) is only hidden when every line is registered on its own. Empty values are skipped
    (an empty mask would be meaningless and draws a runner warning).
    """
    if not secret:
        return
    parts = [secret]
    for line in secret.splitlines():
        for candidate in (line, line.strip()):
            if candidate.strip() and candidate not in parts:
                parts.append(candidate)
    for part in parts:
        if part.strip():
            _command("add-mask", {}, part)


class Place(TypedDict, total=False):
    """Where an annotation points, each part optional: ``file``, ``line``, ``end_line``,
    ``col``, ``end_column``."""

    file: str
    line: int
    end_line: int
    col: int
    end_column: int


#: Each part of a ``Place`` and its workflow-command property, in the toolkit's order.
_PLACE_PROPERTIES = {
    "file": "file",
    "line": "line",
    "end_line": "endLine",
    "col": "col",
    "end_column": "endColumn",
}


def _annotation(kind: str, message: str, title: str | None, place: Place) -> None:
    unknown = sorted(set(place) - _PLACE_PROPERTIES.keys())
    if unknown:
        raise TypeError(f"{kind}() got unexpected keyword arguments: {', '.join(unknown)}")
    properties: dict[str, object] = {"title": title}
    for key, name in _PLACE_PROPERTIES.items():
        properties[name] = place.get(key)
    _command(kind, properties, message)


def error(message: str, title: str | None = None, **place: Unpack[Place]) -> None:
    """An error annotation: ``::error title=...::message``."""
    _annotation("error", message, title, place)


def warning(message: str, title: str | None = None, **place: Unpack[Place]) -> None:
    """A warning annotation: ``::warning title=...::message``."""
    _annotation("warning", message, title, place)


def notice(message: str, title: str | None = None, **place: Unpack[Place]) -> None:
    """A notice annotation: ``::notice title=...::message``."""
    _annotation("notice", message, title, place)


def debug(message: str) -> None:
    """A debug line, shown when the run has step debug logging on."""
    _command("debug", {}, message)


# What the runner reads as a workflow command on a log line (stdout or stderr): a line that
# starts with ``::`` after leading whitespace (v2), or holds ``##[`` anywhere (v1). The runner
# splits lines at CR, LF and CRLF.
_COMMAND_LIKE = re.compile(r"^\s*::|##\[")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def info(message: str) -> None:
    """A plain log line on stdout (flushed, so it keeps its place among commands).

    The text is data, never a command: when a line of it looks like a workflow command
    (``::set-output ...``, ``##[add-mask]...``, from a tag, a pattern or a file name), the
    runner's command processing is paused around it with ``::stop-commands::`` and a random
    token, as GitHub documents for printing untrusted text.
    """
    sys.stdout.flush()
    if any(_COMMAND_LIKE.search(line) for line in _LINE_BREAK.split(message)):
        token = secrets.token_hex(16)
        sys.stdout.write(f"::stop-commands::{token}\n{message}\n::{token}::\n")
    else:
        sys.stdout.write(message + "\n")
    sys.stdout.flush()


@contextmanager
def group(title: str) -> Iterator[None]:
    """A foldable section of the log: ``::group::title`` ... ``::endgroup::``."""
    _command("group", {}, title)
    try:
        yield
    finally:
        _command("endgroup", {}, "")


# --- file commands -----------------------------------------------------------------------------


def _ends_with(path: str, text: str) -> bool:
    data = text.encode()
    try:
        with open(path, "rb") as handle:
            handle.seek(max(os.path.getsize(path) - len(data), 0))
            return handle.read() == data
    except OSError:
        return False


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _to_value(value: object) -> str:
    """Outputs are strings: ``str`` as is, ``bool`` as ``true``/``false``, the rest as JSON."""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, separators=(",", ":"))


def set_output(name: str, value: object) -> None:
    """Append ``name`` to ``GITHUB_OUTPUT`` in heredoc form with a random delimiter.

    The toolkit's ``prepare_key_value_message`` makes ``name<<ghadelimiter_<uuid4>`` ... and
    refuses a value that contains the delimiter, so a value (any bytes, newlines included)
    cannot close the block early and forge another output. Without ``GITHUB_OUTPUT`` (a local
    run) nothing is written.
    """
    if not _OUTPUT_NAME_RE.fullmatch(name):
        raise ValueError(f"invalid output name {name!r}")
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        _append(path, prepare_key_value_message(name, _to_value(value)) + "\n")


def export_variable(name: str, value: str) -> None:
    """Set ``name`` for this process and, through ``GITHUB_ENV`` (heredoc), for later steps."""
    if not _ENV_NAME_RE.fullmatch(name):
        raise ValueError(f"invalid environment variable name {name!r}")
    os.environ[name] = value
    path = os.environ.get("GITHUB_ENV")
    if path:
        _append(path, prepare_key_value_message(name, value) + "\n")


def add_path(directory: str) -> None:
    """Prepend ``directory`` to ``PATH`` for this process and, through ``GITHUB_PATH``, later steps.

    ``GITHUB_PATH`` has one directory per line, so a line break would add a second entry: refused.
    """
    if not directory or "\n" in directory or "\r" in directory:
        raise UsageError(
            f"cannot add {_show(directory)} to PATH: it is empty or holds a line break"
        )
    path = os.environ.get("GITHUB_PATH")
    if path:
        _append(path, directory + "\n")
    os.environ["PATH"] = directory + os.pathsep + os.environ.get("PATH", "")


# --- job summary -------------------------------------------------------------------------------

# escape_markdown (Markdown made inert) lives in regkit.textsafe, shared with the CLI's
# -o markdown; imported above.


def markdown_table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; every cell is escaped (``|`` and line breaks too)."""
    width = len(headers)
    if width == 0:
        raise ValueError("a table needs at least one column")
    lines = [
        "| " + " | ".join(escape_markdown(h) for h in headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    for row in rows:
        if len(row) != width:
            raise ValueError(f"table row has {len(row)} cells, expected {width}")
        lines.append("| " + " | ".join(escape_markdown(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


# The runner drops a step's whole summary when its file is larger than 1 MiB (an error
# annotation "$GITHUB_STEP_SUMMARY upload aborted ..."). Rows are capped by the actions
# (SUMMARY_ROWS) and every write is checked against the limit, less room for the closing note.
SUMMARY_LIMIT = 1024 * 1024
SUMMARY_ROWS = 1000
_SUMMARY_RESERVE = 2048
TRUNCATED_NOTE = (
    "*The rest of this summary is left out: the runner drops a step summary larger than 1 MiB. "
    "The full data is in the JSON file the step names in its outputs.*\n\n"
)


def cap_rows(rows: Sequence[Sequence[object]], limit: int) -> tuple[list[Sequence[object]], int]:
    """The first ``limit`` rows (at least none) and how many were left out."""
    shown = list(rows[: max(limit, 0)])
    return shown, len(rows) - len(shown)


class Summary:
    """Writes Markdown to the job summary (``GITHUB_STEP_SUMMARY``), appending as it goes.

    Each method appends at once, so a step that fails half-way still leaves what it had
    reported. Without ``GITHUB_STEP_SUMMARY`` (or an explicit ``path``) nothing is written.
    Text passed to ``heading``, ``text`` and ``table`` is escaped; ``raw`` is not. The file never
    grows past ``SUMMARY_LIMIT``: a write that would pass it is replaced by one note.
    """

    def __init__(self, path: str | None = None) -> None:
        self._path = path

    @property
    def path(self) -> str | None:
        return self._path or os.environ.get("GITHUB_STEP_SUMMARY") or None

    def raw(self, markdown: str) -> Summary:
        path = self.path
        if not path:
            return self
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
        if size + len(markdown.encode()) > SUMMARY_LIMIT - _SUMMARY_RESERVE:
            if not _ends_with(path, TRUNCATED_NOTE):
                _append(path, TRUNCATED_NOTE)
            return self
        _append(path, markdown)
        return self

    def heading(self, text: str, level: int = 2) -> Summary:
        if not 1 <= level <= 6:
            raise ValueError("heading level must be 1 to 6")
        return self.raw(f"{'#' * level} {escape_markdown(text)}\n\n")

    def text(self, paragraph: str) -> Summary:
        return self.raw(escape_markdown(paragraph) + "\n\n")

    def table(self, headers: Sequence[object], rows: Iterable[Sequence[object]]) -> Summary:
        return self.raw(markdown_table(headers, rows) + "\n")

    def code(self, text: str, language: str = "") -> Summary:
        """A fenced code block, the fence longer than any run of backticks in ``text``."""
        longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        lang = re.sub(r"[^A-Za-z0-9_+-]", "", language)
        body = text if text.endswith("\n") else text + "\n"
        return self.raw(f"{fence}{lang}\n{body}{fence}\n\n")


summary = Summary()


def temp_file(prefix: str, suffix: str, text: str) -> str:
    """Write ``text`` to a new file that later steps of the job can read (an output names it)
    and return its path as those steps see it (see ``temp_file_paths``)."""
    return temp_file_paths(prefix, suffix, text)[1]


def temp_file_paths(prefix: str, suffix: str, text: str) -> tuple[str, str]:
    """Write ``text`` to a new file (mode 0600) that later steps of the job can read; return
    (its path here, its path as later steps see it).

    On the runner: under ``RUNNER_TEMP`` (emptied when the job ends), both paths the same.
    Inside a Docker action: under ``/github/home`` (the runner's
    ``<RUNNER_TEMP>/_github_home``), the second path being the host's. Elsewhere: the system
    temp directory.
    """
    import tempfile

    from regkit.dockerpaths import detect_docker_config_paths

    docker = detect_docker_config_paths()
    if docker is not None:
        directory: str | None = str(docker.container_dir.parent)
    else:
        directory = os.environ.get("RUNNER_TEMP") or None
    if directory:
        os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    if docker is not None:
        return path, str(docker.host_dir.parent / os.path.basename(path))
    return path, path
