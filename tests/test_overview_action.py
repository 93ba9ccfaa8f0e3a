"""``regkit action overview`` against both rig shapes: the job summary lists every tag with its
platforms and (escaped) description, credentials are masked before anything else, errors are one
``::error::`` line."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.cli import regkit
from tests.leakscan import assert_masked_first, assert_no_secrets
from tests.rig import Rig
from tests.test_gha import (
    command_files,
    parse_file_commands,
    raw,
    split_row,
    unescape_markdown,
)


def _env(rig: Rig, files: dict[str, Path], **inputs: str) -> dict[str, str]:
    env = {f"GITHUB_{k}": str(v) for k, v in files.items()}
    env.update({f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()})
    return rig.env(env)


def test_overview_action_summary(rig: Rig, repo_prefix: str, tmp_path: Path) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    pusher.push_image(
        repo, ["1a2b3c4", "latest"], "oci-index", description="Fix | pipes\nand *stars*"
    )
    pusher.push_image(repo, "0000001", "docker")
    files = command_files(tmp_path)
    cp = regkit("action", "overview", env=_env(rig, files, registry=rig.host, images=repo))
    stdout = cp.stdout.decode()
    assert cp.returncode == 0, stdout + cp.stderr.decode()

    username, password = rig.credentials
    secrets = [password, base64.b64encode(f"{username}:{password}".encode()).decode()]
    assert_masked_first(stdout, secrets)
    assert_no_secrets(
        {"stdout": stdout, "stderr": cp.stderr.decode(), **{k: raw(p) for k, p in files.items()}},
        secrets,
    )

    assert dict(parse_file_commands(raw(files["OUTPUT"]))) == {"repositories": "1", "tags": "3"}
    summary = raw(files["STEP_SUMMARY"]).splitlines()
    assert f"### {rig.host}/{repo}" in [unescape_markdown(s) for s in summary]
    rows = [split_row(line) for line in summary if line.startswith("| ")]
    header, body = rows[0], rows[2:]  # rows[1]: the | --- | line
    assert header == ["TAG", "DIGEST", "CREATED (UTC)", "PLATFORMS", "SIZE", "DESCRIPTION"]
    by_tag = {unescape_markdown(r[0]): [unescape_markdown(c) for c in r] for r in body}
    assert set(by_tag) == {"1a2b3c4", "latest", "0000001"}
    assert by_tag["latest"][3] == "linux/amd64,linux/arm64"
    assert by_tag["1a2b3c4"][5] == "Fix | pipes and *stars*"  # one line, literal
    assert by_tag["0000001"][3] == "linux/amd64"
    assert "::group::overview of" in stdout


def test_overview_action_error_is_one_annotation(rig: Rig, tmp_path: Path) -> None:
    files = command_files(tmp_path)
    cp = regkit("action", "overview", env=_env(rig, files, registry=rig.host, images="no/such"))
    assert cp.returncode == 1
    errors = [line for line in cp.stdout.decode().splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and "no/such" in errors[0]
    assert "Traceback" not in cp.stderr.decode()
    assert raw(files["OUTPUT"]) == ""


def test_overview_action_requires_registry(tmp_path: Path) -> None:
    files = command_files(tmp_path)
    cp = regkit("action", "overview", env={f"GITHUB_{k}": str(v) for k, v in files.items()})
    assert cp.returncode == 2
    assert cp.stdout.decode().startswith("::error::input 'registry' is required")
