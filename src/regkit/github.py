"""GitHub API questions regkit asks: releases, the commit a tag points at, checks, open PRs.

PyGithub is imported lazily (inside ``GitHubAPI``), so ``regkit --version`` and every command
that never talks to GitHub stay fast. Pure helpers (``release_from_event``, ``classify_*``,
``semver_aliases``, ``is_older``) hold the decisions and are tested without any server.

``GitHubAPI(token, repository, base_url=...)``: ``base_url`` is ``GITHUB_API_URL`` on a runner
(``https://HOST/api/v3`` on GitHub Enterprise Server) and a local server in tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regkit.errors import RegkitError, UsageError

if TYPE_CHECKING:
    from github.Repository import Repository

DEFAULT_API_URL = "https://api.github.com"
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_SEMVER_RE = re.compile(
    r"^(?P<prefix>v?)(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)

#: Check-run conclusions that count as passed; everything else completed counts as failed.
PASSED_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})


class GitHubError(RegkitError):
    """The GitHub API refused or failed a request."""


# -- pure helpers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Release:
    tag_name: str
    prerelease: bool = False
    draft: bool = False
    target_commitish: str = ""
    created_at: datetime | None = None
    published_at: datetime | None = None


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def release_from_json(data: Mapping[str, Any]) -> Release:
    tag = data.get("tag_name")
    if not isinstance(tag, str) or not tag:
        raise GitHubError("the release has no tag_name; is this a release event?")
    return Release(
        tag_name=tag,
        prerelease=bool(data.get("prerelease")),
        draft=bool(data.get("draft")),
        target_commitish=str(data.get("target_commitish") or ""),
        created_at=_time(data.get("created_at")),
        published_at=_time(data.get("published_at")),
    )


def load_event(path: str | Path) -> dict[str, Any]:
    """The event payload (``GITHUB_EVENT_PATH``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read the event payload {path}: {err}") from None
    if not isinstance(data, dict):
        raise UsageError(f"the event payload {path} is not a JSON object")
    return data


def release_from_event(payload: Mapping[str, Any]) -> Release:
    """The release of a ``release`` event payload."""
    release = payload.get("release")
    if not isinstance(release, Mapping):
        raise UsageError("the event payload holds no release; run this on a release event")
    return release_from_json(release)


def parse_semver(tag: str) -> tuple[int, int, int, str | None] | None:
    """``(major, minor, patch, prerelease)`` of ``v1.2.3[-rc.1]``; None when not semver."""
    m = _SEMVER_RE.match(tag)
    if m is None:
        return None
    return int(m["major"]), int(m["minor"]), int(m["patch"]), m["pre"]


def semver_aliases(tag: str) -> list[str]:
    """``v1.2.3`` -> ``["v1.2", "v1"]``; nothing for prereleases, build metadata or non-semver."""
    m = _SEMVER_RE.match(tag)
    if m is None or m["pre"] or m["build"]:
        return []
    p = m["prefix"]
    return [f"{p}{m['major']}.{m['minor']}", f"{p}{m['major']}"]


def _semver_key(v: tuple[int, int, int, str | None]) -> tuple[int, int, int, int, list[Any]]:
    major, minor, patch, pre = v
    if pre is None:
        return major, minor, patch, 1, []
    parts: list[Any] = [(0, int(x), "") if x.isdigit() else (1, 0, x) for x in pre.split(".")]
    return major, minor, patch, 0, parts


def is_older(release: Release, latest: Release | None) -> bool:
    """Whether ``release`` is older than GitHub's latest release.

    Both semver: compared as versions (a ``v1.2.4`` hotfix published after ``v2.0.0`` is older).
    Otherwise by creation time. The latest release itself is never older.
    """
    if latest is None or latest.tag_name == release.tag_name:
        return False
    mine, theirs = parse_semver(release.tag_name), parse_semver(latest.tag_name)
    if mine is not None and theirs is not None:
        return _semver_key(mine) < _semver_key(theirs)
    if release.created_at and latest.created_at:
        return release.created_at < latest.created_at
    return False


def classify_check_run(status: str | None, conclusion: str | None) -> str:
    """``passed``, ``pending`` or ``failed`` for a check run."""
    if status != "completed":
        return "pending"  # queued, in_progress, waiting, requested, pending
    return "passed" if conclusion in PASSED_CONCLUSIONS else "failed"


def classify_status(state: str | None) -> str:
    """``passed``, ``pending`` or ``failed`` for a commit status (success/pending/failure/error)."""
    if state == "success":
        return "passed"
    if state == "pending":
        return "pending"
    return "failed"


@dataclass(frozen=True)
class ChecksReport:
    """The check runs and commit statuses of one commit, by outcome (names, sorted)."""

    sha: str
    passed: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every check succeeded (and there was at least one)."""
        return bool(self.passed) and not self.pending and not self.failed

    def problem(self) -> str | None:
        """Why promotion must wait or stop, in one line; None when everything passed."""
        short = self.sha[:7]
        if self.failed:
            return f"checks failed on commit {short}: {', '.join(self.failed)}"
        if self.pending:
            return (
                f"checks still running on commit {short}: {', '.join(self.pending)}; "
                "rerun this promotion when they have finished"
            )
        if not self.passed:
            return f"no checks or statuses on commit {short}; nothing shows that it was tested"
        return None


def summarise_checks(
    sha: str,
    check_runs: Iterable[tuple[str, str | None, str | None]],
    statuses: Iterable[tuple[str, str | None]],
) -> ChecksReport:
    """``check_runs``: (name, status, conclusion); ``statuses``: (context, state)."""
    out: dict[str, list[str]] = {"passed": [], "pending": [], "failed": []}
    for name, status, conclusion in check_runs:
        out[classify_check_run(status, conclusion)].append(name)
    for context, state in statuses:
        out[classify_status(state)].append(context)
    return ChecksReport(
        sha,
        tuple(sorted(out["passed"])),
        tuple(sorted(out["pending"])),
        tuple(sorted(out["failed"])),
    )


def _run_id_of(details_url: str | None) -> str | None:
    m = re.search(r"/actions/runs/(\d+)(?:/|$)", details_url or "")
    return m.group(1) if m else None


# -- the API -----------------------------------------------------------------------------------


def _https_only(url: str) -> str:
    """``url`` without its trailing slash when it is https:// (plain http: a loopback host
    only, the tests' fake GitHub); the token goes nowhere else."""
    from urllib.parse import urlsplit

    from regkit.reference import host_is_loopback

    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if not parts.netloc or not (
        scheme == "https" or (scheme == "http" and host_is_loopback(parts.netloc))
    ):
        raise UsageError(
            f"GitHub API URL {url.strip()[:100]!r} (GITHUB_API_URL) is not an https:// URL; a "
            "GitHub token goes over HTTPS only"
        )
    return url.strip().rstrip("/")


class GitHubAPI:
    """Read-only questions about one repository (``owner/name``)."""

    def __init__(
        self,
        token: str | None,
        repository: str,
        *,
        base_url: str | None = None,
        timeout: int = 15,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository or ""):
            raise UsageError(f"invalid GitHub repository {repository!r}: expected OWNER/NAME")
        from github import Auth, Github  # lazy: PyGithub costs start-up time

        self.repository = repository
        self._gh = Github(
            auth=Auth.Token(token) if token else None,
            base_url=_https_only(base_url or DEFAULT_API_URL),
            timeout=timeout,
            retry=2,
            seconds_between_requests=None,  # reads only; GitHub asks to throttle writes
            lazy=True,
        )
        self._repo: Repository = self._gh.get_repo(repository)

    def close(self) -> None:
        self._gh.close()

    def __enter__(self) -> GitHubAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from github import GithubException

        try:
            return fn(*args, **kwargs)
        except GithubException as err:
            message = err.data.get("message") if isinstance(err.data, dict) else None
            hint = ""
            if err.status in (401, 403):
                hint = "; check the github-token and the workflow's permissions"
            raise GitHubError(
                f"GitHub API: {what} in {self.repository} failed: {err.status}"
                f"{f' {message}' if message else ''}{hint}"
            ) from None

    def latest_release(self) -> Release | None:
        """GitHub's latest release (not draft, not prerelease); None when there is none."""
        from github import UnknownObjectException

        def get() -> dict[str, Any] | None:
            try:
                data: dict[str, Any] = self._repo.get_latest_release().raw_data
            except UnknownObjectException:
                return None
            return data

        raw = self._call("get the latest release", get)
        return None if raw is None else release_from_json(raw)

    def release_is_latest_candidate(self, release: Release) -> bool:
        """``latest: auto``: neither draft nor prerelease nor older than the latest release."""
        if release.prerelease or release.draft:
            return False
        return not is_older(release, self.latest_release())

    def tag_commit_sha(self, tag: str) -> str:
        """The commit a tag points at, through an annotated tag object if there is one."""
        ref = self._call(
            f"resolve tag {tag}", lambda: self._repo.get_git_ref(f"tags/{tag}").raw_data
        )
        obj = ref.get("object") or {}
        for _ in range(5):  # a tag of a tag of ... a commit
            if obj.get("type") != "tag":
                break
            sha = obj.get("sha")
            obj = (
                self._call(
                    f"read tag object {sha}", lambda s=sha: self._repo.get_git_tag(s).raw_data
                ).get("object")
                or {}
            )
        sha = obj.get("sha")
        if obj.get("type") != "commit" or not isinstance(sha, str) or not _SHA_RE.match(sha):
            raise GitHubError(f"tag {tag} in {self.repository} does not point at a commit")
        return sha

    def release_commit_sha(self, release: Release) -> str:
        """The commit of a release: ``target_commitish`` when it is a full SHA, else the tag's."""
        if _SHA_RE.match(release.target_commitish):
            return release.target_commitish
        return self.tag_commit_sha(release.tag_name)

    def checks(self, sha: str, *, exclude_run_id: str | None = None) -> ChecksReport:
        """Check runs (latest per name) and commit statuses of ``sha``.

        ``exclude_run_id`` (``GITHUB_RUN_ID``) leaves out the check runs of the running workflow,
        whose own job is always in progress on the commit it promotes.
        """
        commit = self._repo.get_commit(sha)

        def runs() -> list[tuple[str, str | None, str | None]]:
            return [
                (str(r.name), r.status, r.conclusion)
                for r in commit.get_check_runs(filter="latest")
                if not exclude_run_id or _run_id_of(r.details_url) != exclude_run_id
            ]

        def statuses() -> list[tuple[str, str | None]]:
            return [(str(s.context), s.state) for s in commit.get_combined_status().statuses]

        return summarise_checks(
            sha,
            self._call(f"list check runs of {sha[:7]}", runs),
            self._call(f"read statuses of {sha[:7]}", statuses),
        )

    def open_pull_request_head_shas(self) -> frozenset[str]:
        """The head commit of every open pull request (for prune's ``protect-open-prs``)."""
        return frozenset(
            self._call(
                "list open pull requests",
                lambda: [str(p.head.sha) for p in self._repo.get_pulls(state="open")],
            )
        )


def open_pull_request_head_shas(
    repo: str, token: str | None = None, *, base_url: str | None = None
) -> frozenset[str]:
    """The head SHAs of the open pull requests of ``repo`` (``owner/name``)."""
    with GitHubAPI(token, repo, base_url=base_url) as api:
        return api.open_pull_request_head_shas()
