"""The prune backend seam: what one registry kind does, behind one protocol, chosen once.

``regkit.ops.prune.session.prune_targets`` is the one prune loop (plan every target, ask once,
carry out, gather the outcome) for every registry kind; what differs per kind sits behind
``PruneBackend``: how a repository is planned, how a plan is carried out (with its race-safe
guards), how plans and results read (text, JSON), and what the kind refuses.

A backend is chosen from the registry host, in one place: ``backend_for(host)`` tries the
modules of ``KINDS`` in order, each holding a ``BACKEND`` whose ``accepts(host)`` says whether
the host is of its kind; the distribution backend (any registry speaking the distribution API)
comes last and accepts every host. A third registry kind is one module with a ``BACKEND`` and
one line in ``KINDS`` (see docs/architecture.md). regclient's model: one ``scheme.API``,
registered per kind, chosen per reference.

Every backend plans with the same tag plan (``regkit.ops.prune.plan``); its own plans and
results may carry more (GHCR: the package versions), and show the tag plan and the tag
outcomes through ``tag_plan`` and ``tag_result``: what the adapters count, list and summarise.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from regkit.errors import Namer, cli_words

if TYPE_CHECKING:
    from regkit.ops import ConnectOptions
    from regkit.ops.prune.execute import PruneResult
    from regkit.ops.prune.plan import PrunePlan, PrunePolicy
    from regkit.ops.prune.run import Target
    from regkit.ops.prune.session import RegistryPrune
    from regkit.registry import RegistryClient

#: The registry kinds, one line each, tried in order: a module holding ``BACKEND``. The
#: distribution backend accepts every host, so it comes last.
KINDS: tuple[str, ...] = (
    "regkit.ghcr.backend",  # ghcr.io, GitHub Enterprise containers.HOST: package versions
    "regkit.ops.prune.distribution",  # every other registry: the distribution API
)


@dataclass(frozen=True, slots=True)
class PruneOptions:
    """What a prune asks beyond the policy; a backend refuses what its kind cannot do."""

    protect_dir: str | None = None  # per repository, deploy files under DIR/<name>/
    record: str | None = None  # the audit file (regkit.ops.audit)
    delete_untagged: bool = False  # GHCR: untagged versions nothing staying references
    then: bool = False  # a command to run after the prune (--then/--storage) is asked for
    github_token: str | None = None  # GHCR: the REST API's token (else the environment's)
    notify: Callable[[str], None] | None = None  # remarks (a rate-limit wait), not warnings


@dataclass(frozen=True, slots=True)
class Work:
    """One registry's share of a prune, as its backend sees it: the registry's client, what the
    backend opened for it (``state``: GHCR's REST client), the prune's options and callbacks."""

    client: RegistryClient
    state: Any
    options: PruneOptions
    warn: Callable[[str], None] | None = None  # a tag left alone, and why
    tick: Callable[[], None] | None = None  # one unit of the stage's work done


@dataclass(frozen=True, slots=True)
class Carried:
    """One registry's plans carried out."""

    results: tuple[Any, ...]
    #: repository -> platform manifests of deleted indexes, deleted after them
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    records: int = 0  # audit lines written
    error: str = ""  # why the run stopped here (a refusal for want of permission, Ctrl-C)
    interrupted: bool = False  # stopped by Ctrl-C


class PruneBackend(Protocol):
    """One registry kind's prune. Plans and results are the backend's own (each with
    ``repository``, ``to_json()``; results with ``complete``); ``tag_plan``/``tag_result`` show
    them as the shared tag plan and tag outcomes."""

    #: the kind, as docs and JSON say it ("distribution", "ghcr")
    name: str
    #: the ``regkit.api`` function that prunes this kind with its own plans and results
    api_function: str
    #: how the kind deletes, for a refusal naming ``api_function``
    deletes_through: str
    #: the registry API deletes manifests and tags (``regkit delete``); False: only a prune does
    registry_deletes: bool
    #: what an unfinished prune leaves, for its error ("the registry is consistent")
    unfinished: str
    #: the remark after a prune that removed something (garbage collection), or None
    after_note: str | None

    def accepts(self, host: str) -> bool:
        """``host`` is a registry of this kind."""
        ...

    def refuse(self, target: Target, options: PruneOptions) -> None:
        """A ``UsageError`` for what this kind cannot do (before anything is asked)."""
        ...

    def login(
        self, options: ConnectOptions, host: str, token: str | None
    ) -> tuple[ConnectOptions, tuple[str, ...]]:
        """The options to connect to ``host`` with, given the run's GitHub ``token``, and the
        secrets they add (to mask)."""
        ...

    def open(self, client: RegistryClient, options: PruneOptions) -> AbstractContextManager[Any]:
        """What the registry's plans and deletions share besides the client (a REST client),
        open for the whole prune."""
        ...

    def plan(
        self, work: Work, target: Target, policy: PrunePolicy, now: datetime
    ) -> tuple[Any, ...]:
        """One plan per repository of ``target``; nothing changes."""
        ...

    def work(self, plans: Sequence[Any]) -> int:
        """How many deletions ``plans`` make (0: nothing to do)."""
        ...

    def question(self, work: int) -> str:
        """The words of the one question before deleting ("Delete 3 tags?")."""
        ...

    def execute(self, work: Work, plans: Sequence[Any]) -> Carried:
        """Carry ``plans`` out with the kind's race guards (a tag moved since planning stays).
        Ctrl-C: ``PruneInterrupted`` (what went, what did not), or ``Carried.interrupted``."""
        ...

    def render_plans(self, registry: str, plans: Sequence[Any], words: Namer = cli_words) -> str:
        """The plans as the CLI prints them (a table per repository); a parameter named in a
        reason or a note in ``words`` (an adapter's namer; the CLI's by default)."""
        ...

    def render_results(
        self, registry: str, results: Sequence[Any], children: Mapping[str, Sequence[str]]
    ) -> str:
        """The results as the CLI prints them (a line per repository)."""
        ...

    def document(self, pruned: RegistryPrune, *, dry_run: bool) -> dict[str, Any]:
        """The ``prune -o json`` document of one registry."""
        ...

    def tag_plan(self, plan: Any) -> PrunePlan:
        """The tag plan of one of this backend's plans."""
        ...

    def tag_result(self, result: Any) -> PruneResult:
        """The tag outcomes of one of this backend's results."""
        ...

    def summary_note(
        self, plan: Any, result: Any | None, *, dry_run: bool, words: Namer = cli_words
    ) -> str:
        """The line under a repository's table in a job summary (parameters in ``words``)."""
        ...


def backend_for(host: str) -> PruneBackend:
    """The backend of the registry ``host``: the first of ``KINDS`` that accepts it."""
    for module in KINDS:
        backend: PruneBackend = importlib.import_module(module).BACKEND
        if backend.accepts(host):
            return backend
    raise LookupError(f"no prune backend accepts {host!r}")  # the last one accepts every host


__all__ = ["KINDS", "Carried", "PruneBackend", "PruneOptions", "Work", "backend_for"]
