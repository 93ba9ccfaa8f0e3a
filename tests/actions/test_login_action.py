"""``regkit action login``: the contract of the registry-login action, against both rig shapes.

The step runs as the runner runs it: ``uses: ./actions/registry-login`` in the runner
emulator (tests/runner.py: the install step, then ``regkit action login`` with per-step file
commands). Every run is scanned for leaks (stdout, stderr, outputs, env, summary) and for masks
coming first.
"""

from __future__ import annotations

import base64
import json
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from regkit.actions.login import ConfigChoice, choose_docker_config
from regkit.dockerpaths import DockerActionPaths
from regkit.errors import UsageError
from regkit.gha import markdown_table
from tests.leakscan import assert_masked_first, assert_no_secrets
from tests.rig import Rig, crane
from tests.runner import Job, StepResult, workspace_with_actions
from tests.sops_helpers import encrypt, make_team_secrets, new_age_key

pytest_plugins = ("tests.runner",)  # the fixture installed


@dataclass
class Step:
    """One run of the registry-login composite action in the runner emulator."""

    result: StepResult
    job: Job

    @property
    def rc(self) -> int:
        return self.result.main.exit_code

    @property
    def stdout(self) -> str:
        return self.result.main.raw_stdout.decode()

    @property
    def stderr(self) -> str:
        return self.result.main.raw_stderr.decode()

    @property
    def outputs(self) -> dict[str, str]:
        return self.result.main.outputs

    @property
    def exported(self) -> dict[str, str]:
        """What the step wrote to its GITHUB_ENV."""
        return dict(self.result.main.exported)

    @property
    def summary(self) -> str:
        return self.result.main.summary or ""

    def texts(self) -> dict[str, str]:
        return {
            "stdout": self.stdout,
            "stderr": self.stderr,
            "summary": self.summary,
            "outputs": str(self.outputs),
            "env": str(self.exported),
        }


_JOBS: dict[Path, Job] = {}
_INSTALLED: list[Path] = []


@pytest.fixture(autouse=True)
def _installed(installed: Path) -> None:
    _INSTALLED[:] = [installed]


def run_action(tmp_path: Path, inputs: dict[str, str], **env: str) -> Step:
    """``uses: ./actions/registry-login`` in the job of ``tmp_path`` (one job per test: a second
    call is a later step of the same job). RUNNER_TEMP is ``tmp_path/runner-temp``, HOME
    ``tmp_path/home``; ``INPUT_X`` in ``env`` is input ``x``."""
    job = _JOBS.get(tmp_path)
    if job is None:
        job = Job(
            tmp_path / "runner",
            installed=_INSTALLED[0],
            runner_temp=tmp_path / "runner-temp",
            home=tmp_path / "home",
        )
        workspace_with_actions(job.workspace)
        _JOBS[tmp_path] = job
    given = {k.lower(): v for k, v in inputs.items()}
    for key, value in env.items():
        if key.startswith("INPUT_"):
            given[key.removeprefix("INPUT_").lower()] = value
        else:
            job.job_env[key] = value
    result = job.run_action("actions/registry-login", given)
    return Step(result, job)


@dataclass
class TeamFile:
    path: Path
    identity: str
    auth: str
    secrets: list[str]


def team_file(tmp_path: Path, rig: Rig, *, password: str | None = None) -> TeamFile:
    """A SOPS file whose ``registry_domain`` is the rig's host (the host comes from the file)."""
    key = new_age_key()
    other = new_age_key()
    pw = rig.password if password is None else password
    text = (
        "# team secrets\n"
        f"base_domain: team.example.test\n"
        f"registry_username: {rig.username}\n"
        f"# the password\nregistry_password: {pw}\n"
        "registry_http_secret: 9f8e7d6c5b4a39281706f5e4d3c2b1a0\n"
        f"registry_domain: {rig.host}\n"
    )
    directory = tmp_path / "secrets"
    directory.mkdir()
    path = encrypt(
        directory,
        text,
        "infrastructure-secrets.yml",
        recipients=[other.recipient, key.recipient],
    )
    auth = base64.b64encode(f"{rig.username}:{pw}".encode()).decode()
    return TeamFile(path, key.identity, auth, [pw, auth, key.identity])


def _inputs(team: TeamFile, rig: Rig, **more: str) -> dict[str, str]:
    inputs = {
        "SOPS-AGE-KEY": f"# CI key\n{team.identity}\n",
        "SECRETS-FILE": str(team.path),
    }
    if rig.ca_file:
        inputs["CA-FILE"] = str(rig.ca_file)
    inputs.update({k.upper(): v for k, v in more.items()})
    return inputs


def _row(label: str, value: str) -> str:
    """A line of the summary table, as ``regkit.gha`` writes it."""
    return markdown_table(("", ""), [(label, value)]).splitlines()[-1]


def _check_clean(step: Step, secrets: list[str]) -> None:
    assert_no_secrets(step.texts(), secrets)
    assert_masked_first(step.stdout, secrets)


def test_job_config_login_then_crane_lists_the_catalog(
    tmp_path: Path, rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, "1a2b3c4")
    team = team_file(tmp_path, rig)
    step = run_action(tmp_path, _inputs(team, rig, **{"docker-config": "job"}))
    assert step.rc == 0, step.texts()
    _check_clean(step, team.secrets)
    # the decrypted http secret is masked too, before anything else
    assert_masked_first(step.stdout, ["9f8e7d6c5b4a39281706f5e4d3c2b1a0"])

    assert step.outputs == {"registry": rig.host}
    exported = step.exported
    assert set(exported) == {"DOCKER_CONFIG"}
    config_dir = Path(exported["DOCKER_CONFIG"])
    assert config_dir.parent == tmp_path / "runner-temp"
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    config = config_dir / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"auths": {rig.host: {"auth": team.auth}}}
    assert not (tmp_path / "home" / ".docker").exists()  # the runner's ~/.docker untouched

    summary = step.summary
    assert "### SOPS registry login" in summary
    for row in (
        _row("Registry", f"{rig.host} (from key 'registry_domain')"),
        _row("Secrets file", str(team.path)),
        _row("Keys", "registry_username, registry_password"),
        _row("Credentials", "accepted by the registry (GET /v2/)"),
        _row("Docker config", f"{config} (job directory)"),
        _row("DOCKER_CONFIG", f"{config_dir} (exported to the later steps)"),
    ):
        assert row in summary, row
    assert f"::group::Log in to {rig.host}" in step.stdout

    listed = crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(config_dir)})
    assert repo in listed.stdout.decode().split()


def test_default_config_is_a_job_directory_seeded_from_the_runners(
    tmp_path: Path, rig: Rig
) -> None:
    """Issue 14 item 7: nothing outlives the job; earlier logins in ~/.docker still work."""
    team = team_file(tmp_path, rig)
    home_docker = tmp_path / "home" / ".docker"
    home_docker.mkdir(parents=True)
    before = '{"auths": {"ghcr.io": {"auth": "eDp5"}}}'
    (home_docker / "config.json").write_text(before)
    step = run_action(tmp_path, _inputs(team, rig))
    assert step.rc == 0, step.texts()
    _check_clean(step, team.secrets)
    assert step.outputs == {"registry": rig.host}
    job_dir = Path(step.exported["DOCKER_CONFIG"])
    assert job_dir.parent == tmp_path / "runner-temp"
    assert json.loads((job_dir / "config.json").read_text()) == {
        "auths": {"ghcr.io": {"auth": "eDp5"}, rig.host: {"auth": team.auth}}
    }
    assert (home_docker / "config.json").read_text() == before  # untouched
    crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(job_dir)})


def test_explicit_home_docker_dir_is_written_there(tmp_path: Path, rig: Rig) -> None:
    team = team_file(tmp_path, rig)
    home_docker = tmp_path / "home" / ".docker"
    home_docker.mkdir(parents=True)
    (home_docker / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "eDp5"}}}')
    step = run_action(tmp_path, _inputs(team, rig, **{"docker-config": str(home_docker)}))
    assert step.rc == 0, step.texts()
    _check_clean(step, team.secrets)
    assert step.exported == {"DOCKER_CONFIG": str(home_docker)}
    assert json.loads((home_docker / "config.json").read_text()) == {
        "auths": {"ghcr.io": {"auth": "eDp5"}, rig.host: {"auth": team.auth}}
    }


def test_wrong_password_fails_with_one_error_and_writes_nothing(tmp_path: Path, rig: Rig) -> None:
    team = team_file(tmp_path, rig, password="wrong-" + rig.password)
    step = run_action(tmp_path, _inputs(team, rig, **{"docker-config": "job"}))
    assert step.rc == 1
    _check_clean(step, team.secrets)
    errors = [line for line in step.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert f"{rig.host} refused the credentials" in errors[0]
    assert "nothing was written" in errors[0]
    assert step.stderr == ""  # no traceback
    assert step.outputs == {}
    assert step.exported == {}
    runner_temp = tmp_path / "runner-temp"
    assert [p for p in runner_temp.iterdir() if p.name.startswith("regkit-docker")] == []
    assert not (tmp_path / "home" / ".docker").exists()


def test_tls_without_ca_names_the_ca_file_input(tmp_path: Path, rig_tls: Rig) -> None:
    team = team_file(tmp_path, rig_tls)
    inputs = _inputs(team, rig_tls)
    del inputs["CA-FILE"]
    step = run_action(tmp_path, inputs)
    assert step.rc == 1
    _check_clean(step, team.secrets)
    errors = [line for line in step.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert "TLS verification failed" in errors[0]
    assert "ca-file input" in errors[0]
    assert not (tmp_path / "home" / ".docker").exists()


def test_team_layout_with_registry_input_and_verify_false(tmp_path: Path, rig: Rig) -> None:
    """The team's file (three recipients, comments in lists) with the ``registry`` input."""
    path, identity, _ = make_team_secrets(tmp_path, rig.username, rig.password, "team.test")
    auth = base64.b64encode(f"{rig.username}:{rig.password}".encode()).decode()
    secrets = [rig.password, auth, identity]
    inputs = {
        "SOPS-AGE-KEY": identity,
        "SECRETS-FILE": str(path),
        "REGISTRY": rig.host,
        "VERIFY": "false",
        "DOCKER-CONFIG": "job",
    }
    step = run_action(tmp_path, inputs)
    assert step.rc == 0, step.texts()
    _check_clean(step, secrets)
    assert step.outputs == {"registry": rig.host}
    assert _row("Credentials", "not checked (verify: false)") in step.summary
    assert _row("Registry", f"{rig.host} (from the registry input)") in step.summary
    config_dir = Path(step.exported["DOCKER_CONFIG"])
    crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(config_dir)})


def test_second_job_login_reuses_the_job_directory(tmp_path: Path, rig_basic: Rig) -> None:
    team = team_file(tmp_path, rig_basic)
    first = run_action(tmp_path, _inputs(team, rig_basic, **{"docker-config": "job"}))
    assert first.rc == 0, first.texts()
    job_dir = first.exported["DOCKER_CONFIG"]
    # a later step sees DOCKER_CONFIG; a second login (another host) must land in the same dir
    second = run_action(
        tmp_path,
        _inputs(team, rig_basic, **{"docker-config": "job", "registry": "localhost:1"}),
        DOCKER_CONFIG=job_dir,
        INPUT_VERIFY="false",
    )
    assert second.rc == 0, second.texts()
    assert second.exported["DOCKER_CONFIG"] == job_dir
    auths = json.loads((Path(job_dir) / "config.json").read_text())["auths"]
    assert set(auths) == {rig_basic.host, "localhost:1"}
    _check_clean(second, team.secrets)


def test_missing_age_key_input_is_a_usage_error(tmp_path: Path, rig_basic: Rig) -> None:
    team = team_file(tmp_path, rig_basic)
    inputs = _inputs(team, rig_basic)
    del inputs["SOPS-AGE-KEY"]
    step = run_action(tmp_path, inputs)
    assert step.rc == 2
    assert re.search(r"^::error::input 'sops-age-key' is required", step.stdout, re.M)


def test_wrong_age_key_fails_without_showing_it(tmp_path: Path, rig_basic: Rig) -> None:
    team = team_file(tmp_path, rig_basic)
    stranger = new_age_key().identity
    inputs = _inputs(team, rig_basic)
    inputs["SOPS-AGE-KEY"] = stranger
    step = run_action(tmp_path, inputs)
    assert step.rc == 1
    _check_clean(step, [stranger])
    assert len([ln for ln in step.stdout.splitlines() if ln.startswith("::error")]) == 1


# -- choose_docker_config (pure) -------------------------------------------------------------

DOCKER_PATHS = DockerActionPaths(
    PurePosixPath("/github/home/.docker"),
    PurePosixPath("/home/runner/work/_temp/_github_home/.docker"),
)


@pytest.mark.parametrize("value", [None, "job"])
def test_docker_action_writes_the_shared_directory_and_exports_the_host_path(
    value: str | None,
) -> None:
    choice = choose_docker_config(value, {"RUNNER_TEMP": "/github/runner_temp"}, DOCKER_PATHS)
    assert choice.directory == Path("/github/home/.docker")
    assert choice.export == "/home/runner/work/_temp/_github_home/.docker"


def test_job_needs_runner_temp() -> None:
    with pytest.raises(UsageError, match="RUNNER_TEMP"):
        choose_docker_config("job", {}, None)


def test_job_makes_a_new_directory_unless_docker_config_is_already_one() -> None:
    env = {"RUNNER_TEMP": "/rt"}
    assert choose_docker_config("job", env, None) == ConfigChoice(
        None, None, "job directory", Path("/rt")
    )
    reused = choose_docker_config("job", {**env, "DOCKER_CONFIG": "/rt/regkit-x"}, None)
    assert (reused.directory, reused.export) == (Path("/rt/regkit-x"), "/rt/regkit-x")
    other = choose_docker_config("job", {**env, "DOCKER_CONFIG": "/rtx/elsewhere"}, None)
    assert other.directory is None


def test_default_and_explicit_directories() -> None:
    env = {"DOCKER_CONFIG": "/cfg", "GITHUB_WORKSPACE": "/ws"}
    default = choose_docker_config(None, env, None)
    assert default.export is None
    explicit = choose_docker_config("ci/docker", env, None)
    assert (explicit.directory, explicit.export) == (Path("/ws/ci/docker"), "/ws/ci/docker")
