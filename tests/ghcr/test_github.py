"""regkit.github: pure decisions, then PyGithub against recorded GitHub API answers on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from regkit.github import (
    ChecksReport,
    GitHubAPI,
    GitHubError,
    Release,
    classify_check_run,
    classify_status,
    is_older,
    open_pull_request_head_shas,
    parse_semver,
    release_from_event,
    semver_aliases,
    summarise_checks,
)
from tests.githubfake import (
    PROMOTE_RUN_ID,
    REPO,
    SHA,
    RecordedGitHub,
    Route,
    fixture,
    github_api,
    repo_path,
)

TOKEN = "ghs_recordedTestToken0123456789abcdef"


# -- pure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "aliases"),
    [
        ("v1.2.3", ["v1.2", "v1"]),
        ("1.2.3", ["1.2", "1"]),
        ("v10.0.7", ["v10.0", "v10"]),
        ("v1.2.3-rc.1", []),
        ("v1.2.3+build.5", []),
        ("v1.2", []),
        ("v01.2.3", []),
        ("latest", []),
        ("1a2b3c4", []),
    ],
)
def test_semver_aliases(tag: str, aliases: list[str]) -> None:
    assert semver_aliases(tag) == aliases


def _rel(tag: str, created: str = "2026-02-24T07:50:00+00:00") -> Release:
    return Release(tag, created_at=datetime.fromisoformat(created))


@pytest.mark.parametrize(
    ("mine", "latest", "older"),
    [
        ("v1.2.3", None, False),
        ("v1.2.3", "v1.2.3", False),
        ("v1.2.3", "v1.2.2", False),
        ("v1.2.3", "v1.3.0", True),
        ("v1.2.10", "v1.2.9", False),  # numeric, not string order
        ("v2.0.0", "v2.0.0-rc.2", False),  # a release is newer than its release candidates
        ("v2.0.0-rc.2", "v2.0.0-rc.10", True),
    ],
)
def test_is_older_semver(mine: str, latest: str | None, older: bool) -> None:
    assert is_older(_rel(mine), _rel(latest) if latest else None) is older


def test_is_older_falls_back_to_creation_time() -> None:
    old = _rel("spring", "2026-01-01T00:00:00+00:00")
    new = _rel("summer", "2026-06-01T00:00:00+00:00")
    assert is_older(old, new) is True
    assert is_older(new, old) is False


def test_parse_semver() -> None:
    assert parse_semver("v1.2.3-rc.1") == (1, 2, 3, "rc.1")
    assert parse_semver("release-1") is None


@pytest.mark.parametrize(
    ("status", "conclusion", "outcome"),
    [
        ("completed", "success", "passed"),
        ("completed", "neutral", "passed"),
        ("completed", "skipped", "passed"),
        ("completed", "failure", "failed"),
        ("completed", "cancelled", "failed"),
        ("completed", "timed_out", "failed"),
        ("completed", "action_required", "failed"),
        ("completed", "stale", "failed"),
        ("in_progress", None, "pending"),
        ("queued", None, "pending"),
        ("waiting", None, "pending"),
    ],
)
def test_classify_check_run(status: str, conclusion: str | None, outcome: str) -> None:
    assert classify_check_run(status, conclusion) == outcome


def test_classify_status() -> None:
    assert [classify_status(s) for s in ("success", "pending", "failure", "error")] == [
        "passed",
        "pending",
        "failed",
        "failed",
    ]


def test_checks_report_problem_lines() -> None:
    ok = summarise_checks(SHA, [("test", "completed", "success")], [("scan", "success")])
    assert ok.ok and ok.problem() is None
    failed = summarise_checks(SHA, [("test", "completed", "failure")], [("scan", "pending")])
    assert failed.problem() == "checks failed on commit 1a2b3c4: test"
    pending = summarise_checks(SHA, [("test", "queued", None)], [])
    assert "still running on commit 1a2b3c4: test" in (pending.problem() or "")
    none = summarise_checks(SHA, [], [])
    assert not none.ok and "no checks" in (none.problem() or "")


def test_release_from_event_payload() -> None:
    payload = json.loads(fixture("event-release-published.json"))
    release = release_from_event(payload)
    assert release.tag_name == "v1.2.3"
    assert release.target_commitish == "main"
    assert release.prerelease is False
    assert release.created_at == datetime(2026, 2, 24, 7, 50, tzinfo=UTC)
    assert release_from_event(json.loads(fixture("event-release-prerelease.json"))).prerelease


# -- PyGithub against recorded answers ----------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[RecordedGitHub]:
    with github_api() as gh:
        yield gh


@contextmanager
def recorded(routes: Mapping[str, Route]) -> Iterator[RecordedGitHub]:
    """The module's server answering ``routes`` (the context form keeps the tests short)."""
    yield _SERVER[0].use(routes)


_SERVER: list[RecordedGitHub] = []


@pytest.fixture(autouse=True)
def _bind_server(server: RecordedGitHub) -> None:
    _SERVER[:] = [server]


def _api(url: str) -> GitHubAPI:
    return GitHubAPI(TOKEN, REPO, base_url=url)


def test_release_commit_through_annotated_tag() -> None:
    routes = {
        repo_path("git/ref/tags/v1.2.3"): "git-ref-v1.2.3-annotated.json",
        repo_path("git/tags/9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"): "git-tag-v1.2.3.json",
    }
    with recorded(routes) as fake, _api(fake.url) as api:
        release = release_from_event(json.loads(fixture("event-release-published.json")))
        assert api.release_commit_sha(release) == SHA
    assert [s.path for s in fake.seen] == list(routes)
    assert fake.seen[0].headers["authorization"] == f"token {TOKEN}"


def test_release_commit_lightweight_tag() -> None:
    routes = {repo_path("git/ref/tags/v2.0.0-rc.1"): "git-ref-v2.0.0-rc.1-lightweight.json"}
    with recorded(routes) as fake, _api(fake.url) as api:
        release = release_from_event(json.loads(fixture("event-release-prerelease.json")))
        assert api.release_commit_sha(release) == SHA


def test_release_commit_sha_in_payload_needs_no_request() -> None:
    with recorded({}) as fake, _api(fake.url) as api:
        release = release_from_event(json.loads(fixture("event-release-sha.json")))
        assert api.release_commit_sha(release) == SHA
    assert fake.seen == []


def test_release_tag_missing_is_one_line_error() -> None:
    with recorded({}) as fake, _api(fake.url) as api, pytest.raises(GitHubError) as err:
        api.tag_commit_sha("v9.9.9")
    assert str(err.value) == (f"GitHub API: resolve tag v9.9.9 in {REPO} failed: 404 Not Found")


@pytest.mark.parametrize(
    ("event", "latest", "candidate"),
    [
        ("event-release-published.json", "release-latest-v1.2.2.json", True),  # newest
        ("event-release-published.json", "release-latest-v1.2.3.json", True),  # is the latest
        ("event-release-published.json", "release-latest-v1.3.0.json", False),  # a backport
        ("event-release-published.json", None, True),  # the first release
        ("event-release-prerelease.json", "release-latest-v1.2.2.json", False),
    ],
)
def test_latest_auto(event: str, latest: str | None, candidate: bool) -> None:
    routes = {repo_path("releases/latest"): latest} if latest else {}
    with recorded(routes) as fake, _api(fake.url) as api:
        release = release_from_event(json.loads(fixture(event)))
        assert api.release_is_latest_candidate(release) is candidate
    if release.prerelease:
        assert fake.seen == []  # a prerelease never asks


def _check_routes(runs: str, status: str) -> dict[str, str]:
    return {
        repo_path(f"commits/{SHA}/check-runs"): runs,
        repo_path(f"commits/{SHA}/status"): status,
    }


def _checks(runs: str, status: str, exclude: str | None = PROMOTE_RUN_ID) -> ChecksReport:
    with recorded(_check_routes(runs, status)) as fake, _api(fake.url) as api:
        return api.checks(SHA, exclude_run_id=exclude)


def test_checks_success_excluding_the_running_workflow() -> None:
    routes = _check_routes("check-runs-success.json", "status-success.json")
    with recorded(routes) as fake, _api(fake.url) as api:
        report = api.checks(SHA, exclude_run_id=PROMOTE_RUN_ID)
        with_self = api.checks(SHA)
    assert report.ok
    assert report.passed == ("build-and-push", "docs", "lint", "security/scan", "test (3.11)")
    assert with_self.pending == ("promote",)  # without the exclusion the job would block itself
    assert fake.seen[0].query.get("filter") == ["latest"]


def test_checks_failed_check_run() -> None:
    report = _checks("check-runs-failed.json", "status-success.json")
    assert report.failed == ("test (3.11)",)
    assert report.problem() == "checks failed on commit 1a2b3c4: test (3.11)"


def test_checks_pending_check_run() -> None:
    report = _checks("check-runs-pending.json", "status-success.json")
    assert report.pending == ("build-and-push", "test (3.11)")
    assert not report.ok


def test_checks_failed_commit_status() -> None:
    report = _checks("check-runs-success.json", "status-error.json")
    assert report.failed == ("security/scan",)


def test_checks_none_at_all_is_not_ok() -> None:
    report = _checks("check-runs-empty.json", "status-none.json", None)
    assert not report.ok
    assert "no checks" in (report.problem() or "")


def test_bad_token_is_one_line_error_without_the_token() -> None:
    routes = {repo_path(f"commits/{SHA}/check-runs"): (401, "bad-credentials.json")}
    with recorded(routes) as fake, _api(fake.url) as api, pytest.raises(GitHubError) as err:
        api.checks(SHA)
    message = str(err.value)
    assert "401 Bad credentials" in message and "github-token" in message
    assert TOKEN not in message


def test_open_pull_request_head_shas() -> None:
    with recorded({repo_path("pulls"): "pulls-open.json"}) as fake:
        shas = open_pull_request_head_shas(REPO, TOKEN, base_url=fake.url)
    assert shas == {
        "c0ffee0000000000000000000000000000000001",
        "c0ffee0000000000000000000000000000000002",
    }
    assert fake.seen[0].query.get("state") == ["open"]


def test_invalid_repository_refused_before_any_request() -> None:
    with pytest.raises(Exception, match="expected OWNER/NAME"):
        GitHubAPI(TOKEN, "not a repo")


def test_regkit_version_does_not_import_pygithub() -> None:
    code = "import sys, regkit.cli, regkit.github; print('github' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
