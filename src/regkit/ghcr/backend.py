"""The GHCR prune backend (``regkit.ops.prune.backend``): the tag plan of distribution, carried
out as package-version deletions through the GitHub REST API (``regkit.ghcr.prune``).

Plans are ``GhcrPlan`` (the tag plan and the versions to delete), results ``GhcrResult``. The
REST client is opened once per registry for the whole prune, with the run's token
(``PruneOptions.github_token``, else ``regkit.ghcr.hosts.github_token``). A refusal for want of
permission, or Ctrl-C, stops the run after the deletion in flight (``Carried.error``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from regkit.errors import Namer, Param, UsageError, cli_words
from regkit.ghcr import hosts
from regkit.ghcr.prune import GhcrPlan, GhcrResult, as_prune_result, execute_ghcr, plan_package
from regkit.ghcr.render import ghcr_document, render_ghcr_plan, render_ghcr_result
from regkit.ops.prune.backend import Carried, PruneOptions, Work

if TYPE_CHECKING:
    from regkit.ghcr.rest import PackagesAPI
    from regkit.ops import ConnectOptions
    from regkit.ops.prune.execute import PruneResult
    from regkit.ops.prune.plan import PrunePlan, PrunePolicy
    from regkit.ops.prune.run import Target
    from regkit.ops.prune.session import RegistryPrune
    from regkit.registry import RegistryClient


class GhcrBackend:
    name = "ghcr"
    api_function = "prune_ghcr"
    deletes_through = "deletes package versions through the GitHub API, not the registry"
    registry_deletes = False
    unfinished = "every image left is whole"
    after_note: str | None = None  # GHCR frees its storage itself

    def accepts(self, host: str) -> bool:
        return hosts.is_ghcr(host)

    def refuse(self, target: Target, options: PruneOptions) -> None:
        if options.then:
            raise UsageError(
                (
                    Param("then"),
                    " and ",
                    Param("storage"),
                    " are for a self-hosted registry: GHCR frees its storage itself",
                )
            )
        if target.all_repos:
            raise UsageError(
                f"{target.registry} has no catalog: name the packages "
                f"({target.registry}/OWNER/NAME)"
            )

    def login(
        self, options: ConnectOptions, host: str, token: str | None
    ) -> tuple[ConnectOptions, tuple[str, ...]]:
        options = hosts.token_login(options, host, token)
        secret = hosts.login_secret(options)
        return options, (secret,) if secret is not None else ()

    def open(
        self, client: RegistryClient, options: PruneOptions
    ) -> AbstractContextManager[PackagesAPI]:
        return hosts.packages_api(client, token=options.github_token, notify=options.notify)

    def plan(
        self, work: Work, target: Target, policy: PrunePolicy, now: datetime
    ) -> tuple[GhcrPlan, ...]:
        options = work.options
        return tuple(
            plan_package(
                work.client,
                work.state,
                repo,
                policy,
                now,
                delete_untagged=options.delete_untagged,
                tick=work.tick,
                protect_dir=options.protect_dir,
            )
            for repo in target.repositories
        )

    def work(self, plans: Sequence[GhcrPlan]) -> int:
        return sum(len(p.deletions) + len(p.untags) for p in plans)

    def question(self, work: int) -> str:
        return f"Delete {work} package versions and tags?"

    def execute(self, work: Work, plans: Sequence[GhcrPlan]) -> Carried:
        from regkit.ops.audit import append_records, prune_records

        client, record = work.client, work.options.record
        results: list[GhcrResult] = []
        written = 0
        for plan in plans:
            # the labels read for planning: nothing downloaded again (regkit.ghcr.fetch)
            labels = plan._record_labels if record else {}
            result = execute_ghcr(client, work.state, plan, warn=work.warn, tick=work.tick)
            results.append(result)
            if record:
                lines = prune_records(
                    client.registry, plan.plan, as_prune_result(result), labels, datetime.now(UTC)
                )
                append_records(record, lines)
                written += len(lines)
            if result.error:
                return Carried(tuple(results), {}, written, result.error, result.interrupted)
        return Carried(tuple(results), {}, written)

    def render_plans(
        self, registry: str, plans: Sequence[GhcrPlan], words: Namer = cli_words
    ) -> str:
        return "\n".join(render_ghcr_plan(registry, p, words) for p in plans)

    def render_results(
        self, registry: str, results: Sequence[GhcrResult], children: Mapping[str, Sequence[str]]
    ) -> str:
        return "".join(render_ghcr_result(registry, r) for r in results)

    def document(self, pruned: RegistryPrune, *, dry_run: bool) -> dict[str, Any]:
        return ghcr_document(pruned.registry, pruned.plans, pruned.results, dry_run)

    def tag_plan(self, plan: GhcrPlan) -> PrunePlan:
        return plan.plan

    def tag_result(self, result: GhcrResult) -> PruneResult:
        return as_prune_result(result)

    def summary_note(
        self,
        plan: GhcrPlan,
        result: GhcrResult | None,
        *,
        dry_run: bool,
        words: Namer = cli_words,
    ) -> str:
        c = plan.counts()
        done = (
            f"; {len(result.deleted_versions)} deleted"
            if result is not None
            else " (dry run)"
            if dry_run
            else ""
        )
        return (
            f"GHCR: {len(plan.deletions)} of {plan.versions} package versions to delete "
            f"({c['image']} images, {c['referrer']} referrers, {c['child']} children, "
            f"{c['untagged']} untagged)" + done
        )


BACKEND = GhcrBackend()

__all__ = ["BACKEND", "GhcrBackend"]
