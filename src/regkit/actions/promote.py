"""``regkit action promote``: the ``promote-image`` action.

Inputs (``INPUT_*``): ``image`` (``repo`` or ``registry/repo``), ``registry`` (when ``image``
has no host), ``source`` (tag or digest; default the first 7 characters of ``GITHUB_SHA``),
``targets`` (newline or comma separated), ``expect-digest``, ``semver-aliases``
(``v1.2.3`` also gives ``v1.2`` and ``v1``), ``latest`` (``false``/``true``/``auto``),
``require-checks``, ``github-token``, ``dry-run``, ``ca-file``.

Events:

- ``release``: the release's tag becomes a target; unless ``source`` is given, the source is
  the short SHA of the commit the release tag points at (through the API when the payload
  holds a branch name). ``latest: auto`` = neither draft, prerelease nor older than GitHub's
  latest release.
- ``push``: ``latest: auto`` = the push is to the default branch. A source image that does not
  exist (the build was skipped) is reported in the summary and the step succeeds.
- anything else (``workflow_dispatch``): ``latest: auto`` adds nothing.

A target in another repository also gets the image's referrers (cosign signatures and
attestations, SBOMs), so the image still verifies there; the summary's ``Attached`` row says
what was found and how many were copied.

Outputs: ``digest``, ``promoted`` (``true`` when anything was written), ``targets`` (JSON).
Registry credentials come from ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD`` or the Docker config
written by ``registry-login``; the password is masked before anything else is printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regkit import gha
from regkit.errors import AuthenticationError, RegkitError, UsageError
from regkit.ghcr.hosts import login_secret, token_login, with_write_hint
from regkit.github import (
    GitHubAPI,
    load_event,
    release_from_event,
    semver_aliases,
)
from regkit.ops import ConnectOptions, connect, resolve_credentials
from regkit.ops import promote as pr
from regkit.reference import (
    TAG_RE,
    Reference,
    has_host,
    parse_repository,
    validate_digest,
    validate_tag_or_digest,
)

LATEST_CHOICES = ("false", "true", "auto")


@dataclass
class Context:
    """What the event decides: source, extra targets, whether ``latest`` applies, the commit."""

    source: str
    commit: str | None
    targets: list[str] = field(default_factory=list)
    latest: bool = False
    missing_source_ok: bool = False
    notes: list[str] = field(default_factory=list)


def default_image(inputs: gha.Inputs) -> str:
    """Input ``image``, else this repository's name in lower case (``Owner/App`` is
    ``owner/app``: an image repository name has no upper case)."""
    image = inputs.get("image")
    if image:
        return image
    repository = inputs.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise UsageError("input 'image' is required (no GITHUB_REPOSITORY to default to)")
    return repository.lower()


def image_repository(image: str, registry: str | None) -> Reference:
    """``image`` as ``registry/repo`` (the host from ``image`` or else from ``registry``)."""
    if not registry and not has_host(image):
        raise UsageError(
            f"input 'image' ({image!r}) has no registry host: set input 'registry' "
            "(e.g. ${{ steps.login.outputs.registry }}) or write image as HOST/REPOSITORY"
        )
    return parse_repository(image, default_registry=registry)  # a host in image comes first


def with_aliases(targets: list[str]) -> list[str]:
    """Each target followed by its semver aliases (tag part only), duplicates dropped."""
    out: list[str] = []
    for target in targets:
        out.append(target)
        head, sep, tag = target.rpartition(":")
        if sep and "/" in tag:  # a host:port with no tag
            continue
        for alias in semver_aliases(tag if sep else target):
            out.append(f"{head}:{alias}" if sep else alias)
    return list(dict.fromkeys(out))


def event_context(
    inputs: gha.Inputs, env: Mapping[str, str], latest_mode: str, api: GitHubAPI | None
) -> Context:
    """Source, extra targets and ``latest`` from the event (the pure part given an API)."""
    event = env.get("GITHUB_EVENT_NAME", "")
    sha = env.get("GITHUB_SHA", "")
    explicit_source = inputs.get("source")
    if event == "release":
        payload = load_event(_need(env, "GITHUB_EVENT_PATH"))
        release = release_from_event(payload)
        if not TAG_RE.match(release.tag_name):
            raise UsageError(
                f"release tag {release.tag_name!r} cannot be an image tag (1 to 128 of "
                "A-Z a-z 0-9 _ . -, not starting with . or -); name the targets explicitly"
            )
        commit = None if explicit_source else _api(api).release_commit_sha(release)
        ctx = Context(explicit_source or (commit or "")[:7], commit, [release.tag_name])
        if latest_mode == "true":
            ctx.latest = True
        elif latest_mode == "auto":
            ctx.latest = _api(api).release_is_latest_candidate(release)
            if not ctx.latest:
                why = (
                    "a draft"
                    if release.draft
                    else "a prerelease"
                    if release.prerelease
                    else "older than the latest release"
                )
                ctx.notes.append(f"latest not moved: release {release.tag_name} is {why}")
        return ctx
    source = explicit_source or sha[:7]
    if not source:
        raise UsageError("input 'source' is empty and GITHUB_SHA is not set: name the source tag")
    ctx = Context(source, sha if not explicit_source and sha else None)
    if event == "push":
        ctx.missing_source_ok = True
        if latest_mode == "auto":
            payload = load_event(env["GITHUB_EVENT_PATH"]) if env.get("GITHUB_EVENT_PATH") else {}
            default = (payload.get("repository") or {}).get("default_branch")
            ctx.latest = bool(default) and payload.get("ref") == f"refs/heads/{default}"
    if latest_mode == "true":
        ctx.latest = True
    return ctx


def _api(api: GitHubAPI | None) -> GitHubAPI:
    if api is None:
        raise UsageError("this needs the GitHub API: set input 'github-token'")
    return api


def _need(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise UsageError(f"{name} is not set; this must run in a GitHub Actions job")
    return value


def checks_commit(ctx: Context) -> str:
    if ctx.commit:
        return ctx.commit
    if re.fullmatch(r"[0-9a-f]{7,40}", ctx.source):
        return ctx.source
    raise UsageError(
        f"require-checks: cannot tell which commit image tag {ctx.source!r} was built from; "
        "use the commit's short SHA as the source"
    )


def main(inputs: gha.Inputs) -> None:
    env = inputs.environ
    repo = image_repository(default_image(inputs), inputs.get("registry"))
    options = ConnectOptions(ca_file=inputs.get("ca-file"))
    creds = resolve_credentials(repo.registry, options)
    if creds is not None:
        gha.mask(creds.password)  # masks first
        gha.mask(creds.basic_token())
    token = inputs.get("github-token")  # masked by the dispatcher before main runs
    options = token_login(options, repo.registry, token)  # ghcr.io: github-token as password
    if (basic := login_secret(options)) is not None:
        gha.mask(basic)
    latest_mode = inputs.get_choice("latest", LATEST_CHOICES, "false")
    semver = inputs.get_bool("semver-aliases", False)
    require_checks = inputs.get_bool("require-checks", False)
    dry_run = inputs.get_bool("dry-run", False)
    expect = inputs.get("expect-digest")
    targets_in = inputs.get_list("targets")
    # Refuse bad input before any request (GitHub or registry).
    probe = Reference(repo.registry, repo.repository, "source")
    for text in targets_in:
        pr.parse_target(text, probe)
    if expect:
        validate_digest(expect)
    if inputs.get("source"):
        validate_tag_or_digest(inputs.require("source"))

    api: GitHubAPI | None = None
    needs_api = env.get("GITHUB_EVENT_NAME") == "release" or require_checks
    if needs_api:
        api = GitHubAPI(
            token,
            _need(env, "GITHUB_REPOSITORY"),
            base_url=env.get("GITHUB_API_URL") or None,
        )
    try:
        ctx = event_context(inputs, env, latest_mode, api)
        if require_checks:
            report = _api(api).checks(checks_commit(ctx), exclude_run_id=env.get("GITHUB_RUN_ID"))
            problem = report.problem()
            if problem:
                raise RegkitError(f"require-checks: {problem}; nothing was promoted")
            gha.info(f"checks passed on {report.sha[:7]}: {', '.join(report.passed)}")
    finally:
        if api is not None:
            api.close()

    validate_tag_or_digest(ctx.source)
    source = pr.parse_source(
        f"{repo.name}@{ctx.source}"
        if ctx.source.startswith("sha256:")
        else f"{repo.name}:{ctx.source}"
    )
    wanted = [*targets_in, *ctx.targets]
    if semver:
        wanted = with_aliases(wanted)
    if ctx.latest:
        wanted.append("latest")
    if not wanted:
        raise UsageError("nothing to promote to: set input 'targets' (or 'latest: true')")
    targets = pr.parse_targets(wanted, source)  # every target checked before any request

    try:
        result = pr.promote(
            source,
            targets,
            lambda host: connect(host, options),
            expect_digest=expect,
            dry_run=dry_run,
        )
    except AuthenticationError as err:
        raise with_write_hint(err, repo.registry) from None
    except pr.SourceNotFoundError:
        if not ctx.missing_source_ok:
            raise
        message = f"{source} does not exist (no image was built for this commit); nothing promoted"
        gha.notice(message)
        gha.set_output("digest", "")
        gha.set_output("promoted", False)
        gha.set_output("targets", [])
        gha.summary.heading("Promote image", 2).text(message)
        return

    for line in result.lines():
        gha.info(line)
    if (attached := result.referrers_line()) is not None:
        gha.info(f"attached: {attached}")
    facts = _facts(repo, result, options)
    gha.set_output("digest", result.digest)
    gha.set_output("promoted", "true" if result.promoted else "false")
    gha.set_output("targets", result.to_json()["targets"])
    write_summary(result, facts, ctx.notes)


def _facts(repo: Reference, result: pr.PromotionResult, options: ConnectOptions) -> pr.ImageFacts:
    if result.manifest is None:
        return pr.ImageFacts()
    try:
        with connect(repo.registry, options) as client:
            return pr.image_facts(client, repo.repository, result.manifest)
    except RegkitError as err:  # the summary is a courtesy; the promotion already happened
        gha.warning(f"could not read the image's labels for the summary: {err.message}")
        return pr.ImageFacts()


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "-"


def summary_rows(result: pr.PromotionResult) -> list[list[str]]:
    return [
        [
            str(t.target),
            t.describe(done=not result.dry_run),
            _short(t.old_digest),
            _short(result.digest),
        ]
        for t in result.plan.targets
    ]


def write_summary(result: pr.PromotionResult, facts: pr.ImageFacts, notes: list[str]) -> None:
    s = gha.summary
    title = "Promotion plan (dry run, nothing written)" if result.dry_run else "Promoted image"
    s.heading(title, 2)
    s.table(["Target", "Result", "Old digest", "New digest"], summary_rows(result))
    rows: list[list[Any]] = [
        ["Source", str(result.plan.source)],
        ["Digest", result.digest],
        ["Platforms", ", ".join(result.platforms) or "single platform"],
        ["Created", facts.created.strftime("%Y-%m-%dT%H:%M:%SZ") if facts.created else "-"],
        ["Description", facts.description or "-"],
    ]
    if (attached := result.referrers_line()) is not None:
        # what came with the image to another repository: its signatures, attestations, SBOMs
        rows.append(["Attached", attached])
    s.table(["Image", ""], rows)
    for note in notes:
        s.text(note)
