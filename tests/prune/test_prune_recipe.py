"""The README's scheduled-job recipe, run as written (host and paths swapped for the rig's),
against the rolled-back scenario on both registry versions: ``latest`` (rolled back onto an
old build), the release ``v1.0.0`` (older than the 6 newest) and what the deploy file names
stay, with every tag on their digests; the API job of ``examples/prune_flow.py`` does the same.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from regkit import api
from regkit.cli import main
from tests.api.test_api_example import gc_command
from tests.prune.test_prune_registry import Scenario, push_scenario, state
from tests.rig import Rig
from tests.rig.cranereg import CraneRig, start_crane_rig

ROOT = Path(__file__).resolve().parents[2]
RECIPE_START = "regkit prune --all-repos registry.example.com --match '.*' --keep 6"
REPO = "rednaw/hello-world"


def readme_recipe() -> list[str]:
    """The scheduled-job command as the documentation shows it (README.md, else docs/)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        start = text.find(RECIPE_START)
        if start < 0:
            continue
        lines = []
        for line in text[start:].splitlines():
            lines.append(line.rstrip().removesuffix("\\"))
            if not line.rstrip().endswith("\\"):
                break
        return shlex.split(" ".join(lines))
    raise AssertionError(f"no page holds the recipe {RECIPE_START!r}")


def as_on_the_rig(argv: list[str], rig: Rig | CraneRig, deploy: Path, record: Path) -> list[str]:
    """The recipe's host, deploy directory, record file, GC command and storage, swapped
    (crane's registry has no garbage collection: there --then and --storage are dropped)."""
    swap = {
        "registry.example.com": rig.host,
        "/opt/iac/deploy": str(deploy),
    }
    out: list[str] = []
    it = iter(argv[1:])  # drop "regkit"
    for word in it:
        if word == "--record":
            out += [word, str(record)]
            next(it)
        elif word == "--then":
            if isinstance(rig, Rig):
                out += [word, gc_command(rig)]
            next(it)
        elif word == "--storage":
            if isinstance(rig, Rig):
                out += [word, str(rig.storage_dir)]
            next(it)
        else:
            out.append(swap.get(word, word))
    if isinstance(rig, Rig) and rig.ca_file:
        out += ["--ca-file", str(rig.ca_file)]
    return out


def deploy_dir(sc: Scenario, tmp_path: Path) -> Path:
    deploy = tmp_path / "deploy"
    (deploy / "hello-world").mkdir(parents=True)
    shutil.copy(sc.deploy_file, deploy / "hello-world" / "deploy-info.yml")
    return deploy


def protected_of(sc: Scenario) -> set[str]:
    return {"latest", "v1.0.0", sc.latest, sc.release, sc.deployed}


@pytest.mark.parametrize("version", ["2.8", "3"], ids=["v2.8", "v3"])
def test_readme_recipe_keeps_latest_the_release_and_what_runs(
    rig_factory: Callable[..., Rig],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rig = rig_factory("tls", version)  # production's shape: nginx TLS + Basic auth in front
    sc = push_scenario(rig, REPO, tmp_path)
    before = state(rig, REPO)
    argv = as_on_the_rig(readme_recipe(), rig, deploy_dir(sc, tmp_path), tmp_path / "p.jsonl")
    assert "--match" in argv and argv[argv.index("--match") + 1] == ".*"
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    after = state(rig, REPO)
    for tag in protected_of(sc):
        assert after.get(tag) == before[tag], (tag, out)
    newest = sc.order[-6:]
    assert set(after) == protected_of(sc) | set(newest)
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert re.search(r"keep\s+latest\s*$", rows["latest"])
    assert re.search(r"keep\s+release tag\s*$", rows["v1.0.0"])
    assert rows[sc.deployed].rstrip().endswith("(deploy file hello-world/deploy-info.yml)")


@pytest.mark.parametrize("version", ["2.8", "3"], ids=["v2.8", "v3"])
def test_the_api_job_keeps_latest_and_the_release(
    rig_factory: Callable[..., Rig], tmp_path: Path, version: str
) -> None:
    rig = rig_factory("basic", version)
    sc = push_scenario(rig, REPO, tmp_path)
    before = state(rig, REPO)
    with api.connect(rig.host, username=rig.username, password=rig.password) as reg:
        report = api.prune(
            reg, all_repos=True, match=".*", keep=6, protect_dir=str(deploy_dir(sc, tmp_path))
        )
    assert report.ok
    after = state(rig, REPO)
    for tag in protected_of(sc):
        assert after.get(tag) == before[tag], tag
    assert set(after) == protected_of(sc) | set(sc.order[-6:])


def test_readme_recipe_on_crane_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same on go-containerregistry's registry, which keeps tags when a manifest is deleted
    by digest (a registry of its own, not the session's: --all-repos prunes every repository)."""
    rig = start_crane_rig(tmp_path / "crane")
    try:
        sc = push_scenario(rig, REPO, tmp_path)  # type: ignore[arg-type]
        before = state(rig, REPO)  # type: ignore[arg-type]
        deploy = deploy_dir(sc, tmp_path)
        argv = as_on_the_rig(readme_recipe(), rig, deploy, tmp_path / "p.jsonl")
        monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, err
        after = state(rig, REPO)  # type: ignore[arg-type]
        for tag in protected_of(sc):
            assert after.get(tag) == before[tag], (tag, out)
        assert set(after) == protected_of(sc) | set(sc.order[-6:])
    finally:
        rig.close()
