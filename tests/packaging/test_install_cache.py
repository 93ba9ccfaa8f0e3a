"""The composite actions reuse one install across the jobs of a workflow on GitHub-hosted
runners: each action's "Install key" step names the virtualenv and its cache key, "Restore the
install" (actions/cache) brings back what an earlier job saved, and install.py finds it complete.

actions/cache is emulated as the runner runs it: the restore at the step, the save when the job
ends (its post step) for a key that missed; RUNNER_TEMP is the same path in every hosted job and
emptied between jobs. Packages come from the loopback mirror of
tests/packaging/test_install_runner.py (no request leaves the machine, no uv or pip cache): the
first job's install is cold.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from tests.packaging.test_install_runner import _behind_a_mirror, mirror, wheelhouse  # noqa: F401
from tests.runner import Job, StepResult, workspace_with_actions


class ActionsCache:
    """actions/cache: restore by exact key at the step, save the missed keys at the job's end."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.keys: list[str] = []
        self.pending: list[tuple[str, Path]] = []

    def _entry(self, key: str) -> Path:
        return self.store / hashlib.sha256(key.encode()).hexdigest()

    def __call__(self, job: Job, with_: Mapping[str, str]) -> StepResult:
        key, path = with_["key"], Path(with_["path"])
        self.keys.append(key)
        entry = self._entry(key)
        if entry.is_dir():
            shutil.copytree(entry, path, symlinks=True, dirs_exist_ok=True)
            return StepResult("actions/cache", "success", 0, {"cache-hit": "true"}, [], [], None)
        self.pending.append((key, path))
        return StepResult("actions/cache", "success", 0, {"cache-hit": "false"}, [], [], None)

    def end_of_job(self) -> None:
        for key, path in self.pending:
            if path.is_dir() and not self._entry(key).exists():
                shutil.copytree(path, self._entry(key), symlinks=True)
        self.pending.clear()


def _steps(result: StepResult) -> dict[str, StepResult]:
    """A composite action's steps by their names in action.yml (a ``uses:`` step's result is
    named by its handler)."""
    names = ["Install key", "Restore the install", "Install regkit", "the action's own step"]
    assert len(result.steps) == len(names), [s.name for s in result.steps]
    return dict(zip(names, result.steps, strict=True))


def test_the_second_job_restores_the_install_instead_of_installing(
    tmp_path: Path,
    mirror: tuple[str, list[str]],  # noqa: F811
) -> None:
    index, seen = mirror
    cache = ActionsCache(tmp_path / "actions-cache")
    temp = tmp_path / "hosted" / "_temp"  # /home/runner/work/_temp on every hosted job
    timings: dict[str, float] = {}
    installs: list[StepResult] = []
    for n in (1, 2):
        shutil.rmtree(temp, ignore_errors=True)  # RUNNER_TEMP is emptied between jobs
        j = Job(
            tmp_path / f"job{n}",
            env=_behind_a_mirror(index),
            uses={"actions/cache": cache},
            runner_temp=temp,
        )
        workspace_with_actions(j.workspace)
        started = time.monotonic()
        result = j.run_action("actions/registry-login", {})  # fails after the install: no key
        timings[f"job {n}"] = time.monotonic() - started
        steps = _steps(result)
        assert steps["Install key"].conclusion == "success", steps["Install key"].text
        assert steps["Restore the install"].conclusion == "success"
        install = steps["Install regkit"]
        assert install.conclusion == "success", install.text
        installs.append(install)
        if n == 1:
            packages = len(seen)
            assert packages > 0  # the cold install downloaded from the mirror
            # a second action of the same job: the install is there, the cache step skipped
            again = _steps(j.run_action("actions/registry-overview", {"registry": "127.0.0.1:9"}))
            assert again["Install key"].outputs["complete"] == "true"
            assert again["Restore the install"].conclusion == "skipped"
            assert "(reused," in again["Install regkit"].text
        cache.end_of_job()
    first, second = installs
    assert "(uv," in first.text or "(pip," in first.text
    assert "(reused," in second.text, second.text
    assert len(seen) == packages  # the second job downloaded nothing
    assert len(cache.keys) == 2 and cache.keys[0] == cache.keys[1]
    key = cache.keys[0]
    assert key.startswith("regkit-install-Linux-X64-py3.") and len(key.split("-")[-1]) == 64
    assert first.outputs["venv"] == second.outputs["venv"]
    regkit = second.outputs["regkit"]
    out = subprocess.run([regkit, "version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.startswith("regkit "), out.stderr
    said = [next(x for x in s.log if x.startswith("regkit in ")) for s in installs]
    print(f"jobs (key, restore, install, a failing login): {timings}; install steps: {said}")


def test_a_self_hosted_runner_does_not_use_the_actions_cache(
    tmp_path: Path,
    mirror: tuple[str, list[str]],  # noqa: F811
) -> None:
    """A self-hosted runner keeps its tool cache between jobs (install.py's package caches);
    the Actions cache, a download of the whole venv, is for the hosted runners only."""
    index, _ = mirror
    cache = ActionsCache(tmp_path / "actions-cache")
    j = Job(
        tmp_path / "self-hosted",
        env=_behind_a_mirror(index),
        uses={"actions/cache": cache},
        runner_environment="self-hosted",
    )
    workspace_with_actions(j.workspace)
    steps = _steps(j.run_action("actions/registry-login", {}))
    assert steps["Restore the install"].conclusion == "skipped"
    assert steps["Install regkit"].conclusion == "success"
    assert cache.keys == []


def test_the_key_step_installs_nothing_and_names_the_venv(tmp_path: Path) -> None:
    j = Job(tmp_path / "job")
    workspace_with_actions(j.workspace)
    step = j.run_script(
        'bash "$GITHUB_ACTION_PATH/../install.sh" --key',
        action_path=j.workspace / "actions" / "registry-login",
    )
    assert step.conclusion == "success", step.text
    venv = Path(step.outputs["venv"])
    assert venv.parent == j.runner_temp and venv.name.startswith("regkit-")
    assert step.outputs["complete"] == "false"
    assert step.outputs["cache-key"].startswith("regkit-install-Linux-X64-py3.")
    assert not venv.exists()
