"""``regkit action prune``: the action contract (INPUT_* in, GITHUB_OUTPUT and the job summary
out, masks first, no secret anywhere) against the real registry, with the GitHub API recorded."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.actions.prune import image_targets
from regkit.errors import UsageError
from regkit.ops.prune.run import Target
from tests.actions.test_gha import split_row, unescape_markdown
from tests.githubfake import REPO as GH_REPO
from tests.githubfake import github_api, repo_path
from tests.leakscan import assert_masked_first, assert_no_secrets
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.runner import StepResult, run_composite

pytest_plugins = ("tests.runner",)  # the fixture installed

TOKEN = "ghp_prunetesttoken0123456789abcdef"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _run(
    tmp_path: Path, installed: Path, rig: Rig, env: dict[str, str] | None = None, **inputs: str
) -> StepResult:
    """``actions/prune-tags`` in the runner emulator; credentials from the rig's Docker config
    (DOCKER_CONFIG, as registry-login leaves it)."""
    given = {k.replace("_", "-"): v for k, v in inputs.items()}
    if rig.ca_file:
        given["ca-file"] = str(rig.ca_file)
    return run_composite(tmp_path, "prune-tags", given, rig.env(env or {}), installed)


def _texts(step: StepResult) -> dict[str, str]:
    return {
        "stdout": step.raw_stdout.decode(),
        "stderr": step.raw_stderr.decode(),
        "summary": step.summary or "",
        "outputs": str(step.outputs),
    }


def _tags(rig: Rig, repo: str) -> dict[str, str]:
    pusher = rig.pusher()
    return {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)}


@rig_shapes(PRODUCTION)
def test_prune_action_deletes_reports_and_leaks_nothing(
    rig: Rig, repo_prefix: str, tmp_path: Path, installed: Path
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    # c0ffee0 is the head of an open pull request (recorded answer): protected
    shas = ["c0ffee0", "1111111", "2222222", "3333333", "4444444"]
    images = pusher.push_images(repo, shas, "oci", start=T0, step=timedelta(hours=1))
    # edge, not latest: no built-in rule protects it (it stays because the default pattern does
    # not match it), so 1111111 on its digest still goes alone (untag)
    pusher.tag(images[1], ["edge"])
    before = _tags(rig, repo)
    with github_api({repo_path("pulls"): "pulls-open.json"}) as gh:
        result = _run(
            tmp_path,
            installed,
            rig,
            {"GITHUB_REPOSITORY": GH_REPO, "GITHUB_API_URL": gh.url},
            registry=rig.host,
            images=repo,
            keep="1",
            dry_run="false",
            protect_open_prs="true",
            github_token=TOKEN,
        )
        assert [s.path for s in gh.seen if TOKEN in s.headers.get("authorization", "")] == [
            repo_path("pulls")
        ]
    step = result.main
    stdout = step.raw_stdout.decode()
    assert result.conclusion == "success", result.text

    username, password = rig.credentials
    secrets = [password, base64.b64encode(f"{username}:{password}".encode()).decode(), TOKEN]
    assert_masked_first(stdout, secrets)
    assert_no_secrets(_texts(step), secrets)

    after = _tags(rig, repo)
    assert after == {t: before[t] for t in ("c0ffee0", "4444444", "edge")}

    outputs = dict(step.outputs)
    plan = json.loads(Path(outputs["plan-file"]).read_text())
    assert sorted(plan["deleted"]) == sorted(json.loads(outputs["deleted"]))
    # the audit trail (issue 16): one JSON line per removed tag, as `prune --record` writes
    record = [json.loads(line) for line in Path(outputs["record-file"]).read_text().splitlines()]
    assert sorted(r["tag"] for r in record) == ["1111111", "2222222", "3333333"]
    assert {r["repository"] for r in record} == {repo}
    assert all(r["digest"] == before[r["tag"]] and r["action"] for r in record)
    host_repo = f"{rig.host}/{repo}"
    assert sorted(json.loads(outputs["deleted"])) == [
        f"{host_repo}:1111111",
        f"{host_repo}:2222222",
        f"{host_repo}:3333333",
    ]
    assert outputs["deleted-count"] == "3"
    assert outputs["kept-count"] == "3"
    # 2222222 and 3333333 each free their own manifest and config; 1111111 frees nothing
    freed = sum(
        len(img.raw) + img.manifests[0].config.size for img in images if img.tags[0] in shas[2:4]
    )
    assert outputs["reclaimable-bytes"] == str(freed)

    summary = step.summary or ""
    assert "registry garbage-collect" in unescape_markdown(summary)
    lines = summary.splitlines()
    assert f"### {host_repo}" in [unescape_markdown(s) for s in lines]
    rows = [split_row(line) for line in lines if line.startswith("| ")]
    assert rows[0] == ["TAG", "DIGEST", "CREATED", "ACTION", "RESULT", "REASON"]
    by_tag = {unescape_markdown(r[0]): [unescape_markdown(c) for c in r] for r in rows[2:]}
    assert by_tag["c0ffee0"][3:5] == ["keep", ""] and by_tag["c0ffee0"][5] == "protected tag"
    assert by_tag["1111111"][3:5] == ["untag", "deleted"]
    assert by_tag["2222222"][3:5] == ["delete-manifest", "deleted"]
    assert "protected (open pull requests): c0ffee0" in stdout


@rig_shapes(PRODUCTION)
def test_prune_action_is_a_dry_run_by_default(
    rig: Rig, repo_prefix: str, tmp_path: Path, installed: Path
) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_images(repo, ["aaaaaaa", "bbbbbbb", "ccccccc"], "docker")
    before = _tags(rig, repo)
    rig.mark()
    result = _run(tmp_path, installed, rig, registry=rig.host, images=repo, keep="1")
    assert result.conclusion == "success", result.text
    assert _tags(rig, repo) == before
    assert [r for r in rig.requests() if r.method not in ("GET", "HEAD")] == []
    outputs = dict(result.main.outputs)
    assert Path(outputs.pop("plan-file")).is_file()
    assert outputs.pop("record-file") == ""  # a dry run removes nothing, so records nothing
    assert outputs == {
        "deleted": "[]",
        "deleted-count": "0",
        "kept-count": "3",
        "reclaimable-bytes": "0",
    }
    summary = result.main.summary or ""
    assert "dry run: nothing deleted" in unescape_markdown(summary)
    assert "delete-manifest" in unescape_markdown(summary)  # the plan is shown


@rig_shapes(PRODUCTION)
def test_prune_action_bad_input_is_one_error(rig: Rig, tmp_path: Path, installed: Path) -> None:
    result = _run(tmp_path, installed, rig, registry=rig.host, images="x/y", older_than="3 weeks")
    assert result.main.exit_code == 2
    errors = result.errors()
    assert len(errors) == 1 and "invalid duration '3 weeks'" in errors[0]
    assert result.main.outputs == {}
    assert "Traceback" not in result.main.raw_stderr.decode()


def test_image_targets() -> None:
    assert image_targets(["app", "reg.test:5000/other"], "reg.test") == [
        Target("reg.test", ("app",)),
        Target("reg.test:5000", ("other",)),
    ]
    assert image_targets(["*"], "reg.test") == [Target("reg.test", (), True)]
    with pytest.raises(UsageError, match="without a registry host"):
        image_targets(["app"], None)
    with pytest.raises(UsageError, match="stands alone"):
        image_targets(["*", "app"], "reg.test")
    with pytest.raises(UsageError, match="is required"):
        image_targets([], "reg.test")
