"""Completion of repositories and tags from the registry, for argcomplete, within a budget.

A completer asks the registry only with the credentials at hand (flags are not read: nothing
may prompt or read stdin during completion) and gives up after ``BUDGET`` seconds, so a slow or
unreachable registry never stalls the shell: the answer is then just no suggestions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from regkit.reference import _looks_like_host

#: Seconds a completion may wait for the registry (REGKIT_COMPLETE_TIMEOUT overrides).
BUDGET = 0.3


def budget() -> float:
    try:
        value = float(os.environ.get("REGKIT_COMPLETE_TIMEOUT", BUDGET))
    except ValueError:
        return BUDGET
    return value if 0 < value <= 10 else BUDGET


def _within_budget(fetch: Callable[[], list[str]]) -> list[str]:
    # Imported before the clock starts: the budget is for the registry, not for imports.
    from regkit.ops import connect  # noqa: F401
    from regkit.registry import RegistryClient  # noqa: F401

    box: list[list[str]] = []

    def run() -> None:
        try:
            box.append(fetch())
        except Exception:
            box.append([])

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(budget())
    return box[0] if box else []


def _split(prefix: str) -> tuple[str | None, str, bool]:
    """(host, rest, host_typed) of what was typed so far."""
    first, slash, rest = prefix.partition("/")
    if slash and _looks_like_host(first):
        return first, rest, True
    return os.environ.get("REGKIT_REGISTRY", "").strip() or None, prefix, False


def _client(host: str) -> Any:
    from regkit.ops import ConnectOptions, connect, resolve_credentials

    options = ConnectOptions(timeout=budget(), jobs=2)
    if resolve_credentials(host, options) is None:
        raise LookupError("no credentials at hand")
    return connect(host, options)


def suggest(prefix: str, *, repositories_only: bool = False) -> list[str]:
    """Completions of ``prefix``: ``[HOST/]REPO`` from the catalog, ``[HOST/]REPO:TAG`` from
    the repository's tags."""
    host, rest, typed = _split(prefix)
    if host is None:
        return []
    lead = f"{host}/" if typed else ""
    repo, colon, tag = rest.partition(":")
    if colon and not repositories_only:

        def tags() -> list[str]:
            with _client(host) as client:
                return [f"{lead}{repo}:{t}" for t in client.tags(repo) if t.startswith(tag)]

        return _within_budget(tags)

    def repos() -> list[str]:
        with _client(host) as client:
            return [f"{lead}{r}" for r in client.catalog() if r.startswith(rest)]

    return _within_budget(repos)


def reference_completer(prefix: str, **_: Any) -> list[str]:
    return suggest(prefix)


def repository_completer(prefix: str, **_: Any) -> list[str]:
    return suggest(prefix, repositories_only=True)


def attach(action: Any, completer: Callable[..., list[str]]) -> Any:
    """``action.completer = completer`` (argcomplete reads that attribute)."""
    action.completer = completer
    return action


#: The help of a positional image reference (a missing tag is ``latest``, as in crane).
REF_HELP = "[HOST/]REPOSITORY[:TAG|@DIGEST] (tag default: latest)"


def reference_arg(p: Any, dest: str = "ref", metavar: str = "REF", help_: str = REF_HELP) -> Any:
    """A positional image reference, completed from the registry."""
    return attach(p.add_argument(dest, metavar=metavar, help=help_), reference_completer)


def repository_arg(p: Any, dest: str, metavar: str, help_: str) -> Any:
    """A positional repository, completed from the registry's catalog."""
    return attach(p.add_argument(dest, metavar=metavar, help=help_), repository_completer)


def autocomplete(parser: Any) -> None:
    """Answer argcomplete's request (``_ARGCOMPLETE`` set) and exit; hidden verbs left out."""
    from argcomplete.finders import CompletionFinder

    from regkit.cli.common import HIDDEN_VERBS

    class Finder(CompletionFinder):
        def _get_subparser_completions(self, parser: Any, cword_prefix: str) -> list[str]:
            found: list[str] = super()._get_subparser_completions(  # type: ignore[no-untyped-call]
                parser, cword_prefix
            )
            return [verb for verb in found if verb not in HIDDEN_VERBS]

    Finder()(parser, always_complete_options=False)
