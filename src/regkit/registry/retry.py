"""One retry policy and one primitive, used by every retried operation.

``retrying(attempt, policy, what, transient=..., notify=...)`` calls ``attempt(n)`` (n = 1, 2,
...) until it returns. Another try follows when the attempt raises ``Again`` (a 503 answer, a
body that did not hash to its digest) or an exception ``transient`` accepts (a broken
connection), while tries (``policy.attempts``) and time (``policy.total``) remain, after an
exponential backoff with jitter (or the server's ``Retry-After``, capped). Each retry is
announced through ``notify`` (the transport prints it under ``-v`` or on a terminal), and the
exception that ends a retried call carries its ``Tries`` (``tries_of``), so the final error
can say how many tries it made and for how long (``with_tries``).

Users: ``Transport.request`` (and its ping), ``RegistryClient.get_blob``, the streamed blob
copy of ``regkit.ops.copy`` and the GitHub Packages REST client (``regkit.ghcr.rest``).
"""

from __future__ import annotations

import copy
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from regkit.errors import RegkitError

T = TypeVar("T")
E = TypeVar("E", bound=RegkitError)

#: Answers worth another try: the registry (or its proxy) was busy, restarting or overloaded.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_TRIES = "regkit_tries"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # total tries of one request
    base_delay: float = 0.2  # first backoff, doubled each time
    max_delay: float = 10.0  # one wait at most (also caps Retry-After)
    total: float = 120.0  # give up after this many seconds for one request

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = self.base_delay * float(2 ** (attempt - 1))
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)  # noqa: S311


@dataclass(frozen=True, slots=True)
class Tries:
    """How a retried call went: ``count`` tries over ``seconds``."""

    count: int
    seconds: float

    def __str__(self) -> str:
        return f"after {self.count} tries in {self.seconds:.1f}s"


class Again(Exception):
    """Raised by an attempt that wants another try; ``value`` is what the call returns when
    no try remains (e.g. the last 503 response), or None to raise this exception."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, value: object = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.value = value


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def retrying(
    attempt: Callable[[int], T],
    policy: RetryPolicy,
    what: str,
    *,
    transient: Callable[[BaseException], bool] = lambda _err: False,
    notify: Callable[[str], None] | None = None,
    already: Tries | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """``attempt(n)`` until it returns; see the module doc. The exception that ends a call
    that was tried more than once carries its ``Tries`` (``tries_of``). ``already``: tries
    made before, in another form (they count against the policy's attempts and time).
    ``sleep``: how a wait is taken (default ``time.sleep``; a caller's own, e.g. a test's)."""
    started = time.monotonic() - (already.seconds if already else 0.0)
    n = already.count if already else 0
    while True:
        n += 1
        try:
            return attempt(n)
        except Exception as err:
            again = isinstance(err, Again)
            elapsed = time.monotonic() - started
            if not again and not transient(err):
                _mark(err, n, elapsed)
                raise
            if n >= policy.attempts or elapsed >= policy.total:
                _mark(err, n, elapsed)
                raise
            wait = policy.delay(n, err.retry_after if isinstance(err, Again) else None)
            wait = min(wait, max(policy.total - elapsed, 0.0))
            if notify is not None:
                reason = err.reason if isinstance(err, Again) else f"failed ({type(err).__name__})"
                notify(f"{what} {reason}; try {n + 1} of {policy.attempts} in {wait:.1f}s")
            (sleep or time.sleep)(wait)


def _mark(err: BaseException, count: int, seconds: float) -> None:
    if count > 1:
        setattr(err, _TRIES, Tries(count, seconds))


def mark(target: object, tries: Tries | None) -> None:
    """Attach ``tries`` to ``target`` (e.g. the last response of a retried request)."""
    if tries is not None:
        setattr(target, _TRIES, tries)


def tries_of(target: object) -> Tries | None:
    """The ``Tries`` of a retried call that ended with ``target`` (exception or response)."""
    found = getattr(target, _TRIES, None)
    return found if isinstance(found, Tries) else None


def with_tries(err: E, tries: Tries | None) -> E:
    """``err`` with "after N tries in Xs" in its message (before its advice, after "; ")."""
    if tries is None or tries.count < 2 or " tries in " in err.message:
        return err  # a retry inside a retry: the inner count is already there
    message = err.message
    head, sep, advice = message.partition("; ")
    try:
        new = copy.copy(err)
    except TypeError:  # a subclass whose constructor wants more than the message
        return err
    new.args = (f"{head} {tries}{sep}{advice}",)
    return new


__all__ = [
    "RETRY_STATUSES",
    "Again",
    "RetryPolicy",
    "Tries",
    "mark",
    "parse_retry_after",
    "retrying",
    "tries_of",
    "with_tries",
]
