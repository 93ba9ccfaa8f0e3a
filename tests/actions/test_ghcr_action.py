"""The prune-tags and promote-image actions on the local GHCR: ``ghcr.io/OWNER/NAME`` with
``github-token`` only (no other login), masks first, no secret anywhere, and a token without
admin on the package failing with one line naming the permission to grant."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.actions.test_gha import command_files, parse_file_commands, raw, unescape_markdown
from tests.clirun import regkit
from tests.ghcr_fixtures import READER, TOKEN, ghcr, pusher
from tests.ghcr_images import push_history
from tests.ghcrfake import FakeGHCR
from tests.leakscan import assert_masked_first, assert_no_secrets
from tests.rig import Rig, tag_on_disk
from tests.rig.images import Pusher

__all__ = ["ghcr", "pusher"]

REPO = "acme/iac-dev"
TAGS = ["1a2b3c4", "2b3c4d5", "3c4d5e6"]


def _env(fake: FakeGHCR, files: dict[str, Path], **inputs: str) -> dict[str, str]:
    env = {f"GITHUB_{k}": str(v) for k, v in files.items()}
    env.update({f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()})
    env.update(
        REGKIT_GHCR_HOST=fake.host,
        GITHUB_API_URL=fake.api_url,
        REGKIT_GHCR_DELETE_INTERVAL="0",
        DOCKER_CONFIG=str(files["OUTPUT"].parent / "no-docker-config"),
    )
    return env


def _tags(fake: FakeGHCR) -> set[str]:
    return {t for ts in fake.tags_by_digest(REPO).values() for t in ts}


def test_prune_action_on_ghcr_with_github_token(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path
) -> None:
    builds = push_history(pusher, REPO, TAGS)
    files = command_files(tmp_path)
    env = _env(ghcr, files, images=f"{ghcr.host}/{REPO}", keep="1", dry_run="false")
    env["INPUT_GITHUB-TOKEN"] = TOKEN
    cp = regkit("action", "prune", env=env)
    stdout, stderr = cp.stdout.decode(), cp.stderr.decode()
    assert cp.returncode == 0, stdout + stderr
    secrets = [TOKEN, base64.b64encode(f"regkit:{TOKEN}".encode()).decode()]
    assert_masked_first(stdout, secrets)
    assert_no_secrets(
        {"stdout": stdout, "stderr": stderr, **{k: raw(p) for k, p in files.items()}}, secrets
    )
    assert _tags(ghcr) == {TAGS[2]}
    assert {v["name"] for v in ghcr.versions(REPO)} == set(builds[2].manifests)
    outputs = dict(parse_file_commands(raw(files["OUTPUT"])))
    assert sorted(json.loads(outputs["deleted"])) == [f"{ghcr.host}/{REPO}:{t}" for t in TAGS[:2]]
    assert outputs["deleted-count"] == "2" and outputs["kept-count"] == "1"
    plan = json.loads(Path(outputs["plan-file"]).read_text())
    versions = plan["repositories"][0]["result"]["versions"]
    assert sorted(v["role"] for v in versions) == ["child"] * 8 + ["image"] * 2
    summary = unescape_markdown(raw(files["STEP_SUMMARY"]))
    assert "GHCR: 10 of 15 package versions to delete (2 images, 0 referrers, 8 children" in summary
    assert "; 10 deleted" in summary


def test_prune_action_token_without_admin_fails_in_one_line(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path
) -> None:
    push_history(pusher, REPO, TAGS)
    before = ghcr.versions(REPO)
    files = command_files(tmp_path)
    env = _env(ghcr, files, images=f"{ghcr.host}/{REPO}", keep="1", dry_run="false")
    env["INPUT_GITHUB-TOKEN"] = READER
    cp = regkit("action", "prune", env=env)
    stdout, stderr = cp.stdout.decode(), cp.stderr.decode()
    assert cp.returncode == 1
    errors = [line for line in stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, stdout
    assert "Admin role" in errors[0] and "packages: write" in errors[0]
    assert "Traceback" not in stderr
    assert ghcr.versions(REPO) == before
    assert_no_secrets(
        {"stdout": stdout, "stderr": stderr, **{k: raw(p) for k, p in files.items()}}, [READER]
    )


def test_promote_action_on_ghcr_with_github_token(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path
) -> None:
    build = push_history(pusher, REPO, TAGS[:1])[0]
    files = command_files(tmp_path)
    env = _env(
        ghcr,
        files,
        image=f"{ghcr.host}/{REPO}",
        source=TAGS[0],
        targets="latest",
    )
    env["INPUT_GITHUB-TOKEN"] = TOKEN
    env["GITHUB_EVENT_NAME"] = "push"
    cp = regkit("action", "promote", env=env)
    stdout, stderr = cp.stdout.decode(), cp.stderr.decode()
    assert cp.returncode == 0, stdout + stderr
    secrets = [TOKEN, base64.b64encode(f"regkit:{TOKEN}".encode()).decode()]
    assert_masked_first(stdout, secrets)
    assert_no_secrets(
        {"stdout": stdout, "stderr": stderr, **{k: raw(p) for k, p in files.items()}}, secrets
    )
    assert ghcr.tags_by_digest(REPO)[build.index] == [TAGS[0], "latest"]
    assert len(ghcr.versions(REPO)) == 5


def test_promote_action_token_without_write_names_the_permission(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path
) -> None:
    from tests.ghcrfake import Token

    readonly = "ghs_readOnlyToken00000000000000000000000"
    ghcr.tokens[readonly] = Token("ci", frozenset({"acme"}), write=False, admin=False)
    push_history(pusher, REPO, TAGS[:1])
    files = command_files(tmp_path)
    env = _env(ghcr, files, image=f"{ghcr.host}/{REPO}", source=TAGS[0], targets="latest")
    env["INPUT_GITHUB-TOKEN"] = readonly
    env["GITHUB_EVENT_NAME"] = "push"
    cp = regkit("action", "promote", env=env)
    stdout, stderr = cp.stdout.decode(), cp.stderr.decode()
    assert cp.returncode == 1
    (error,) = [line for line in stdout.splitlines() if line.startswith("::error")]
    assert "'permissions: packages: write'" in error
    assert "latest" not in _tags(ghcr)
    assert_no_secrets({"stdout": stdout, "stderr": stderr}, [readonly])


def test_summary_rows_are_capped_across_ghcr_and_distribution(
    ghcr: FakeGHCR, pusher: Pusher, rig_basic: Rig, repo_prefix: str, tmp_path: Path
) -> None:
    """One job summary for a GHCR package and a distribution repository: the rows of both
    count against one cap (a summary over 1 MiB is dropped by the runner)."""
    from regkit.gha import SUMMARY_ROWS

    push_history(pusher, REPO, TAGS)
    repo = f"{repo_prefix}/many"
    image = rig_basic.pusher().push_image(repo, "0000000")
    tag_on_disk(rig_basic.storage_dir, repo, image.digest, [f"{i:07x}" for i in range(1, 1005)])
    files = command_files(tmp_path)
    images = f"{ghcr.host}/{REPO}\n{rig_basic.host}/{repo}"
    env = _env(ghcr, files, images=images, keep="1")
    env["INPUT_GITHUB-TOKEN"] = TOKEN
    env["DOCKER_CONFIG"] = rig_basic.env()["DOCKER_CONFIG"]
    cp = regkit("action", "prune", env=env)
    assert cp.returncode == 0, cp.stdout.decode() + cp.stderr.decode()
    summary = unescape_markdown(raw(files["STEP_SUMMARY"]))
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "---" not in line]
    headers = [line for line in rows if line.startswith("| TAG |")]
    assert len(headers) == 2
    assert len(rows) - len(headers) == SUMMARY_ROWS  # 3 GHCR rows, then the rest of the cap
    assert f"{1005 - (SUMMARY_ROWS - len(TAGS))} more tags not shown" in summary
