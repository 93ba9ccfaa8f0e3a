"""Output shared by every verb that prints data: ``-o table|json|markdown``, tables that fit the
terminal, the empty-result note, and writing to a stdout that may be full or closed."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from regkit.errors import RegkitError
from regkit.textsafe import escape, escape_markdown

if TYPE_CHECKING:
    import logging

FORMATS = ("table", "json", "markdown")
ELLIPSIS = "…"


class OutputError(RegkitError):
    """Standard output could not be written (a full disk, a closed pipe's sibling errors)."""


def add_output(p: argparse.ArgumentParser, *, trunc: bool = True) -> None:
    """``-o/--output table|json|markdown``; ``--json`` and ``--format`` are aliases."""
    g = p.add_argument_group("output")
    g.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default="table",
        dest="output",
        help="output format (default: table); JSON keys are snake_case, see the schemas",
    )
    g.add_argument(
        "--json",
        action="store_const",
        const="json",
        dest="output",
        help="same as -o json",
    )
    g.add_argument("--format", choices=FORMATS, dest="output", help="same as -o")
    if trunc:
        g.add_argument(
            "--no-trunc",
            action="store_true",
            help="never cut a column to fit the terminal; digests in full",
        )


def write(data: bytes | str) -> None:
    """Write to stdout now; a stdout that cannot take it is one error line, not a traceback."""
    out = sys.stdout.buffer
    try:
        out.write(data.encode() if isinstance(data, str) else data)
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise _unwritable(err) from None


def flush() -> None:
    """What print() left in stdout's buffer goes now, so a full disk is one error line."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise _unwritable(err) from None


def _unwritable(err: OSError) -> OutputError:
    detach_stdout()
    return OutputError(
        f"cannot write to standard output ({err.strerror or err}); "
        "check the disk or the file it is redirected to"
    )


def detach_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's final flush of stdout cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def write_json(document: Any) -> None:
    import json  # here: `regkit version` and the verbs without JSON need not load it

    write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def note(message: str, args: argparse.Namespace) -> None:
    """A remark for the person at the terminal, on stderr (never in the data); not with
    ``--quiet`` or ``REGKIT_QUIET`` (``quiet``)."""
    if quiet(args):
        return
    print(f"regkit: {message}", file=sys.stderr)


def quiet(args: argparse.Namespace) -> bool:
    """No notes, no progress line, no retry notices: ``--quiet`` given to this command, or
    ``REGKIT_QUIET`` set by the user (the CLI never sets it: the flag is passed as a value)."""
    return bool(getattr(args, "quiet", False)) or bool(os.environ.get("REGKIT_QUIET"))


def _warnings_on_stderr() -> logging.Handler:
    """The operations' warning records as ``regkit: warning: ...`` lines on (today's) stderr."""
    import logging

    class WarningsOnStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with contextlib.suppress(OSError, ValueError):  # a closed stderr: nothing to tell it
                print(f"regkit: warning: {escape(record.getMessage())}", file=sys.stderr)

    return WarningsOnStderr(logging.WARNING)


@contextlib.contextmanager
def warnings_on_stderr() -> Iterator[None]:
    """For one command: what ``regkit.ops`` logs at WARNING (``--insecure`` to a remote host)
    is printed on stderr, as the CLI words its warnings; the operations themselves print
    nothing (an API user's logging gets the records). logging is imported here, not with this
    module: a command that reaches no registry (``regkit version``) goes without both."""
    import logging

    handler = _warnings_on_stderr()
    logger = logging.getLogger("regkit.ops")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def terminal_width(args: argparse.Namespace) -> int | None:
    """Columns to fit a table in: the terminal's when stdout is one, else no limit."""
    if getattr(args, "no_trunc", False) or not sys.stdout.isatty():
        return None
    import shutil  # here: only a table on a terminal needs it

    return shutil.get_terminal_size((100, 24)).columns


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, the last one ``…`` when it was cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def one_line(text: str) -> str:
    """Registry text for one cell: every control character escaped (``regkit.textsafe``), so
    a line break or an ESC sequence in a label cannot break the table or the terminal."""
    return escape(text)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None,
    shrink: int = -1,
    indent: str = "",
) -> list[str]:
    """Aligned columns; with ``width``, the ``shrink`` column (default the last) is cut with
    ``…`` so each line fits, and a line that still does not fit is cut at its end."""
    all_rows = [list(headers), *[[one_line(c) for c in r] for r in rows]] if headers else []
    if not headers:
        all_rows = [[one_line(c) for c in r] for r in rows]
    if not all_rows:
        return []
    n = len(all_rows[0])
    widths = [max(len(r[i]) for r in all_rows) for i in range(n)]
    shrink %= n
    if width is not None:
        others = sum(w for i, w in enumerate(widths) if i != shrink) + 2 * (n - 1) + len(indent)
        room = width - others
        minimum = min(widths[shrink], max(len(all_rows[0][shrink]), 8))
        widths[shrink] = max(minimum, min(widths[shrink], room))
    out = []
    for r in all_rows:
        cells = [cut(c, widths[i]) if i == shrink else c for i, c in enumerate(r)]
        padded = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        line = (indent + "  ".join([*padded, cells[-1]])).rstrip()
        out.append(cut(line, width) if width is not None else line)
    return out


def markdown_cell(text: str) -> str:
    """Registry text for one Markdown cell: control characters escaped (``one_line``), then
    Markdown made inert as the actions' job summary does (``textsafe.escape_markdown``), so
    ``regkit ... -o markdown >> $GITHUB_STEP_SUMMARY`` shows a label such as
    ``[x](https://evil.example)`` or ``<img ...>`` literally."""
    return escape_markdown(one_line(text))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(markdown_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(markdown_cell(c) for c in r) + " |" for r in rows]
    return out


def short_digest(digest: str, args: argparse.Namespace | None = None) -> str:
    """``sha256:`` and 12 hex digits in a table; in full with ``--no-trunc``."""
    if args is not None and getattr(args, "no_trunc", False):
        return digest
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"


def human_size(size: int | None) -> str:
    """``1.5 MiB``; ``-`` when unknown (the overview's SIZE column, shared by every table)."""
    from regkit.ops.overview import render_size

    return render_size(size)


def confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on stderr and read the answer from stdin: yes only for y/yes.
    Callers check first that stdin is a terminal (or that --yes was given)."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
