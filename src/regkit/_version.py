"""regkit's version: the installed distribution's metadata.

The build takes the version from the release tag (setuptools-scm, ``pyproject.toml``), so the
metadata is the one place it is written down. It is read on first use, not when ``regkit`` is
imported, and without ``importlib.metadata`` when it can be: that module's imports (email,
zipfile, csv, ...) cost 30-50 ms, more than the rest of ``regkit version``. The fast path reads
the ``Version:`` header of ``regkit-*.dist-info/METADATA`` on ``sys.path`` in import order, as
``importlib.metadata`` finds it; anything else (an egg, a zip) goes to ``importlib.metadata``.
"""

from __future__ import annotations

import functools
import os
import sys

#: What a source tree that was never installed reports (PEP 440: version 0, local "unknown").
UNKNOWN = "0+unknown"


def _from_dist_info(entry: str) -> str | None:
    """The ``Version:`` of a ``regkit-*.dist-info`` directly in the ``sys.path`` entry."""
    try:
        names = os.listdir(entry or ".")
    except OSError:
        return None
    for name in sorted(names):
        if not (name.lower().startswith("regkit-") and name.endswith(".dist-info")):
            continue
        try:
            with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        break  # the headers end at the first blank line
                    key, _, value = line.partition(":")
                    if key.strip().lower() == "version" and value.strip():
                        return value.strip()
        except OSError:
            continue
    return None


@functools.cache
def version() -> str:
    """The version of the installed ``regkit`` distribution, or ``UNKNOWN``."""
    for entry in sys.path:
        found = _from_dist_info(entry)
        if found:
            return found
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("regkit")
    except PackageNotFoundError:
        return UNKNOWN
