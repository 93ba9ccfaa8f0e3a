"""The defaults every layer shares, written once.

``regkit.ops.ConnectOptions`` (the CLI, the actions and the API), ``RegistryClient``,
``Transport`` and the GitHub packages client all read them from here, so a change of a default
is one line.
"""

from __future__ import annotations

#: Requests in flight at once per registry (``--jobs``, input ``jobs``).
JOBS = 16

#: Seconds a request may take to connect or between two reads (``--timeout``).
TIMEOUT = 30.0

__all__ = ["JOBS", "TIMEOUT"]
