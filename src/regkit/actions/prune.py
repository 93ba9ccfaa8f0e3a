"""``regkit action prune``: the ``prune-tags`` action.

Inputs (``INPUT_*``): ``images`` (repositories, one per line, ``repo`` or ``host/repo``; ``*``
for every repository of ``registry``), ``registry``, ``match``, ``keep``, ``older-than``,
``protect-tags``, ``protect-digests``, ``protect-open-prs`` (the short SHAs of the head commits
of open pull requests stay; needs ``github-token``), ``github-token``, ``dry-run`` (default
``true``), ``jobs``, ``ca-file``, ``delete-untagged`` (GHCR only).

On GHCR (``ghcr.io/OWNER/NAME``) the same plan is carried out as package-version deletions
through the GitHub API with ``github-token`` (the GHCR backend, ``regkit.ghcr.backend``; the
token is the registry password too when there is no login of its own).

Outputs describe what happened: ``deleted`` (JSON list of ``host/repo:tag`` references
removed; empty in a dry run), ``deleted-count``, ``kept-count`` (tags still there), and
``reclaimable-bytes`` (what garbage collection can reclaim after this run), ``plan-file`` (the
full plan and result as JSON, the CLI's ``prune --json`` document, in a file under
``RUNNER_TEMP``), ``record-file`` (the audit trail of ``prune --record``: one JSON line per
removed tag with its digest, action, created time, labels and reclaimable bytes; empty in a dry
run). The job summary holds the plan table of every repository (with what became of
each tag; an image's referrers indented under it, and its row saying what went, or in a dry run
would go, with it: ``deleted; removed with it: 1 signature, 1 SBOM``), at most
``gha.SUMMARY_ROWS`` rows in all: the runner drops a summary over 1 MiB.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from regkit import gha
from regkit.actions import ACTIONS, input_words
from regkit.errors import Message, Namer, RegkitError, UsageError, say
from regkit.github import open_pull_request_head_shas
from regkit.ops import DEFAULTS, ConnectOptions, resolve_credentials
from regkit.ops.prune import PrunePlan, PruneResult, render
from regkit.ops.prune.backend import PruneOptions
from regkit.ops.prune.run import Target, build_policy
from regkit.ops.prune.session import BackendConnections, RegistryPrune, prune_targets
from regkit.reference import has_host, parse_repository, validate_host


def image_targets(images: list[str], registry: str | None) -> list[Target]:
    """``images`` grouped by registry; ``*`` means every repository of ``registry``."""
    if not images:
        raise UsageError("input 'images' is required: repositories, one per line, or '*'")
    if "*" in images:
        if len(images) > 1:
            raise UsageError("input 'images': '*' (every repository) stands alone")
        if not registry:
            raise UsageError("input 'images' is '*': set input 'registry' to the registry host")
        return [Target(validate_host(registry), (), True)]
    grouped: dict[str, list[str]] = {}
    for image in images:
        if not registry and not has_host(image):
            raise UsageError(
                f"input 'images' names {image!r} without a registry host: set input 'registry' "
                "or write HOST/REPOSITORY"
            )
        ref = parse_repository(image, default_registry=registry)  # a host in image comes first
        repos = grouped.setdefault(ref.registry, [])
        if ref.repository not in repos:
            repos.append(ref.repository)
    return [Target(host, tuple(repos)) for host, repos in grouped.items()]


def open_pr_tags(inputs: gha.Inputs, token: str | None) -> frozenset[str]:
    env = inputs.environ
    repository = env.get("GITHUB_REPOSITORY")
    if not repository:
        raise UsageError("protect-open-prs needs GITHUB_REPOSITORY (set on every runner)")
    shas = open_pull_request_head_shas(
        repository, token, base_url=env.get("GITHUB_API_URL") or None
    )
    return frozenset(sha[:7] for sha in shas)


def main(inputs: gha.Inputs) -> None:
    registry = inputs.get("registry")
    goals = image_targets(inputs.get_list("images"), registry)
    options = ConnectOptions(
        ca_file=inputs.get("ca-file"),
        jobs=inputs.get_int("jobs", DEFAULTS.jobs, minimum=1, maximum=256),
    )
    for goal in goals:
        creds = resolve_credentials(goal.registry, options)
        if creds is not None:
            gha.mask(creds.password)  # masks first
            gha.mask(creds.basic_token())
    token = inputs.get_secret("github-token")
    dry_run = inputs.get_bool("dry-run", True)
    protect_tags = inputs.get_list("protect-tags")
    if inputs.get_bool("protect-open-prs", False):
        pr_tags = open_pr_tags(inputs, token)
        gha.info(f"protected (open pull requests): {', '.join(sorted(pr_tags)) or 'none'}")
        protect_tags += sorted(pr_tags)
    policy = build_policy(
        match=inputs.get("match"),
        keep=inputs.get_int("keep", minimum=0),
        older_than=inputs.get("older-than"),
        protect_tags=protect_tags,
        protect_digests=inputs.get_list("protect-digests"),
        unprotect=inputs.get_list("unprotect"),
        force=inputs.get_bool("force", False),
    )
    if inputs.get_bool("delete-orphans", False):
        policy = dataclasses.replace(policy, delete_orphans=True)
    now = datetime.now(UTC)

    gha.summary.heading("Prune tags" + (" (dry run: nothing deleted)" if dry_run else ""), 2)
    record: str | None = None  # the audit trail of a real prune
    record_output = ""
    if not dry_run:
        record, record_output = gha.temp_file_paths("regkit-prune-record-", ".jsonl", "")

    words = input_words(ACTIONS["prune"])  # a parameter named in a note or a warning: its input

    def show_plans(planned: RegistryPrune) -> None:
        with gha.group(f"plan for {planned.registry}"):
            text = planned.backend.render_plans(planned.registry, planned.plans, words)
            gha.info(text.rstrip("\n"))

    def warn(message: Message) -> None:
        gha.warning(say(message, words), "prune: tag left alone")

    def show_result(done: RegistryPrune) -> None:
        for r in done.results or ():
            gha.info(done.backend.render_results(done.registry, [r], {}).rstrip("\n"))

    prune_options = PruneOptions(
        delete_untagged=inputs.get_bool("delete-untagged", False),
        github_token=token,
        notify=gha.info,
    )
    with BackendConnections(options, token, on_secret=gha.mask) as clients:
        run = prune_targets(
            goals,
            policy,
            clients,
            now=now,
            dry_run=dry_run,
            record=record,
            warn=warn,
            on_plans=show_plans,
            on_result=show_result,
            options=prune_options,
        )
    deleted = run.deleted
    kept = reclaimable = 0
    incomplete: list[str] = []
    rows_left = gha.SUMMARY_ROWS  # for every repository of every registry
    for pruned in run.registries:
        for plan in pruned.plans:
            result = pruned.result_of(plan)
            tag_plan = pruned.backend.tag_plan(plan)
            tag_result = pruned.backend.tag_result(result) if result is not None else None
            kept += _still_there(tag_plan, tag_result)
            reclaimable += tag_result.reclaimable_bytes if tag_result else 0
            if result is not None and not result.complete:
                incomplete.append(f"{pruned.registry}/{plan.repository}")
            note = pruned.backend.summary_note(plan, result, dry_run=dry_run, words=words)
            rows_left -= _summary(pruned.registry, tag_plan, tag_result, note, rows_left, words)
    if run.error:
        raise RegkitError(run.error)
    after = dict.fromkeys(r.backend.after_note for r in run.registries if r.doomed)
    for remark in after:
        if remark:
            gha.summary.text(remark)
    plan_file = gha.temp_file("regkit-prune-plan-", ".json", render.render_json(run.documents()))
    gha.info(f"the full plan (JSON): {plan_file}")
    gha.set_output("plan-file", plan_file)
    gha.set_output("record-file", record_output)
    gha.set_output("deleted", deleted)
    gha.set_output("deleted-count", str(len(deleted)))
    gha.set_output("kept-count", str(kept))
    gha.set_output("reclaimable-bytes", str(reclaimable))
    if incomplete:
        raise RegkitError(
            f"prune did not finish in {', '.join(incomplete)} (see the log); {run.unfinished}: "
            "run the workflow again to finish"
        )


def _still_there(plan: PrunePlan, result: PruneResult | None) -> int:
    if result is None:
        return len(plan.entries)
    gone = {o.tag for o in result.outcomes if o.status in ("deleted", "gone")}
    return sum(1 for e in plan.entries if e.tag not in gone)


def _summary(
    registry: str,
    plan: PrunePlan,
    result: PruneResult | None,
    note: str,
    rows_left: int,
    words: Namer,
) -> int:
    """One repository's table, at most ``rows_left`` rows (reasons in ``words``), then ``note``
    (its counts); the number of rows written."""
    heading, rows = render.markdown(registry, plan, result, words)
    gha.summary.heading(heading, 3)
    if not plan.entries:
        gha.summary.text("No tags.")
        return 0
    shown, hidden = gha.cap_rows(rows, rows_left)
    if shown:
        gha.summary.table(["TAG", "DIGEST", "CREATED", "ACTION", "RESULT", "REASON"], shown)
    if hidden:
        gha.summary.text(
            f"{hidden} more {'tag' if hidden == 1 else 'tags'} not shown (the summary shows "
            f"{gha.SUMMARY_ROWS} rows in all): every tag is in the JSON plan, output plan-file."
        )
    gha.summary.text(note)
    return len(shown)
