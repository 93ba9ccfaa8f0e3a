"""The prune-tags action keeps ``latest`` and releases whatever ``match`` says; ``unprotect``
lifts the rule by name; ``keep: 0`` with the default match needs ``force``, worded in the
action's inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.rig import Rig
from tests.runner import run_composite

pytest_plugins = ("tests.runner",)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHAS = ["1111111", "2222222", "3333333", "4444444", "5555555"]


def _push(rig: Rig, repo: str) -> None:
    pusher = rig.pusher()
    images = pusher.push_images(repo, SHAS, "oci", start=T0)
    pusher.tag(images[0], ["latest"])  # rolled back onto the oldest build
    pusher.tag(images[1], ["v1.0.0"])


def _prune(tmp_path: Path, installed: Path, rig: Rig, repo: str, **inputs: str) -> object:
    given = {"images": repo, "registry": rig.host, "dry-run": "false", **inputs}
    return run_composite(tmp_path, "prune-tags", given, rig.env(), installed)


def test_match_all_keeps_latest_and_the_release_unprotect_lifts_latest(
    basic_rig: Rig, repo_prefix: str, tmp_path: Path, installed: Path
) -> None:
    repo = f"{repo_prefix}/app"
    _push(basic_rig, repo)
    step = _prune(tmp_path, installed, basic_rig, repo, match=".*", keep="1")
    assert step.exit_code == 0, step.text  # type: ignore[attr-defined]
    tags = set(basic_rig.pusher().tags(repo))
    assert tags == {"latest", "v1.0.0", "1111111", "2222222", "5555555"}
    step = _prune(tmp_path, installed, basic_rig, repo, match=".*", keep="1", unprotect="latest")
    assert step.exit_code == 0, step.text  # type: ignore[attr-defined]
    assert set(basic_rig.pusher().tags(repo)) == {"v1.0.0", "2222222", "5555555"}


def test_keep_0_needs_force_in_the_actions_words(
    basic_rig: Rig, repo_prefix: str, tmp_path: Path, installed: Path
) -> None:
    repo = f"{repo_prefix}/app"
    _push(basic_rig, repo)
    step = _prune(tmp_path, installed, basic_rig, repo, keep="0")
    assert step.exit_code != 0  # type: ignore[attr-defined]
    errors = step.errors()  # type: ignore[attr-defined]
    assert len(errors) == 1 and "input 'force'" in errors[0] and "--" not in errors[0], errors
    assert set(basic_rig.pusher().tags(repo)) == {*SHAS, "latest", "v1.0.0"}
    step = _prune(tmp_path, installed, basic_rig, repo, keep="0", force="true")
    assert step.exit_code == 0, step.text  # type: ignore[attr-defined]
    assert set(basic_rig.pusher().tags(repo)) == {"latest", "v1.0.0", "1111111", "2222222"}
