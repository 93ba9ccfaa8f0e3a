"""``prune --then CMD``, checked before anything is planned or deleted.

The command is split as ``regkit.ops.gc.split_command`` splits it (``shlex``, no shell); its
first word must name an executable file: a path (with a ``/``), or a name found on ``PATH``.
A prune that would delete and then fail to run its garbage collection is refused up front,
in a real run and in a dry run alike (``resolve_then``).
"""

from __future__ import annotations

import os
import shutil

from regkit.errors import Param, UsageError
from regkit.ops.gc import split_command


def resolve_then(command: str) -> tuple[str, ...]:
    """The argv of ``--then`` (as written: run later with the same ``PATH`` lookup), or a
    ``UsageError`` when it is empty, badly quoted, or its first word is not an executable file
    (a path that is missing, a directory, not executable; a name not on ``PATH``)."""
    argv = split_command(command)
    program = argv[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        if not os.path.exists(program):
            problem = "does not exist"
        elif not os.path.isfile(program):
            problem = "is not an executable file"
        elif not os.access(program, os.X_OK):
            problem = "is not executable (chmod +x it)"
        else:
            return argv
        raise UsageError(
            (
                Param("then"),
                f": {program} {problem}; pass a command that exists (nothing was deleted)",
            )
        )
    if shutil.which(program) is None:
        raise UsageError(
            (
                Param("then"),
                f": {program} was not found on PATH; install it, fix its name or pass its "
                "full path (nothing was deleted)",
            )
        )
    return argv


__all__ = ["resolve_then"]
