"""The prune-tags action says its own inputs where a plan note, a plan reason or a warning names
one of regkit's parameters (issue 22: "each adapter renders ``--flag``, ``keyword=`` or the
action input ``name``"): an orphan's reason and the counts line in the job summary, the plan in
the log and the ``::warning::`` of a prune say ``input 'delete-orphans'``, never the CLI's
``--delete-orphans``; the JSON plan file keeps the CLI's words (its documented bytes).

The action runs in-process (``regkit.actions.run``) against a real registry:3; the one fault
(the referrers of the deleted image cannot be deleted) is injected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regkit.actions import run
from regkit.errors import RegistryError
from tests.rig import Rig

ORPHAN = f"sha256-{'9' * 64}.sig"  # a signature of an image that no longer exists


def _action(
    rig: Rig, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **inputs: str
) -> tuple[int, str, str]:
    """(exit code, job summary, plan file) of ``prune-tags`` run in-process (stdout: the
    caller's ``capsys``)."""
    summary, out = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("")
    out.write_text("")
    for name, value in rig.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    given = {"registry": rig.host, "images": repo, "keep": "1", **inputs}
    env = {f"INPUT_{k.upper()}": v for k, v in given.items()}
    code = run("prune", environ=env)
    plan_file = next(tmp_path.glob("regkit-prune-plan-*.json"))
    return code, summary.read_text(), plan_file.read_text()


@pytest.fixture
def repo(rig_basic_v3: Rig, repo_prefix: str) -> str:
    """aaaaaaa (older) and bbbbbbb, and a signature tag of an image that no longer exists."""
    name = f"{repo_prefix}/app"
    pusher = rig_basic_v3.pusher()
    pusher.push_images(name, ["aaaaaaa", "bbbbbbb"])
    pusher.push_image(name, [ORPHAN], layer_size=32, seed=2)
    return name


def test_the_summary_and_the_log_say_the_input_for_an_orphan(
    rig_basic_v3: Rig,
    repo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, summary, plan_file = _action(rig_basic_v3, repo, tmp_path, monkeypatch)
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    orphan_row = next(line for line in summary.splitlines() if "sha256-9999" in line)
    assert "input 'delete-orphans' removes it" in orphan_row, orphan_row
    assert "1 orphan kept (input 'delete-orphans' removes them)" in summary, summary
    assert "input 'delete-orphans' removes it" in stdout  # the plan in the log
    assert "--delete-orphans" not in summary + stdout
    # the JSON plan (the CLI's `prune -o json` document) keeps the CLI's words
    (doc,) = json.loads(plan_file)["repositories"]
    (orphan,) = doc["plan"]["referrers"]
    assert orphan["reason"].endswith("which no longer exists (orphan); --delete-orphans removes it")


def test_a_warning_says_the_input(
    rig_basic_v3: Rig,
    repo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The referrers of a deleted image could not be deleted: the ``::warning::`` says to remove
    them with the input."""

    def refused(*_args: object, **_kwargs: object) -> tuple[str, ...]:
        raise RegistryError("DELETE refused (HTTP 405)")

    monkeypatch.setattr("regkit.ops.prune.children.delete_referrers", refused)
    code, _, _ = _action(rig_basic_v3, repo, tmp_path, monkeypatch, **{"dry-run": "false"})
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    (warning,) = [line for line in stdout.splitlines() if line.startswith("::warning")]
    assert warning.endswith(
        f"::{repo}: referrers of deleted images left (DELETE refused (HTTP 405)); the next prune "
        "reports them as orphans and removes them with input 'delete-orphans'"
    ), warning


def test_the_ghcr_plan_in_the_log_says_the_input(tmp_path: Path) -> None:
    """On GHCR (the local fake), untagged versions left in place: the plan's note names the
    input ``delete-untagged``."""
    from datetime import UTC, datetime

    from tests.actions.test_gha import command_files
    from tests.clirun import regkit
    from tests.ghcr_fixtures import TOKEN, Token
    from tests.ghcr_images import push_history
    from tests.ghcrfake import FakeGHCR
    from tests.rig.images import Pusher

    repo = "acme/iac-dev"
    fake = FakeGHCR(
        tmp_path / "ghcr", tokens={TOKEN: Token("bob", frozenset({"acme"}))}, orgs={"acme"}
    )
    with fake, Pusher(fake.backend_url) as pusher:
        push_history(pusher, repo, ["1a2b3c4", "2b3c4d5"])
        moved = datetime(2026, 2, 1, tzinfo=UTC)
        push_history(pusher, repo, ["2b3c4d5"], start=moved)  # its old build is untagged now
        files = command_files(tmp_path)
        env = {f"GITHUB_{k}": str(v) for k, v in files.items()}
        env.update(
            {
                "INPUT_IMAGES": f"{fake.host}/{repo}",
                "INPUT_KEEP": "5",
                "INPUT_GITHUB-TOKEN": TOKEN,
                "REGKIT_GHCR_HOST": fake.host,
                "GITHUB_API_URL": fake.api_url,
                "DOCKER_CONFIG": str(tmp_path / "no-docker-config"),
                "RUNNER_TEMP": str(tmp_path),
            }
        )
        cp = regkit("action", "prune", env=env)
    stdout = cp.stdout.decode()
    assert cp.returncode == 0, stdout + cp.stderr.decode()
    assert "left in place (input 'delete-untagged' deletes those older than the newest build)" in (
        stdout
    ), stdout
    assert "--delete-untagged" not in stdout
