"""Action contract: ``regkit action promote`` with INPUT_* variables, GITHUB_* files, a real
registry and recorded GitHub API answers. Checks outputs, job summary, exit codes and leaks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.githubfake import (
    FIXTURES,
    PROMOTE_RUN_ID,
    REPO,
    SHA,
    RecordedGitHub,
    Route,
    github_api,
    repo_path,
)
from tests.leakscan import assert_masked_first, assert_no_secrets
from tests.rig import Rig, crane, rig_versions
from tests.runner import run_composite

pytest_plugins = ("tests.runner",)  # the fixture installed

TOKEN = "ghs_actionTestToken9876543210fedcba"
SHORT = SHA[:7]
TAG_OBJECT = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
CHECKS_OK: dict[str, Route] = {
    repo_path(f"commits/{SHA}/check-runs"): "check-runs-success.json",
    repo_path(f"commits/{SHA}/status"): "status-success.json",
}
RELEASE_V123: dict[str, Route] = {
    repo_path("git/ref/tags/v1.2.3"): "git-ref-v1.2.3-annotated.json",
    repo_path(f"git/tags/{TAG_OBJECT}"): "git-tag-v1.2.3.json",
}


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def texts(self) -> dict[str, str]:
        return {"stdout": self.stdout, "stderr": self.stderr, "summary": self.summary}


def parse_outputs(text: str) -> dict[str, str]:
    """``name<<DELIM`` ... ``DELIM`` blocks of a GITHUB_OUTPUT file."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delim = line.partition("<<")
        value: list[str] = []
        for inner in lines:
            if inner == delim:
                break
            value.append(inner)
        out[name] = "\n".join(value)
    return out


@pytest.fixture(scope="module")
def gh() -> Iterator[RecordedGitHub]:
    with github_api() as server:
        yield server


class Action:
    """Runs ``actions/promote-image`` in the runner emulator (tests/runner.py), one job a run."""

    def __init__(
        self,
        rig: Rig,
        gh: RecordedGitHub,
        tmp_path: Path,
        repo: str,
        installed: Path,
    ) -> None:
        self.rig, self.gh, self.tmp, self.repo = rig, gh, tmp_path, repo
        self.installed = installed
        self.runs = 0

    def __call__(
        self,
        inputs: Mapping[str, str],
        *,
        event: str,
        payload: str | None = None,
        routes: Mapping[str, Route] | None = None,
    ) -> Run:
        self.gh.use(routes or {})
        out, summary = self.tmp / "output", self.tmp / "summary"
        out.write_text("")
        summary.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        env.update(
            {
                "DOCKER_CONFIG": str(self.tmp / "empty-docker-config"),
                "REGISTRY_USERNAME": self.rig.username,
                "REGISTRY_PASSWORD": self.rig.password,
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": event,
                "GITHUB_REPOSITORY": REPO,
                "GITHUB_SHA": SHA,
                "GITHUB_RUN_ID": PROMOTE_RUN_ID,
                "GITHUB_API_URL": self.gh.url,
                "GITHUB_OUTPUT": str(out),
                "GITHUB_STEP_SUMMARY": str(summary),
                "INPUT_IMAGE": self.repo,
                "INPUT_REGISTRY": self.rig.host,
                "INPUT_GITHUB-TOKEN": TOKEN,
                "INPUT_CA-FILE": str(self.rig.ca_file or ""),
            }
        )
        if payload:
            env["GITHUB_EVENT_PATH"] = str(FIXTURES / payload)
        given = {
            "image": self.repo,
            "registry": self.rig.host,
            "github-token": TOKEN,
            "ca-file": str(self.rig.ca_file or ""),
            **inputs,
        }
        # as the runner runs it: the composite action (install step, then the regkit step)
        self.runs += 1
        result = run_composite(
            self.tmp / f"runner{self.runs}", "promote-image", given, env, self.installed
        )
        step = result.main
        rc, stdout, stderr = step.exit_code, step.raw_stdout.decode(), step.raw_stderr.decode()
        out.write_text(
            "".join(f"{k}<<EOF\n{v}\nEOF\n" for k, v in step.outputs.items())
        )  # what the step wrote to its GITHUB_OUTPUT
        summary.write_text(step.summary or "")
        run = Run(rc, stdout, stderr, parse_outputs(out.read_text()), summary.read_text())
        assert_no_secrets(run.texts | {"outputs": out.read_text()}, [self.rig.password, TOKEN])
        assert_masked_first(run.stdout, [self.rig.password, TOKEN])
        return run


@pytest.fixture
def action(
    basic_rig: Rig,
    gh: RecordedGitHub,
    tmp_path: Path,
    repo_prefix: str,
    installed: Path,
) -> Action:
    """The action on both registry versions (plain rig; the TLS shape has its own test)."""
    return Action(basic_rig, gh, tmp_path, f"{repo_prefix}/app", installed)


def digest_of(rig: Rig, ref: str) -> str | None:
    cp = crane(rig, "digest", ref, check=False)
    return cp.stdout.decode().strip() if cp.returncode == 0 else None


def writes(rig: Rig) -> list[str]:
    return [f"{r.method} {r.path}" for r in rig.requests() if r.method in {"PUT", "POST", "PATCH"}]


@rig_versions("3")
def test_release_promotes_tag_aliases_and_latest(action: Action) -> None:
    rig = action.rig
    image = rig.pusher().push_image(action.repo, SHORT, "oci-index", description="Fix login")
    old = rig.pusher().push_image(action.repo, "latest", "oci")
    run = action(
        {"semver-aliases": "true", "latest": "auto", "require-checks": "true"},
        event="release",
        payload="event-release-published.json",
        routes={
            **RELEASE_V123,
            **CHECKS_OK,
            repo_path("releases/latest"): "release-latest-v1.2.2.json",
        },
    )
    assert run.rc == 0, run.stdout + run.stderr
    host = rig.host
    for tag in ("v1.2.3", "v1.2", "v1", "latest"):
        assert digest_of(rig, f"{host}/{action.repo}:{tag}") == image.digest
    assert run.outputs["digest"] == image.digest
    assert run.outputs["promoted"] == "true"
    targets = json.loads(run.outputs["targets"])
    assert [(t["reference"], t["status"]) for t in targets] == [
        (f"{host}/{action.repo}:v1.2.3", "created"),
        (f"{host}/{action.repo}:v1.2", "created"),
        (f"{host}/{action.repo}:v1", "created"),
        (f"{host}/{action.repo}:latest", f"moved from {old.digest}"),
    ]
    assert "| Target | Result | Old digest | New digest |" in run.summary
    assert f"| {host}/{action.repo}:latest | moved from {old.digest} | {old.digest[:19]} |" in (
        run.summary.replace("\\", "")
    )
    assert "linux/amd64, linux/arm64" in run.summary
    assert "| Description | Fix login |" in run.summary
    assert "| Created | 2024-01-02T03:04:05Z |" in run.summary.replace("\\", "")
    asked = [s.path for s in action.gh.seen]
    assert repo_path("git/ref/tags/v1.2.3") in asked  # resolved, since the payload says "main"
    assert all(s.headers.get("authorization") == f"token {TOKEN}" for s in action.gh.seen)


@rig_versions("3")
def test_release_rerun_writes_nothing(action: Action) -> None:
    rig = action.rig
    rig.pusher().push_image(action.repo, SHORT, "docker")
    routes = {**RELEASE_V123, repo_path("releases/latest"): "release-latest-v1.2.3.json"}
    inputs = {"latest": "auto"}
    first = action(inputs, event="release", payload="event-release-published.json", routes=routes)
    assert first.rc == 0 and first.outputs["promoted"] == "true"
    rig.mark()
    again = action(inputs, event="release", payload="event-release-published.json", routes=routes)
    assert again.rc == 0
    assert again.outputs["promoted"] == "false"
    assert {t["status"] for t in json.loads(again.outputs["targets"])} == {"unchanged"}
    assert writes(rig) == []


@rig_versions("3")
def test_prerelease_gets_no_aliases_and_no_latest(action: Action) -> None:
    rig = action.rig
    image = rig.pusher().push_image(action.repo, SHORT, "docker-list")
    run = action(
        {"semver-aliases": "true", "latest": "auto"},
        event="release",
        payload="event-release-prerelease.json",
        routes={repo_path("git/ref/tags/v2.0.0-rc.1"): "git-ref-v2.0.0-rc.1-lightweight.json"},
    )
    assert run.rc == 0, run.stdout
    assert [t["reference"] for t in json.loads(run.outputs["targets"])] == [
        f"{rig.host}/{action.repo}:v2.0.0-rc.1"
    ]
    assert digest_of(rig, f"{rig.host}/{action.repo}:v2.0.0-rc.1") == image.digest
    assert digest_of(rig, f"{rig.host}/{action.repo}:latest") is None
    assert "latest not moved: release v2.0.0-rc.1 is a prerelease" in run.summary


@rig_versions("3")
def test_backport_release_does_not_move_latest(action: Action) -> None:
    rig = action.rig
    rig.pusher().push_image(action.repo, SHORT, "oci")
    run = action(
        {"latest": "auto"},
        event="release",
        payload="event-release-published.json",
        routes={**RELEASE_V123, repo_path("releases/latest"): "release-latest-v1.3.0.json"},
    )
    assert run.rc == 0
    assert digest_of(rig, f"{rig.host}/{action.repo}:latest") is None
    assert "older than the latest release" in run.summary


@pytest.mark.parametrize(
    ("runs", "status", "message"),
    [
        (
            "check-runs-failed.json",
            "status-success.json",
            "checks failed on commit 1a2b3c4: test (3.11)",
        ),
        (
            "check-runs-pending.json",
            "status-success.json",
            "checks still running on commit 1a2b3c4",
        ),
        (
            "check-runs-success.json",
            "status-error.json",
            "checks failed on commit 1a2b3c4: security/scan",
        ),
    ],
)
@rig_versions("3")
def test_require_checks_refuses_and_writes_nothing(
    action: Action, runs: str, status: str, message: str
) -> None:
    rig = action.rig
    rig.pusher().push_image(action.repo, SHORT, "oci")
    rig.mark()
    run = action(
        {"require-checks": "true", "latest": "true"},
        event="release",
        payload="event-release-sha.json",  # the payload names the commit: no ref lookup
        routes={
            repo_path(f"commits/{SHA}/check-runs"): runs,
            repo_path(f"commits/{SHA}/status"): status,
        },
    )
    assert run.rc == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and message in errors[0]
    assert run.outputs == {}
    assert rig.requests() == []  # the registry was never asked


@rig_versions("3")
def test_push_to_main_moves_latest(action: Action) -> None:
    rig = action.rig
    image = rig.pusher().push_image(action.repo, SHORT, "oci-index")
    run = action({"latest": "auto"}, event="push", payload="event-push-main.json")
    assert run.rc == 0, run.stdout
    assert digest_of(rig, f"{rig.host}/{action.repo}:latest") == image.digest
    assert action.gh.seen == []  # no GitHub question on push without require-checks


@rig_versions("3")
def test_summary_created_is_overviews_when_the_image_has_no_created_label(
    action: Action,
) -> None:
    """An image whose time is only the config's ``created`` (no label): the summary says the
    time overview says, not "-"."""
    rig = action.rig
    when = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    rig.pusher().push_image(action.repo, SHORT, "oci-index", created=when, label_created=None)
    run = action({"latest": "auto"}, event="push", payload="event-push-main.json")
    assert run.rc == 0, run.stdout
    assert "| Created | 2024-03-04T05:06:07Z |" in run.summary.replace("\\", "")
    overview = regkit("overview", rig.ref(action.repo), "-o", "json", env=rig.env())
    rows = [t for r in json.loads(overview.stdout)["repositories"] for t in r["tags"]]
    assert {t["created"] for t in rows} == {"2024-03-04T05:06:07Z"}
    assert rows[0]["created"] == "2024-03-04T05:06:07Z"


@rig_versions("3")
def test_push_without_an_image_succeeds_and_says_so(action: Action) -> None:
    rig = action.rig
    rig.mark()
    run = action({"latest": "auto"}, event="push", payload="event-push-main.json")
    assert run.rc == 0, run.stdout
    assert run.outputs == {"digest": "", "promoted": "false", "targets": "[]"}
    assert "does not exist" in run.summary and "nothing promoted" in run.summary
    assert writes(rig) == []


@rig_versions("3")
def test_dispatch_dry_run_with_explicit_targets(action: Action) -> None:
    rig = action.rig
    image = rig.pusher().push_image(action.repo, "build-42", "oci")
    rig.mark()
    run = action(
        {"source": "build-42", "targets": "staging,\nqa", "dry-run": "true"},
        event="workflow_dispatch",
    )
    assert run.rc == 0, run.stdout
    assert run.outputs["digest"] == image.digest
    assert run.outputs["promoted"] == "false"
    assert [t["status"] for t in json.loads(run.outputs["targets"])] == ["create", "create"]
    assert "dry run" in run.summary
    assert writes(rig) == []


@rig_versions("3")
def test_missing_source_on_dispatch_fails(action: Action) -> None:
    run = action({"source": "nosuch", "targets": "qa"}, event="workflow_dispatch")
    assert run.rc == 1
    assert any(
        "does not exist" in line for line in run.stdout.splitlines() if line.startswith("::error")
    )


@pytest.mark.parametrize(
    "inputs",
    [
        {"targets": "ok, not ok!"},
        {"targets": "v1", "expect-digest": "sha256:nope"},
        {"targets": "v1", "source": "-bad"},
        {"targets": "v1", "latest": "sometimes"},
    ],
)
@rig_versions("3")
def test_invalid_input_is_a_usage_error_before_any_request(
    action: Action, inputs: dict[str, str]
) -> None:
    action.rig.mark()
    run = action(
        {"require-checks": "true", **inputs},
        event="release",
        payload="event-release-published.json",
        routes=RELEASE_V123,
    )
    assert run.rc == 2
    assert len([line for line in run.stdout.splitlines() if line.startswith("::error")]) == 1
    assert action.gh.seen == []  # not even GitHub was asked
    assert action.rig.requests() == []


def test_tls_registry_with_ca_file_input(
    rig_tls: Rig,
    gh: RecordedGitHub,
    tmp_path: Path,
    repo_prefix: str,
    installed: Path,
) -> None:
    rig_tls.ensure_running()
    act = Action(rig_tls, gh, tmp_path, f"{repo_prefix}/app", installed)
    image = rig_tls.pusher().push_image(act.repo, SHORT, "docker-list")
    run = act({"targets": "v1"}, event="workflow_dispatch")
    assert run.rc == 0, run.stdout
    assert digest_of(rig_tls, f"{rig_tls.host}/{act.repo}:v1") == image.digest
