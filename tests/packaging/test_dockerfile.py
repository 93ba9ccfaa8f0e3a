"""The Docker action at the repository root: Dockerfile, action.yml, and regkit.dockerpaths.

The image build itself (buildah, a few minutes) is not run here: CI runs
``scripts/build-docker-action``, which builds both targets and runs ``regkit --version`` in them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from ruamel.yaml import YAML

from regkit.dockerpaths import (
    DockerActionPathError,
    DockerActionPaths,
    docker_config_paths,
    host_runner_temp,
    in_docker_action,
    runner_identity,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILE = ROOT / "Dockerfile"
ACTION = ROOT / "action.yml"
COMPOSITES = sorted((ROOT / "actions").glob("*/action.yml"))

# The union of the composite actions' inputs and outputs as the issues define them
# (registry-login, promote-image, prune-tags); `command` is the Docker action's own.
ISSUE_INPUTS = {
    "sops-age-key", "secrets-file", "registry", "username-key", "password-key", "registry-key",
    "docker-config", "verify", "ca-file", "image", "source", "targets", "expect-digest",
    "semver-aliases", "latest", "require-checks", "github-token", "dry-run", "images", "match",
    "keep", "older-than", "protect-tags", "protect-digests", "protect-open-prs", "jobs",
    "username", "password",  # issue 14 item 10: registry-login without SOPS
    "delete-untagged",  # issue 17: prune on GHCR
    "unprotect", "force",  # issue 20: the opt-out of built-in protection, keep 0
    "delete-orphans",  # issue 23: referrers whose image no longer exists
}  # fmt: skip
ISSUE_OUTPUTS = {
    "registry", "digest", "promoted", "targets", "deleted", "deleted-count", "kept-count",
    "reclaimable-bytes",
}  # fmt: skip
# `regkit action overview` (composite: actions/registry-overview) and the JSON files (issue 14).
OVERVIEW_OUTPUTS = {"repositories", "tags", "json-file"}
ISSUE_OUTPUTS = ISSUE_OUTPUTS | {"plan-file", "record-file"}  # record-file: issue 16
# Inputs whose default the Docker action may not copy from the composite action, and why.
DEFAULT_EXCEPTIONS = {
    "docker-config": "the Docker action always writes under RUNNER_TEMP (regkit.dockerpaths)",
}


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it comes with the test dependencies)")
    return found


def _load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


# -- Dockerfile -------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _stages(text: str) -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for word, rest in _instructions(text):
        if word == "FROM":
            name = rest.split()[-1] if " AS " in rest.upper() else f"stage{len(stages)}"
            current = stages.setdefault(name, [])
        if current is not None:
            current.append((word, rest))
    return stages


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = subprocess.run(
        [_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_fails_on_info_level_findings(tmp_path: Path) -> None:
    # The check above means something: hadolint's default threshold fails on info findings.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:12@sha256:" + "0" * 64 + "\nUSER app\n")
    result = subprocess.run(
        [_tool("hadolint"), str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3066" in result.stdout  # USER by name (info level)


def test_every_hadolint_ignore_is_justified_by_a_comment() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            assert i > 0 and lines[i - 1].startswith("#"), f"unexplained ignore at line {i + 1}"


def test_base_image_is_a_plain_from_pinned_by_digest_that_dependabot_reads() -> None:
    ins = _instructions(DOCKERFILE.read_text())
    assert ins[0] == ("ARG", "BASE=python-base")
    froms = [rest for word, rest in ins if word == "FROM"]
    # the pinned image on a FROM line of its own (Dependabot does not read ARG defaults)
    base, name = froms[0].rsplit(" AS ", 1)
    assert name == "python-base"
    assert re.fullmatch(r"python:3\.12[\w.-]*-slim[\w.-]*@sha256:[0-9a-f]{64}", base), base
    assert froms[1] == "${BASE} AS builder"
    assert froms[2] == "${BASE} AS runtime"
    config = _load_yaml(ROOT / ".github" / "dependabot.yml")
    docker = [u for u in config["updates"] if u["package-ecosystem"] == "docker"]
    assert len(docker) == 1 and docker[0]["directory"] == "/"


def test_builder_installs_the_locks_with_hashes_into_a_venv_then_regkit_without_deps() -> None:
    runs = [rest for word, rest in _stages(DOCKERFILE.read_text())["builder"] if word == "RUN"]
    deps, own = runs
    assert "python3 -m venv /opt/regkit" in deps
    assert "--require-hashes" in deps and "-r /src/requirements.lock" in deps
    assert "-r /src/requirements-build.lock" in deps  # the build backend, hash-checked too
    assert "--only-binary=:all:" in deps  # nothing compiled: no build tools needed
    assert "--no-deps --no-build-isolation /src" in own  # no unpinned backend download
    assert "CONSTRAINT" not in own and "==" not in own
    assert "pip uninstall --yes pip setuptools wheel packaging" in own
    # Debian's python3 has no /usr/local/bin/python: only `python3` and the venv's own python.
    code = [rest for _, rest in _instructions(DOCKERFILE.read_text())]
    assert not any("/usr/local/bin" in rest or re.search(r"(^|\s)python\s", rest) for rest in code)


def test_build_lock_is_the_dev_lock_entries_of_the_build_backend() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("regkit_install", ROOT / "actions/install.py")
    assert spec is not None and spec.loader is not None
    install = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install)
    expected = install.lock_entries(ROOT / "requirements-dev.lock", install.BUILD_REQUIREMENTS)
    text = (ROOT / "requirements-build.lock").read_text()
    body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
    assert body == expected
    assert "--hash=sha256:" in body


def test_runtime_stage_is_the_venv_only_non_root_with_regkit_as_entry_point() -> None:
    runtime = _stages(DOCKERFILE.read_text())["runtime"]
    words = [word for word, _ in runtime]
    assert "RUN" not in words  # nothing installed in the final stages: no build tools, no cache
    assert ("COPY", "--from=builder /opt/regkit /opt/regkit") in runtime
    assert [rest for word, rest in runtime if word == "USER"] == ["10001:10001"]
    assert ("ENTRYPOINT", '["/opt/regkit/bin/regkit"]') in runtime


def test_action_stage_is_the_default_target_and_passes_the_command() -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert list(stages)[-1] == "action"  # `image: Dockerfile` builds the last stage
    action = stages["action"]
    assert action[0] == ("FROM", "runtime AS action")
    assert ("CMD", '["action"]') in action
    assert "RUN" not in [word for word, _ in action]


def test_dockerignore_sends_only_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for word, rest in _instructions(DOCKERFILE.read_text()):
        if word == "COPY" and not rest.startswith("--from"):
            copied.update(p.split("/")[0] for p in rest.split()[:-1])
    copied = {c for c in copied if "[" not in c}  # README.m[d]: optional
    assert copied <= allowed, copied - allowed
    assert {".git", ".venv", ".build"}.isdisjoint(allowed)


# -- action.yml -------------------------------------------------------------------------------


def test_action_passes_the_github_action_schema() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_docker_action(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("using: docker", "using: dockr"))
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1


def test_zizmor_finds_nothing_in_the_action() -> None:
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--format", "json", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_action_runs_the_dockerfile_with_regkit_action_and_the_command() -> None:
    runs = _load_yaml(ACTION)["runs"]
    assert runs["using"] == "docker"
    assert runs["image"] == "Dockerfile"
    assert runs["entrypoint"] == "/opt/regkit/bin/regkit"
    assert runs["args"] == ["action", "${{ inputs.command }}"]
    entrypoints = [r for w, r in _instructions(DOCKERFILE.read_text()) if w == "ENTRYPOINT"]
    assert json.loads(entrypoints[-1]) == [runs["entrypoint"]]


def test_action_command_input_names_the_actions_regkit_dispatches() -> None:
    inputs = _load_yaml(ACTION)["inputs"]
    assert inputs["command"]["required"] is True
    for name in ("login", "promote", "prune", "overview"):
        assert name in inputs["command"]["description"]
    try:
        from regkit.actions import ACTIONS
    except ImportError:  # pragma: no cover - the dispatcher is another engineer's module
        pytest.skip("regkit.actions is not there yet")
    assert set(ACTIONS) == {"login", "promote", "prune", "overview"}


def test_action_inputs_and_outputs_are_the_union_the_issues_define() -> None:
    action = _load_yaml(ACTION)
    assert set(action["inputs"]) == ISSUE_INPUTS | {"command"}
    assert set(action["outputs"]) == ISSUE_OUTPUTS | OVERVIEW_OUTPUTS
    # Docker actions get INPUT_<NAME> with hyphens kept: no name may need another spelling.
    for name in action["inputs"]:
        assert re.fullmatch(r"[a-z][a-z-]*", name), name


@pytest.mark.skipif(not COMPOSITES, reason="actions/*/action.yml not written yet")
def test_action_inputs_and_outputs_are_the_union_of_the_composite_actions() -> None:
    composites = {p.parent.name: _load_yaml(p) for p in COMPOSITES}
    inputs: set[str] = set()
    outputs: set[str] = set()
    for meta in composites.values():
        inputs |= set(meta.get("inputs") or {})
        outputs |= set(meta.get("outputs") or {})
    action = _load_yaml(ACTION)
    assert set(action["inputs"]) - {"command"} == inputs
    assert set(action["outputs"]) == outputs


@pytest.mark.skipif(not COMPOSITES, reason="actions/*/action.yml not written yet")
def test_action_defaults_agree_with_the_composite_actions() -> None:
    # Where every composite action declaring an input has the same default, the Docker action
    # has it too; where they differ (dry-run), it has none and regkit applies each command's own.
    defaults: dict[str, set[str | None]] = {}
    for path in COMPOSITES:
        for name, spec in (_load_yaml(path).get("inputs") or {}).items():
            value = (spec or {}).get("default")
            defaults.setdefault(name, set()).add(None if value is None else str(value))
    root = _load_yaml(ACTION)["inputs"]
    for name, values in defaults.items():
        if name in DEFAULT_EXCEPTIONS:
            continue
        mine = root[name].get("default")
        mine = None if mine is None else str(mine)
        if len(values) == 1:
            assert mine == next(iter(values)), name
        else:
            assert mine is None, name


def test_action_description_says_where_login_writes_the_docker_config() -> None:
    text = " ".join(_load_yaml(ACTION)["description"].split())
    assert "$RUNNER_TEMP/_github_home/.docker" in text
    assert "DOCKER_CONFIG" in text


# -- scripts/build-docker-action (run by CI, not here) -----------------------------------------


def test_build_script_is_executable_bash_and_parses() -> None:
    script = ROOT / "scripts" / "build-docker-action"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True)


# -- regkit.dockerpaths -----------------------------------------------------------------------

HOSTED_OLD = {  # a Docker action on a runner that does not mount RUNNER_TEMP
    "GITHUB_ACTIONS": "true",
    "CI": "true",
    "HOME": "/github/home",
    "GITHUB_WORKSPACE": "/github/workspace",
    "GITHUB_OUTPUT": "/github/file_commands/set_output_0b1c",
    "GITHUB_ENV": "/github/file_commands/set_env_0b1c",
    "RUNNER_TEMP": "/home/runner/work/_temp",
    "RUNNER_WORKSPACE": "/home/runner/work/regkit",
}
HOSTED_NEW = {**HOSTED_OLD, "RUNNER_TEMP": "/github/runner_temp"}  # actions/runner#4011


def _runner_translate(host_path: str, host_temp: str, *, mounts_temp: bool) -> str:
    """The runner's own rewriting of host paths in a later Docker action's environment."""
    mappings = [
        (f"{host_temp}/_github_home", "/github/home"),
        (f"{host_temp}/_github_workflow", "/github/workflow"),
        (f"{host_temp}/_runner_file_commands", "/github/file_commands"),
    ]
    if mounts_temp:
        mappings.append((host_temp, "/github/runner_temp"))
    for host, container in mappings:
        if host_path == host or host_path.startswith(host + "/"):
            return container + host_path[len(host) :]
    return host_path


@pytest.mark.parametrize("env", [HOSTED_OLD, HOSTED_NEW], ids=["runner-temp-host", "mounted"])
def test_docker_action_writes_under_github_home_and_exports_the_host_path(
    env: dict[str, str],
) -> None:
    paths = docker_config_paths(env, github_home_exists=True)
    assert paths == DockerActionPaths(
        container_dir=PurePosixPath("/github/home/.docker"),
        host_dir=PurePosixPath("/home/runner/work/_temp/_github_home/.docker"),
    )
    container_dir, host_dir = paths  # a plain pair for callers
    # The host directory is the one mounted at /github/home, so what the container writes is
    # what a host step finds at DOCKER_CONFIG, and a later Docker action gets it translated back.
    for mounts_temp in (False, True):
        translated = _runner_translate(
            str(host_dir), "/home/runner/work/_temp", mounts_temp=mounts_temp
        )
        assert translated == str(container_dir)


def test_self_hosted_runner_with_its_own_work_directory() -> None:
    env = {
        **HOSTED_NEW,
        "RUNNER_WORKSPACE": "/srv/actions-runner/_work/infra",
    }
    paths = docker_config_paths(env, github_home_exists=True)
    assert paths is not None
    assert paths.host_dir == PurePosixPath("/srv/actions-runner/_work/_temp/_github_home/.docker")


def test_runner_temp_wins_over_the_workspace_when_it_is_a_host_path() -> None:
    env = {**HOSTED_OLD, "RUNNER_TEMP": "/mnt/fast/tmp", "RUNNER_WORKSPACE": "/srv/w/repo"}
    assert host_runner_temp(env) == PurePosixPath("/mnt/fast/tmp")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"GITHUB_ACTIONS": "true", "HOME": "/home/runner", "GITHUB_WORKSPACE": "/home/runner/w"},
        # a job container (jobs.<id>.container): same HOME, workspace under /__w
        {**HOSTED_NEW, "GITHUB_WORKSPACE": "/__w/regkit/regkit", "RUNNER_TEMP": "/__w/_temp"},
        {**HOSTED_OLD, "GITHUB_ACTIONS": "false"},
        {k: v for k, v in HOSTED_OLD.items() if k != "GITHUB_ACTIONS"},
    ],
    ids=["no-actions", "host-step", "job-container", "actions-false", "no-actions-var"],
)
def test_not_inside_a_docker_action_means_no_decision(env: dict[str, str]) -> None:
    assert docker_config_paths(env, github_home_exists=True) is None


def test_no_github_home_mount_means_not_a_docker_action() -> None:
    assert not in_docker_action(HOSTED_OLD, github_home_exists=False)
    assert docker_config_paths(HOSTED_OLD, github_home_exists=False) is None


def test_trailing_slashes_are_tolerated() -> None:
    env = {**HOSTED_OLD, "HOME": "/github/home/", "GITHUB_WORKSPACE": "/github/workspace/"}
    assert in_docker_action(env, github_home_exists=True)


@pytest.mark.parametrize(
    "runner_temp",
    [
        "/home/runner/work/_temp\nDOCKER_HOST=tcp://evil",  # would inject into GITHUB_ENV
        "relative/_temp",
        "/home/runner/work/../../etc",
        "/github/runner_temp",
        "/__w/_temp",
        "/",
        "",
    ],
)
def test_unusable_runner_temp_falls_back_to_the_workspace(runner_temp: str) -> None:
    env = {**HOSTED_OLD, "RUNNER_TEMP": runner_temp}
    assert host_runner_temp(env) == PurePosixPath("/home/runner/work/_temp")


@pytest.mark.parametrize(
    "workspace", [None, "", "/github/workspace", "/repo", "x/y", "/a/b\r\nX=1", "/a/../b"]
)
def test_no_host_path_at_all_is_a_clear_error(workspace: str | None) -> None:
    env = {**HOSTED_NEW}
    if workspace is None:
        del env["RUNNER_WORKSPACE"]
    else:
        env["RUNNER_WORKSPACE"] = workspace
    with pytest.raises(DockerActionPathError) as info:
        docker_config_paths(env, github_home_exists=True)
    message = str(info.value)
    assert "\n" not in message
    assert "RUNNER_TEMP" in message and "./actions/registry-login" in message
    assert info.value.exit_code == 1


@pytest.mark.parametrize(
    ("uid", "owner", "expected"),
    [
        (0, (1001, 118), (1001, 118)),  # GitHub-hosted: runner is uid 1001
        (0, (0, 0), None),  # a runner running as root: stay root
        (10001, (1001, 118), None),  # not root: cannot and need not switch
        (1001, (1001, 118), None),
    ],
)
def test_runner_identity(
    uid: int, owner: tuple[int, int], expected: tuple[int, int] | None
) -> None:
    assert runner_identity(uid, *owner) == expected


_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from regkit.dockerpaths import enter_runner_identity
    env, home, shared = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    switched = enter_runner_identity(env, github_home=home, shared_dir=shared)
    written = None
    try:
        out = shared / "set_output_x"
        with out.open("a") as f:
            f.write("registry=r.example\\n")
        written = out.stat().st_uid
    except OSError as exc:
        written = type(exc).__name__
    print(json.dumps({"switched": switched, "uid": os.getuid(), "gid": os.getgid(),
                      "groups": os.getgroups(), "written_by": written}))
    """
)


def _run_child(env: dict[str, str], home: Path, shared: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(env), str(home), str(shared)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="regkit-dockerpaths-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI runs as root)")
def test_root_container_becomes_the_runner_user_and_writes_as_it(world_dir: Path) -> None:
    home = world_dir / "home"
    shared = world_dir / "file_commands"
    for d in (home, shared):
        d.mkdir()
        os.chown(d, 10001, 10002)
        d.chmod(0o755)  # as the runner leaves it: writable by its owner only
    data = _run_child(HOSTED_OLD, home, shared)
    assert data == {
        "switched": [10001, 10002],
        "uid": 10001,
        "gid": 10002,
        "groups": [],
        "written_by": 10001,
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show that nothing changes")
def test_outside_a_docker_action_nothing_switches(tmp_path: Path) -> None:
    shared = tmp_path / "file_commands"
    shared.mkdir()
    os.chown(shared, 10001, 10002)
    data = _run_child({"GITHUB_ACTIONS": "true", "HOME": "/root"}, tmp_path, shared)
    assert data["switched"] is None and data["uid"] == 0
