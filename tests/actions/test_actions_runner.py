"""The actions and workflows on a (emulated) real runner: issue 14, items 1-5, 7, 8, 10-12.

Every test runs the composite actions (``actions/*/action.yml``), the Docker action
(``action.yml``) or a workflow job through ``tests.runner``: per-step file commands, env carried
between steps, the runner's bash flags, masks applied to every later line, the 1 MiB summary
limit, the Docker action's mounts and env translation.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.githubfake import REPO as GH_REPO
from tests.githubfake import github_api
from tests.githubfake import repo_path as gh_repo_path
from tests.leakscan import assert_no_secrets
from tests.rig import PRODUCTION, Rig, crane, rig_shapes, tag_on_disk
from tests.runner import (
    MASK,
    SUMMARY_LIMIT,
    Job,
    evaluate,
    substitute,
)
from tests.sops_helpers import encrypt, new_age_key

SUMMARY_ROWS = 1000  # regkit.gha.SUMMARY_ROWS, the rows a job summary shows in all
pytest_plugins = ("tests.runner", "tests.ghcr_fixtures")  # installed, job; ghcr

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
MakeJob = Callable[..., Job]


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _team_secrets(workspace: Path, rig: Rig, name: str = "infra.yml", **extra: str) -> str:
    """The team's SOPS file in ``workspace/secrets/<name>``; the CI identity."""
    key = new_age_key()
    body = (
        "# the team's file\n"
        f"base_domain: {rig.host.split(':')[0]}\n"
        f"registry_domain: {rig.host}\n"
        f"registry_username: {rig.username}\n"
        f"registry_password: {rig.password}\n"
        "registry_http_secret: 9f8e7d6c5b4a39281706f5e4d3c2b1a0\n"
    )
    body += "".join(f"{k}: {v}\n" for k, v in extra.items())
    directory = workspace / "secrets"
    directory.mkdir(exist_ok=True)
    encrypt(directory, body, name, recipients=[key.recipient, new_age_key().recipient])
    return key.identity


def _secrets(rig: Rig) -> list[str]:
    auth = base64.b64encode(f"{rig.username}:{rig.password}".encode()).decode()
    return [rig.password, auth]


def _all_text(job: Job) -> dict[str, str]:
    texts: dict[str, str] = {}
    for n, result in enumerate(job.results):
        for m, step in enumerate(result.all_steps()):
            texts[f"{n}.{m} stdout"] = step.raw_stdout.decode(errors="replace")
            texts[f"{n}.{m} stderr"] = step.raw_stderr.decode(errors="replace")
            texts[f"{n}.{m} summary"] = step.summary or ""
            texts[f"{n}.{m} outputs"] = json.dumps(step.outputs)
    texts["env"] = json.dumps(job.job_env)
    return texts


# -- item 12: the emulator itself ---------------------------------------------------------


def test_emulator_masks_later_lines_carries_env_and_uses_pipefail(tmp_path: Path) -> None:
    j = Job(tmp_path)
    first = j.run_script(
        "echo '::add-mask::s3cr3t-value'\n"
        "echo 'NAME<<EOF' >> \"$GITHUB_ENV\"; echo 'carried' >> \"$GITHUB_ENV\"; "
        'echo EOF >> "$GITHUB_ENV"\n'
        "echo 'x=1' >> \"$GITHUB_OUTPUT\"\n"
        "echo 'see s3cr3t-value' >> \"$GITHUB_STEP_SUMMARY\"\n"
    )
    assert first.outputs == {"x": "1"}
    assert first.summary == f"see {MASK}\n"
    second = j.run_script('echo "$NAME s3cr3t-value"')
    assert second.log[0] == f"carried {MASK}"
    piped = j.run_script("false | true\necho not reached")
    assert piped.conclusion == "failure" and "not reached" not in piped.text


def test_emulator_drops_a_summary_over_one_mebibyte(tmp_path: Path) -> None:
    j = Job(tmp_path)
    big = j.run_script(
        f"head -c {SUMMARY_LIMIT + 1} /dev/zero | tr '\\0' x >> \"$GITHUB_STEP_SUMMARY\""
    )
    assert big.summary is None
    assert any("upload aborted" in e for e in big.errors())


def test_emulator_expressions() -> None:
    ctx = {"github": {"event_name": "push", "repository": "A/B"}, "inputs": {"image": ""}}
    assert evaluate("inputs.image || github.repository", ctx) == "A/B"
    assert evaluate("github.event_name == 'PUSH'", ctx) is True  # case-insensitive
    assert substitute("g-${{ github.event_name != 'release' }}", ctx) == "g-true"
    assert evaluate("format('x-{0}', github.repository)", ctx) == "x-A/B"
    assert evaluate("secrets.MISSING != ''", {"secrets": {}}) is False  # null == '' on GitHub


# -- item 1: masks only what can be secret --------------------------------------------------


def test_login_masks_neither_short_values_nor_user_nor_host(job: MakeJob, rig_basic: Rig) -> None:
    j = job(secrets={})
    token = "tok_9Vq2mZr7Lx4pW8sN"
    identity = _team_secrets(
        j.workspace, rig_basic, environment="ci", stage="prod", replicas="1", enabled="true",
        api_token=token,
    )  # fmt: skip
    login = j.run_action(
        "actions/registry-login", {"sops-age-key": identity, "secrets-file": "secrets/infra.yml"}
    )
    assert login.conclusion == "success", login.text
    later = j.run_script(
        f'echo "ci prod 1 true {rig_basic.username} {rig_basic.host} sha256:0123456789"\n'
        f'echo "token {token} password {rig_basic.password}"'
    )
    assert later.log[0] == (
        f"ci prod 1 true {rig_basic.username} {rig_basic.host} sha256:0123456789"
    )
    assert later.log[1] == f"token {MASK} password {MASK}"
    assert login.outputs == {"registry": rig_basic.host}
    assert_no_secrets(_all_text(j), [*_secrets(rig_basic), identity, token])


def test_values_to_mask_rule() -> None:
    from regkit.actions.login import values_to_mask
    from regkit.ops.login import LoginTarget

    target = LoginTarget("registry.example.test", "ci-robot-user", "pw", "x")
    values = ["ci", "prod", "1", "true", 42, True, "12345678.5", "ci-robot-user", "example.test",
              "short7c", "longer-secret-1", "FALSE"]  # fmt: skip
    assert values_to_mask(values, target) == ["longer-secret-1"]


# -- items 7 and 10: job-scoped config by default, username/password, the team's file ---------


@pytest.mark.parametrize("runner_environment", ["self-hosted", "github-hosted"])
def test_default_docker_config_is_job_scoped(
    job: MakeJob, rig_basic: Rig, runner_environment: str
) -> None:
    j = job(runner_environment=runner_environment)
    identity = _team_secrets(j.workspace, rig_basic)
    login = j.run_action(
        "actions/registry-login", {"sops-age-key": identity, "secrets-file": "secrets/infra.yml"}
    )
    assert login.conclusion == "success", login.text
    config_dir = Path(j.job_env["DOCKER_CONFIG"])
    assert config_dir.parent == j.runner_temp
    assert not (j.home / ".docker").exists()  # nothing outlives the job's RUNNER_TEMP
    listed = j.run_script(f"crane catalog {rig_basic.host}")
    assert listed.conclusion == "success", listed.text


def test_login_with_username_and_password_inputs(job: MakeJob, rig: Rig, repo_prefix: str) -> None:
    rig.pusher().push_image(f"{repo_prefix}/app", "1a2b3c4")
    j = job()
    inputs = {"username": rig.username, "password": rig.password, "registry": rig.host}
    if rig.ca_file:
        inputs["ca-file"] = str(rig.ca_file)
    login = j.run_action("actions/registry-login", inputs)
    assert login.conclusion == "success", login.text
    assert login.outputs == {"registry": rig.host}
    assert "| User | " in (login.summary or "")
    env = {"SSL_CERT_FILE": str(rig.ca_file)} if rig.ca_file else {}
    listed = j.run_script(f"crane catalog {rig.host}", env=env)
    assert f"{repo_prefix}/app" in listed.log
    later = j.run_script(f'echo "{rig.username} {rig.password}"')
    assert later.log[0] == f"{rig.username} {MASK}"
    assert_no_secrets(_all_text(j), _secrets(rig))


def test_login_with_a_wrong_password_input_fails_in_one_line(job: MakeJob, rig_basic: Rig) -> None:
    j = job()
    wrong = "wrong-" + rig_basic.password
    login = j.run_action(
        "actions/registry-login",
        {"username": rig_basic.username, "password": wrong, "registry": rig_basic.host},
    )
    assert login.conclusion == "failure"
    assert len(login.errors()) == 1 and "refused the credentials" in login.errors()[0]
    assert "DOCKER_CONFIG" not in j.job_env
    assert_no_secrets(_all_text(j), [wrong])


def test_login_to_ghcr_with_the_jobs_token(job: MakeJob, ghcr: Any) -> None:
    """GHCR (the local fake, REGKIT_GHCR_HOST) with github.actor and github.token."""
    from tests.ghcr_fixtures import READER

    j = job(
        env={"REGKIT_GHCR_HOST": ghcr.host, "GITHUB_API_URL": ghcr.api_url},
        github={"actor": "ci", "token": READER},
    )
    login = j.run_action(
        "actions/registry-login",
        {"registry": ghcr.host, "username": "${{ github.actor }}", "password": READER},
    )
    assert login.conclusion == "success", login.text
    config = json.loads((Path(j.job_env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert config == {
        "auths": {ghcr.host: {"auth": base64.b64encode(f"ci:{READER}".encode()).decode()}}
    }
    assert_no_secrets(_all_text(j), [READER])


@pytest.mark.parametrize("name", ["infra.yml", "infrastructure-secrets.yml"])
def test_default_secrets_file_is_infra_then_the_older_name(
    job: MakeJob, rig_basic: Rig, name: str
) -> None:
    j = job()
    identity = _team_secrets(j.workspace, rig_basic, name)
    login = j.run_action("actions/registry-login", {"sops-age-key": identity})
    assert login.conclusion == "success", login.text
    assert f"secrets/{name}" in (login.summary or "")


# -- item 8 and 11: capped summaries, the JSON files, the overview action --------------------


def test_prune_summary_is_capped_and_the_full_plan_is_a_file(
    job: MakeJob, basic_rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/many"
    image = basic_rig.pusher().push_image(repo, "0000000")
    count = SUMMARY_ROWS + 200
    tags = [f"{i:07x}" for i in range(1, count)]
    tag_on_disk(basic_rig.storage_dir, repo, image.digest, tags)
    j = job()
    identity = _team_secrets(j.workspace, basic_rig)
    login = j.run_action(
        "actions/registry-login", {"sops-age-key": identity, "secrets-file": "secrets/infra.yml"}
    )
    assert login.conclusion == "success", login.text
    prune = j.run_action(
        "actions/prune-tags", {"images": repo, "registry": basic_rig.host, "keep": "3"}
    )
    assert prune.conclusion == "success", prune.text
    summary = prune.summary or ""
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == SUMMARY_ROWS + 1  # the header and the capped rows
    assert f"200 more tags not shown (the summary shows {SUMMARY_ROWS} rows" in summary
    plan = json.loads(Path(prune.outputs["plan-file"]).read_text())
    listed = {e["tag"] for e in _entries(plan)}
    assert listed == {"0000000", *tags}


def _entries(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for repo in plan["repositories"]:
        out += repo["plan"]["tags"]
    return out


def test_summary_never_passes_the_runners_limit(job: MakeJob) -> None:
    j = job()
    step = j.run_script(
        '"$RUNNER_TEMP"/regkit-*/bin/python -c "from regkit import gha\n'
        "for i in range(5000): gha.summary.text('x' * 400)\""
    )
    assert step.conclusion == "success", step.text
    assert step.summary is not None and step.errors() == []
    assert "runner drops a step summary larger than 1 MiB" in step.summary


@rig_shapes(PRODUCTION)
def test_registry_overview_action(job: MakeJob, rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, ["1a2b3c4", "latest"], "oci-index", description="Fix *it*")
    j = job()
    inputs = {"username": rig.username, "password": rig.password, "registry": rig.host}
    ca = {"ca-file": str(rig.ca_file)} if rig.ca_file else {}
    assert j.run_action("actions/registry-login", {**inputs, **ca}).conclusion == "success"
    overview = j.run_action(
        "actions/registry-overview", {"registry": rig.host, "images": repo, **ca}
    )
    assert overview.conclusion == "success", overview.text
    assert overview.outputs["repositories"] == "1" and overview.outputs["tags"] == "2"
    assert f"### {rig.host}/{repo}" in (overview.summary or "")
    data = json.loads(Path(overview.outputs["json-file"]).read_text())
    assert [r["name"] for r in data["repositories"]] == [repo]
    assert {t["tag"] for t in data["repositories"][0]["tags"]} == {"1a2b3c4", "latest"}
    assert_no_secrets(_all_text(j), _secrets(rig))


# -- item 12: the Docker action with the runner's mounts ---------------------------------------


def test_docker_action_login_then_overview_on_the_host(
    job: MakeJob, basic_rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/app"
    basic_rig.pusher().push_image(repo, "1a2b3c4")
    j = job()
    identity = _team_secrets(j.workspace, basic_rig)
    login = j.run_action(".", {"command": "login", "sops-age-key": identity})
    assert login.conclusion == "success", login.text
    host_dir = Path(j.job_env["DOCKER_CONFIG"])
    assert host_dir == j.runner_temp / "_github_home" / ".docker"
    assert login.outputs == {"registry": basic_rig.host}
    listed = j.run_script(f"crane catalog {basic_rig.host}")
    assert repo in listed.log
    overview = j.run_action(
        ".", {"command": "overview", "registry": basic_rig.host, "images": repo}
    )
    assert overview.conclusion == "success", overview.text
    data = json.loads(Path(overview.outputs["json-file"]).read_text())
    assert data["repositories"][0]["name"] == repo
    assert_no_secrets(_all_text(j), [*_secrets(basic_rig), identity])


# -- items 2, 3, 4, 5: the workflows -----------------------------------------------------------


def _checkout(job: Job, with_: dict[str, str]) -> None:
    return None  # the workspace already holds the checkout


USES = {"actions/checkout": _checkout}


@pytest.mark.parametrize(
    ("workflow", "job_id", "event"),
    [
        ("promote-image.yml", "promote", "push"),
        ("prune-tags.yml", "prune", "schedule"),
        ("static-code-analysis.yml", "image-scan", "workflow_dispatch"),
    ],
)
def test_workflows_skip_with_a_notice_without_the_registry_secrets(
    job: MakeJob, workflow: str, job_id: str, event: str
) -> None:
    j = job(secrets={}, github={"event_name": event}, uses=USES)
    result = j.run_workflow_job(WORKFLOWS / workflow, job_id)
    assert result.conclusion == "success", result.text
    notices = [a.message for a in result.annotations if a.kind == "notice"]
    assert len(notices) == 1 and "no SOPS_AGE_KEY secret" in notices[0]
    ran = [s.name for s in result.steps if s.conclusion != "skipped"]
    assert ran == [result.steps[0].name, "Check for the registry credentials"]


def test_promote_workflow_on_push_lowers_the_repository_name(job: MakeJob, basic_rig: Rig) -> None:
    sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
    image = basic_rig.pusher().push_image("example/hello-world", sha[:7])
    runs = "/repos/Example/Hello-World/actions/workflows/promote-image.yml/runs"
    with github_api({runs: "workflow-runs-promote-release-done.json"}) as gh:
        j = job(
            github={"event_name": "push", "repository": "Example/Hello-World", "sha": sha},
            env={"GITHUB_API_URL": gh.url},
            uses=USES,
        )
        identity = _team_secrets(j.workspace, basic_rig)
        j.secrets["SOPS_AGE_KEY"] = identity
        result = j.run_workflow_job(WORKFLOWS / "promote-image.yml", "promote")
        # the push waited for no earlier release promotion (the only one is completed)
        assert [s.path for s in gh.seen] == [runs]
        assert gh.seen[0].query["event"] == ["release"]
    assert result.conclusion == "success", result.text
    got = crane(basic_rig, "digest", basic_rig.ref("example/hello-world", "latest"))
    assert got.stdout.decode().strip() == image.digest
    assert_no_secrets(_all_text(j), [*_secrets(basic_rig), identity])


def _concurrency(workflow: str, github: dict[str, Any]) -> tuple[str, bool]:
    spec = _yaml(WORKFLOWS / workflow)["concurrency"]
    ctx = {"github": {"repository": "example/app", **github}, "inputs": {}}
    group = str(substitute(spec["group"], ctx))
    cancel = substitute(spec["cancel-in-progress"], ctx)
    return group, cancel is True or cancel == "true"


def test_ci_cancels_only_pull_request_runs() -> None:
    assert _concurrency("ci.yml", {"event_name": "pull_request", "ref": "refs/pull/7/merge"})[1]
    assert not _concurrency("ci.yml", {"event_name": "push", "ref": "refs/heads/main"})[1]


def test_a_release_promotion_is_never_queued_behind_pushes_or_prunes() -> None:
    def release(tag: str) -> tuple[str, bool]:
        return _concurrency(
            "promote-image.yml", {"event_name": "release", "event": {"release": {"tag_name": tag}}}
        )

    push = _concurrency("promote-image.yml", {"event_name": "push"})
    manual = _concurrency("promote-image.yml", {"event_name": "workflow_dispatch"})
    prune = _concurrency("prune-tags.yml", {"event_name": "schedule"})
    # promote (push, manual) and prune share one group: never at once, never cancelled running
    assert push[0] == manual[0] == prune[0]
    assert not push[1] and not prune[1]
    # a release can never be the pending run that the next push or prune replaces
    assert release("v1.2.3")[0] not in (push[0], release("v1.2.4")[0])
    assert not release("v1.2.3")[1]


def test_workflow_jobs_wait_for_the_other_registry_writer() -> None:
    """A release promotion and a prune do not share a group (a release must never be dropped),
    so each waits for a running run of the other that started first (lower run id)."""
    for workflow, job_id, other in (
        ("promote-image.yml", "promote", "prune-tags.yml"),
        ("prune-tags.yml", "prune", "promote-image.yml"),
    ):
        steps = _yaml(WORKFLOWS / workflow)["jobs"][job_id]["steps"]
        waits = [s for s in steps if "wait-for-runs" in str(s.get("run", ""))]
        assert len(waits) == 1, workflow
        assert other in waits[0]["run"]
        names = [s.get("name") for s in steps]
        assert names.index(waits[0]["name"]) < names.index("Log in to the registry")


def test_workflow_files_parse_as_the_runner_reads_them() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        doc = _yaml(path)
        assert re.fullmatch(r"[A-Za-z ]+", doc["name"]), path


def test_summary_rows_constant_matches_gha() -> None:
    from regkit import gha

    assert gha.SUMMARY_ROWS == SUMMARY_ROWS


# -- each action's reference page is true to its action file --------------------------------
# (the README links these pages; scripts/gen-docs writes them, tests/packaging/test_docs.py
# fails when one is stale: here the tables are checked against the action files themselves)


def _readme_tables(path: Path) -> str:
    """The input and output tables of an action as its reference page writes them."""
    doc = _yaml(path)
    lines = ["| input | default | description |", "|---|---|---|"]
    for name, spec in (doc.get("inputs") or {}).items():
        if spec.get("required"):
            default = "**required**"
        else:
            default = f"`{spec['default']}`" if "default" in spec else ""
        lines.append(f"| `{name}` | {default} | {' '.join(str(spec['description']).split())} |")
    lines += ["", "| output | description |", "|---|---|"]
    for name, spec in (doc.get("outputs") or {}).items():
        lines.append(f"| `{name}` | {' '.join(str(spec['description']).split())} |")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("action", sorted(p.parent.name for p in ROOT.glob("actions/*/action.yml")))
def test_reference_tables_match_the_action_files(action: str) -> None:
    page = ROOT / "docs" / "reference" / "actions" / f"{action}.md"
    assert _readme_tables(ROOT / "actions" / action / "action.yml") in page.read_text()
    assert f"(docs/reference/actions/{action}.md)" in (ROOT / "README.md").read_text()


def test_reference_lists_every_output_of_the_docker_action() -> None:
    page = (ROOT / "docs" / "reference" / "actions" / "docker-action.md").read_text()
    section = page[page.index("## Inputs and outputs") :]
    for name in _yaml(ROOT / "action.yml")["outputs"]:
        assert f"`{name}`" in section, name
    assert "(docs/reference/actions/docker-action.md)" in (ROOT / "README.md").read_text()


# -- wait-for-runs: a release promotion and a prune never write at once -----------------------


def _wait_step(job: Job, api: str, run_id: str) -> Any:
    return job.run_script(
        "python3 actions/wait-for-runs.py --workflow prune-tags.yml --timeout-minutes 0",
        env={
            "GITHUB_API_URL": api,
            "GITHUB_REPOSITORY": GH_REPO,
            "GITHUB_RUN_ID": run_id,
            "GH_TOKEN": WAIT_TOKEN,
        },
    )


WAIT_TOKEN = "ghs_waitForRunsToken0123456789abcdef"


def test_wait_for_runs_waits_for_an_earlier_running_prune(job: MakeJob) -> None:
    j = job()
    route = gh_repo_path("actions/workflows/prune-tags.yml/runs")
    with github_api({route: "workflow-runs-prune-running.json"}) as gh:
        blocked = _wait_step(j, gh.url, "13000000100")  # 13000000090 started first
        assert [s.path for s in gh.seen] == [route]
        assert WAIT_TOKEN in gh.seen[0].headers.get("authorization", "")
        later = _wait_step(j, gh.url, "13000000080")  # started before the running prune
    assert blocked.conclusion == "failure"
    assert blocked.errors() == [
        "wait-for-runs: prune-tags.yml run 13000000090 is still going after 0 minutes; nothing "
        "was written: run this again later"
    ]
    assert later.conclusion == "success", later.text
    assert_no_secrets(_all_text(j), [WAIT_TOKEN])


def test_wait_for_runs_passes_when_no_earlier_run_is_going(job: MakeJob) -> None:
    j = job()
    route = gh_repo_path("actions/workflows/prune-tags.yml/runs")
    with github_api({route: "workflow-runs-prune-done.json"}) as gh:
        step = _wait_step(j, gh.url, "13000000100")  # the queued 13000000120 came later
    assert step.conclusion == "success", step.text
    assert step.log[-1] == "no earlier run of prune-tags.yml is going: continuing"


def test_wait_for_runs_without_access_fails_writing_nothing(job: MakeJob) -> None:
    j = job()
    with github_api({}) as gh:  # 404: no actions: read
        step = _wait_step(j, gh.url, "13000000100")
    assert step.conclusion == "failure"
    assert len(step.errors()) == 1 and "give the job 'actions: read'" in step.errors()[0]
