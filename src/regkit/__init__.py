"""regkit: operate a self-hosted Docker registry from GitHub Actions and a shell.

The Python API is ``regkit.api``; everything in its ``__all__`` is also reachable from the
package root (``regkit.connect``, ``regkit.prune``, ...), imported on first use so that
``regkit --version`` stays fast.
"""

from __future__ import annotations

import typing as _typing

from regkit.errors import RegkitError as RegkitError

if _typing.TYPE_CHECKING:
    from regkit.api import *  # noqa: F403  (the names of regkit.api.__all__, for type checkers)

    #: The installed distribution's version (from the release tag), read on first use.
    __version__: str


def __getattr__(name: str) -> object:
    """``regkit.api``'s public names (and ``__all__``), loaded on first use. A submodule
    (``regkit.cli``) is left to the import system, so importing one never loads the API."""
    import importlib.util

    if name == "__version__":
        from regkit._version import version

        return version()
    if name.startswith("__") and name != "__all__":
        raise AttributeError(f"module 'regkit' has no attribute {name!r}")
    if name != "__all__" and importlib.util.find_spec(f"regkit.{name}") is not None:
        raise AttributeError(f"module 'regkit' has no attribute {name!r}")  # a submodule
    from regkit import api

    if name == "__all__":
        return ["RegkitError", "__version__", *api.__all__]
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'regkit' has no attribute {name!r}")
