"""``prune --then CMD``: a command after a prune that deleted something (the registry's garbage
collection, typically), and the size of the registry's storage before and after.

The command is split like a shell would (``shlex``) but run without a shell: no expansion of
anything; wrap it in ``sh -c '...'`` for pipes. Its output is passed on line by line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from regkit.errors import Param, RegkitError, UsageError


@dataclass(frozen=True, slots=True)
class ThenResult:
    command: tuple[str, ...]
    exit_code: int
    storage_before: int | None = None  # bytes of the storage's files, None when not measured
    storage_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def shrunk_bytes(self) -> int | None:
        if self.storage_before is None or self.storage_after is None:
            return None
        return self.storage_before - self.storage_after


def split_command(text: str) -> tuple[str, ...]:
    """The argv of ``--then`` (UsageError when it is empty or badly quoted)."""
    try:
        argv = tuple(shlex.split(text))
    except ValueError as err:
        raise UsageError((Param("then"), f" {text!r}: {err}")) from None
    if not argv:
        raise UsageError(
            (
                Param("then"),
                " needs a command, e.g. 'docker exec registry registry "
                "garbage-collect /etc/distribution/config.yml'",
            )
        )
    return argv


def storage_bytes(path: str | os.PathLike[str]) -> int:
    """Total size of the regular files under ``path`` (what ``du --apparent-size`` counts)."""
    root = Path(path)
    if not root.is_dir():
        raise UsageError(
            (Param("storage"), f" {root} is not a directory; pass the registry's storage root")
        )
    total = 0
    errors: list[OSError] = []
    for dirpath, _dirs, files in os.walk(root, onerror=errors.append):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue  # removed while we walked (a GC running)
            total += st.st_size
    if errors:
        err = errors[0]
        raise UsageError(
            (
                f"cannot read the storage {root}: {err.strerror or err} ({err.filename}); run "
                "where the registry's storage is readable, or without ",
                Param("storage"),
            )
        )
    return total


def run_then(
    argv: tuple[str, ...],
    *,
    echo: Callable[[str], None],
    storage: str | None = None,
    storage_before: int | None = None,
) -> ThenResult:
    """Run ``argv``, passing its output (stdout and stderr, merged) to ``echo`` line by line."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as err:
        raise RegkitError(
            (
                Param("then"),
                f": cannot run {argv[0]}: {err.strerror or err}; the prune itself is done",
            )
        ) from None
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            echo(line.rstrip("\n"))
    code = proc.wait()
    after = storage_bytes(storage) if storage is not None else None
    return ThenResult(argv, code, storage_before, after)


__all__ = ["ThenResult", "run_then", "split_command", "storage_bytes"]
