"""regkit's logging: the ``regkit`` logger, and httpx's request lines kept for DEBUG.

``regkit.api`` logs one line per operation at INFO on the ``regkit`` logger ("prune of
HOST/REPO: 2 deleted, 3 kept"). httpx logs every request at INFO ("HTTP Request: GET ..."),
hundreds per prune; a job that turns on ``logging.basicConfig(level=logging.INFO)`` wants the
former, not the latter. So the requests regkit sends (``sending``, around each send in
``regkit.registry.transport``) have their httpx line moved down to DEBUG: shown when the
``httpx`` logger is enabled for DEBUG, dropped otherwise. Requests of other httpx users in the
same process are left alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

LOGGER = logging.getLogger("regkit")
LOGGER.addHandler(logging.NullHandler())

_SENDING: contextvars.ContextVar[bool] = contextvars.ContextVar("regkit_sending", default=False)


@contextlib.contextmanager
def sending() -> Iterator[None]:
    """Mark the requests sent in this block (this thread) as regkit's."""
    token = _SENDING.set(True)
    try:
        yield
    finally:
        _SENDING.reset(token)


class RequestsAtDebug(logging.Filter):
    """On the ``httpx`` logger: regkit's request lines become DEBUG records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _SENDING.get():
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def _install() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RequestsAtDebug) for f in httpx_logger.filters):
        httpx_logger.addFilter(RequestsAtDebug())


_install()

__all__ = ["LOGGER", "RequestsAtDebug", "sending"]
