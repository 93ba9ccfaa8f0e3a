"""``regkit action overview`` against both rig shapes: the job summary lists every tag with its
platforms and (escaped) description, credentials are masked before anything else, errors are one
``::error::`` line."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.actions.test_gha import split_row, unescape_markdown
from tests.leakscan import assert_masked_first, assert_no_secrets
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.runner import StepResult, run_composite

pytest_plugins = ("tests.runner",)  # the fixture installed


def _run(tmp_path: Path, installed: Path, rig: Rig | None, **inputs: str) -> StepResult:
    """``actions/registry-overview`` in the runner emulator; credentials from the rig's Docker
    config (DOCKER_CONFIG, as registry-login leaves it)."""
    env = rig.env({}) if rig is not None else {}
    given = {k.replace("_", "-"): v for k, v in inputs.items()}
    return run_composite(tmp_path, "registry-overview", given, env, installed)


@rig_shapes(PRODUCTION)
def test_overview_action_summary(
    rig: Rig, repo_prefix: str, tmp_path: Path, installed: Path
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    pusher.push_image(
        repo, ["1a2b3c4", "latest"], "oci-index", description="Fix | pipes\nand *stars*"
    )
    pusher.push_image(repo, "0000001", "docker")
    ca = {"ca_file": str(rig.ca_file)} if rig.ca_file else {}
    result = _run(tmp_path, installed, rig, registry=rig.host, images=repo, **ca)
    step = result.main
    stdout = step.raw_stdout.decode()
    assert result.conclusion == "success", result.text

    username, password = rig.credentials
    secrets = [password, base64.b64encode(f"{username}:{password}".encode()).decode()]
    assert_masked_first(stdout, secrets)
    assert_no_secrets(
        {
            "stdout": stdout,
            "stderr": step.raw_stderr.decode(),
            "summary": step.summary or "",
            "outputs": str(step.outputs),
        },
        secrets,
    )

    outputs = dict(step.outputs)
    assert json.loads(Path(outputs.pop("json-file")).read_text())["repositories"][0]["name"] == repo
    assert outputs == {"repositories": "1", "tags": "3"}
    summary = (step.summary or "").splitlines()
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


@rig_shapes(PRODUCTION)
def test_overview_action_error_is_one_annotation(rig: Rig, tmp_path: Path, installed: Path) -> None:
    ca = {"ca_file": str(rig.ca_file)} if rig.ca_file else {}
    result = _run(tmp_path, installed, rig, registry=rig.host, images="no/such", **ca)
    assert result.conclusion == "failure" and result.main.exit_code == 1
    errors = result.errors()
    assert len(errors) == 1 and "no/such" in errors[0]
    assert "Traceback" not in result.main.raw_stderr.decode()
    assert result.main.outputs == {}


def test_overview_action_requires_registry(tmp_path: Path, installed: Path) -> None:
    result = _run(tmp_path, installed, None)
    assert result.main.exit_code == 2
    assert result.main.raw_stdout.decode().startswith("::error::input 'registry' is required")
