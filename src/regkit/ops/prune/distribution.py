"""The distribution prune backend: any registry speaking the distribution API (``registry:3``,
2.8, go-containerregistry's registry). Plans are ``PrunePlan``, results ``PruneResult``;
tags go by manifest DELETE, or alone by a throw-away manifest (``regkit.ops.prune.execute``),
with audit lines and the platform manifests of deleted indexes (``regkit.ops.audit``)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from regkit.errors import Namer, Param, UsageError, cli_words
from regkit.ops.prune import render
from regkit.ops.prune.backend import Carried, PruneOptions, Work
from regkit.ops.prune.execute import PruneResult
from regkit.ops.prune.plan import PrunePlan, PrunePolicy

if TYPE_CHECKING:
    from regkit.ops import ConnectOptions
    from regkit.ops.prune.run import Target
    from regkit.ops.prune.session import RegistryPrune
    from regkit.registry import RegistryClient


class DistributionBackend:
    name = "distribution"
    api_function = "prune"
    deletes_through = "deletes through the registry API"
    registry_deletes = True
    unfinished = "the registry is consistent"
    after_note: str | None = render.GC_GUIDANCE

    def accepts(self, host: str) -> bool:
        return True  # the last of KINDS: every registry that is no other kind

    def refuse(self, target: Target, options: PruneOptions) -> None:
        if options.delete_untagged:
            raise UsageError(
                (
                    Param("delete-untagged"),
                    " is for GHCR (ghcr.io); on distribution, untagged manifests go with "
                    "'registry garbage-collect --delete-untagged' (registry:3 only)",
                )
            )

    def login(
        self, options: ConnectOptions, host: str, token: str | None
    ) -> tuple[ConnectOptions, tuple[str, ...]]:
        return options, ()

    def open(self, client: RegistryClient, options: PruneOptions) -> AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def plan(
        self, work: Work, target: Target, policy: PrunePolicy, now: datetime
    ) -> tuple[PrunePlan, ...]:
        from regkit.ops.prune.run import plan_target

        protect_dir = work.options.protect_dir
        return tuple(
            plan_target(work.client, target, policy, now, tick=work.tick, protect_dir=protect_dir)
        )

    def work(self, plans: Sequence[PrunePlan]) -> int:
        # an image's referrers go with it (no question of their own); orphans alone are work
        return sum(len(p.removed) or len(p.referrer_digests) for p in plans)

    def question(self, work: int) -> str:
        return f"Delete {render.plural(work, 'tag')}?"

    def execute(self, work: Work, plans: Sequence[PrunePlan]) -> Carried:
        from regkit.ops.audit import execute_recorded
        from regkit.ops.prune.children import split_referrers

        record = work.options.record
        done = execute_recorded(work.client, plans, record=record, warn=work.warn, tick=work.tick)
        by_repo = {p.repository: p for p in plans}
        results: list[PruneResult] = []
        children: dict[str, tuple[str, ...]] = {}
        for done_result in done.results:
            repo = done_result.repository
            result, after = done_result, done.children.get(repo, ())
            if repo in by_repo:
                result, after = split_referrers(by_repo[repo], done_result, after)
            results.append(result)
            if after:
                children[repo] = after
        return Carried(tuple(results), children, done.records)

    def render_plans(
        self, registry: str, plans: Sequence[PrunePlan], words: Namer = cli_words
    ) -> str:
        return render.render_plans(registry, plans, words)

    def render_results(
        self,
        registry: str,
        results: Sequence[PruneResult],
        children: Mapping[str, Sequence[str]],
    ) -> str:
        return render.render_results(registry, results, children)

    def document(self, pruned: RegistryPrune, *, dry_run: bool) -> dict[str, Any]:
        results = pruned.results
        doc = render.to_json(pruned.registry, pruned.plans, results, dry_run=dry_run)
        if results is not None:
            doc["deleted_platform_manifests"] = {r: list(ds) for r, ds in pruned.children.items()}
        return doc

    def tag_plan(self, plan: PrunePlan) -> PrunePlan:
        return plan

    def tag_result(self, result: PruneResult) -> PruneResult:
        return result

    def summary_note(
        self,
        plan: PrunePlan,
        result: PruneResult | None,
        *,
        dry_run: bool,
        words: Namer = cli_words,
    ) -> str:
        return render.counts_line(plan, words) + (" (dry run)" if dry_run else "")


BACKEND = DistributionBackend()

__all__ = ["BACKEND", "DistributionBackend"]
