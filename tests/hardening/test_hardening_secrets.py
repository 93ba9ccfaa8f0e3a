"""Secrets, one helper for every path: each action and each CLI command that touches credentials
runs against the rig, and everything it leaves behind is scanned for the password (raw, JSON,
hex, every base64 alignment, so ``base64("user:" + password)`` too), bearer tokens and age
identities: stdout, stderr, every ``GITHUB_*`` file, and for in-process calls the exception
(message, repr, args) and every log record down to DEBUG (regkit, httpx, httpcore). A secret may
appear only on an ``::add-mask::`` line, and those come first.

Also: plain HTTP to a host that is not loopback by name is refused without ``--insecure``.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from regkit.dockerconfig import Credentials
from regkit.errors import RegkitError
from regkit.ops import ConnectOptions, connect
from regkit.registry import RegistryClient
from regkit.sops import decrypt_file, load_identities
from tests.clirun import regkit
from tests.fakeserver import Answer, Seen, json_answer, serve
from tests.leakscan import assert_masked_first, assert_no_secrets, read_texts
from tests.rig import Rig
from tests.rig.images import PushedImage
from tests.sops_helpers import encrypt, new_age_key

WRONG = "wrong-Passw0rd-hardening"
TOKEN = "bearer-tok-3f9a8b7c6d5e4f3a2b1c"
GH_TOKEN = "ghp_hardeningtesttoken0123456789ab"


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# -- the one helper ------------------------------------------------------------------------


@dataclass
class Scanned:
    """What a run left behind, already scanned."""

    returncode: int
    stdout: str
    stderr: str
    texts: dict[str, str] = field(default_factory=dict)


def run_scanned(
    args: Sequence[str],
    secrets: list[str],
    *,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    github_files: dict[str, Path] | None = None,
    masked: list[str] | None = None,
    cwd: str | None = None,
) -> Scanned:
    """``regkit ARGS`` as a subprocess; fails the test if any secret leaked anywhere."""
    out = regkit(*args, env=env, input=input, cwd=cwd)
    stdout, stderr = out.stdout.decode(), out.stderr.decode()
    texts = {"stdout": stdout, "stderr": stderr, **read_texts(github_files or {})}
    assert_no_secrets(texts, secrets)
    if masked is not None:  # an action: these are masked before any other line
        assert_masked_first(stdout, masked)
    assert "Traceback" not in stderr, stderr
    return Scanned(out.returncode, stdout, stderr, texts)


@contextmanager
def scanned_in_process(
    secrets: list[str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[list[BaseException]]:
    """Run a block in this process: its exception (kept, not raised), every log record at
    DEBUG and up and what it printed are scanned afterwards."""
    caught: list[BaseException] = []
    caplog.set_level(logging.DEBUG)
    try:
        yield caught
    except RegkitError as err:
        caught.append(err)
    printed = capsys.readouterr()
    texts = {
        "stdout": printed.out,
        "stderr": printed.err,
        "log": "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records),
        "log-args": "\n".join(repr(r.args) for r in caplog.records),
    }
    for number, err in enumerate(caught):
        texts[f"exception {number}"] = f"{err}\n{err!r}\n{err.args!r}\n{err.__cause__!r}"
    assert_no_secrets(texts, secrets)


# -- every CLI path that touches credentials --------------------------------------------------


@dataclass
class Seeded:
    rig: Rig
    repo: str
    image: PushedImage
    config_dir: Path


Args = Callable[[str, Seeded], list[str]]

COMMANDS: dict[str, Args] = {
    "catalog": lambda h, s: ["catalog", h],
    "ls": lambda h, s: ["ls", f"{h}/{s.repo}"],
    "digest": lambda h, s: ["digest", f"{h}/{s.repo}:latest"],
    "manifest": lambda h, s: ["manifest", f"{h}/{s.repo}:latest"],
    "config": lambda h, s: ["config", f"{h}/{s.repo}:latest"],
    "overview": lambda h, s: ["overview", h, "--repo", s.repo],
    "promote": lambda h, s: ["promote", f"{h}/{s.repo}:latest", "v1.0.0"],
    "tag": lambda h, s: ["tag", f"{h}/{s.repo}:latest", "v2"],
    "copy": lambda h, s: ["copy", f"{h}/{s.repo}:latest", f"{h}/{s.repo}-copy:latest"],
    "prune": lambda h, s: ["prune", f"{h}/{s.repo}", "--match", "^aaaaaaa$", "--keep", "0", "-y"],
    "delete": lambda h, s: ["delete", f"{h}/{s.repo}:v2"],
    "login": lambda h, s: ["login", h, "--docker-config", str(s.config_dir)],
}


@pytest.fixture
def seeded(rig_basic: Rig, repo_prefix: str, tmp_path: Path) -> Seeded:
    rig_basic.ensure_running()
    repo = f"{repo_prefix}/app"
    image = rig_basic.pusher().push_image(repo, ["aaaaaaa", "latest"], "oci")
    return Seeded(rig_basic, repo, image, tmp_path / "docker-config")


def _prepare(seeded: Seeded, command: str) -> None:
    """Put back what a previous run of the command removed."""
    pusher = seeded.rig.pusher()
    if command == "delete":
        pusher.tag(seeded.image, ["v2"])
    if command == "prune":
        pusher.tag(seeded.image, ["aaaaaaa"])


@pytest.mark.parametrize("command", list(COMMANDS))
def test_cli_paths_never_show_a_credential(
    seeded: Seeded, rig_tls: Rig, command: str, tmp_path: Path
) -> None:
    rig = seeded.rig
    user, password = rig.credentials
    secrets = [password, basic(user, password), WRONG, basic(user, WRONG)]
    base_env = {"DOCKER_CONFIG": str(tmp_path / "no-config")}
    args = COMMANDS[command]

    # 1. --username + --password-stdin
    _prepare(seeded, command)
    flags = ["-v", "--username", user, "--password-stdin"]
    first = run_scanned(
        [*args(rig.host, seeded), *flags], secrets, env=base_env, input=password.encode() + b"\n"
    )
    assert first.returncode == 0, first.stderr

    # 2. REGISTRY_USERNAME / REGISTRY_PASSWORD
    _prepare(seeded, command)
    env = {**base_env, "REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": password}
    extra = ["--username", user] if command == "login" else []
    second = run_scanned([*args(rig.host, seeded), "-v", *extra], secrets, env=env)
    assert second.returncode == 0, second.stderr

    # 3. a wrong password: one line naming the user, never the password
    _prepare(seeded, command)
    env = {**base_env, "REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": WRONG}
    wrong = run_scanned([*args(rig.host, seeded), "-v", *extra], secrets, env=env)
    assert wrong.returncode == 1, wrong.stderr
    assert "regkit: error:" in wrong.stderr and user in wrong.stderr

    # 4. TLS that does not verify (no --ca-file): refused before any credential is sent
    tls_user, tls_password = rig_tls.credentials
    env = {**base_env, "REGISTRY_USERNAME": tls_user, "REGISTRY_PASSWORD": tls_password}
    tls = run_scanned(
        [*args(rig_tls.host, seeded), *extra],
        [*secrets, tls_password, basic(tls_user, tls_password)],
        env=env,
    )
    assert tls.returncode == 1, tls.stderr
    assert "--ca-file" in tls.stderr


def test_logout_and_login_from_a_sops_file_never_show_a_credential(
    seeded: Seeded, tmp_path: Path
) -> None:
    rig = seeded.rig
    user, password = rig.credentials
    key = new_age_key()
    text = (
        f"registry_username: {user}\nregistry_password: {password}\nregistry_domain: {rig.host}\n"
    )
    sops_file = encrypt(tmp_path, text, "secrets.yml", recipients=[key.recipient])
    secrets = [password, basic(user, password), key.identity]
    env = {"SOPS_AGE_KEY": key.identity, "DOCKER_CONFIG": str(tmp_path / "unused")}
    config_dir = tmp_path / "cfg"
    login = run_scanned(
        ["-v", "login", "--secrets-file", str(sops_file), "--docker-config", str(config_dir)],
        secrets,
        env=env,
    )
    assert login.returncode == 0, login.stderr
    stored = json.loads((config_dir / "config.json").read_text())
    assert stored["auths"][rig.host]["auth"] == basic(user, password)  # it did log in
    logout = run_scanned(["logout", rig.host, "--docker-config", str(config_dir)], secrets, env=env)
    assert logout.returncode == 0, logout.stderr
    assert rig.host not in json.loads((config_dir / "config.json").read_text()).get("auths", {})
    # the wrong key: the identity must not show in the error either
    other = new_age_key()
    wrong = run_scanned(
        ["login", "--secrets-file", str(sops_file), "--docker-config", str(config_dir)],
        [*secrets, other.identity],
        env={**env, "SOPS_AGE_KEY": other.identity},
    )
    assert wrong.returncode == 1, wrong.stderr


# -- bearer tokens -------------------------------------------------------------------------


def _token_registry(user: str, password: str) -> Callable[[Seen], Answer]:
    """A registry with a token service (registry:3 / Harbor style): Basic for the token, then
    Bearer for everything else. ``/v2/private/tags/list`` is denied even with the token."""
    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}'  # noqa: E501
    realm_holder: dict[str, str] = {}

    def route(seen: Seen) -> Answer:
        auth = seen.headers.get("authorization", "")
        if seen.path == "/token":
            if auth != f"Basic {basic(user, password)}":
                return json_answer(401, b'{"details":"bad credentials"}')
            return json_answer(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())
        if auth != f"Bearer {TOKEN}":
            realm = realm_holder["realm"]
            return json_answer(
                401,
                b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                WWW_Authenticate=f'Bearer realm="{realm}",service="fake"',
            )
        if seen.path == "/v2/":
            return json_answer(200, b"{}")
        if seen.path == "/v2/private/tags/list":
            return json_answer(403, b'{"errors":[{"code":"DENIED","message":"no access"}]}')
        if seen.path.endswith("/tags/list"):
            return json_answer(200, b'{"name":"app","tags":["latest"]}')
        if "/manifests/" in seen.path:
            return (
                200,
                {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
                manifest,
            )
        return json_answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"no"}]}')

    route.realm_holder = realm_holder  # type: ignore[attr-defined]
    return route


@contextmanager
def token_registry(user: str, password: str) -> Iterator[str]:
    route = _token_registry(user, password)
    with serve(route) as fake:
        route.realm_holder["realm"] = f"{fake.url}/token"  # type: ignore[attr-defined]
        yield fake.host


def test_bearer_tokens_never_show_on_the_command_line() -> None:
    user, password = "robot", "robot-Secret-pw-42"
    secrets = [password, basic(user, password), TOKEN]
    env = {"REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": password, "DOCKER_CONFIG": "/none"}
    with token_registry(user, password) as host:
        ok = run_scanned(["-v", "-v", "ls", f"{host}/app"], secrets, env=env)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout == "latest\n"
        manifest = run_scanned(["-v", "manifest", f"{host}/app:latest"], secrets, env=env)
        assert manifest.returncode == 0, manifest.stderr
        denied = run_scanned(["-v", "ls", f"{host}/private"], secrets, env=env)
        assert denied.returncode == 1 and "denied" in denied.stderr
        wrong = run_scanned(
            ["ls", f"{host}/app"], [*secrets, WRONG], env={**env, "REGISTRY_PASSWORD": WRONG}
        )
        assert wrong.returncode == 1 and "refused the credentials" in wrong.stderr


def test_bearer_tokens_never_reach_logs_or_exceptions_in_process(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    user, password = "robot", "robot-Secret-pw-42"
    secrets = [password, basic(user, password), TOKEN]
    with token_registry(user, password) as host:
        good, bad = Credentials(user, password), Credentials(user, WRONG)
        with (
            scanned_in_process(secrets, caplog, capsys) as caught,
            RegistryClient(host, credentials=good, verbose=2) as c,
        ):
            assert c.tags("app") == ["latest"]
            assert TOKEN in c.transport.secrets()  # the token was in use
            c.tags("private")  # 403: an exception to scan
        assert caught and "denied" in str(caught[0])
        with (
            scanned_in_process([*secrets, WRONG], caplog, capsys) as caught,
            RegistryClient(host, credentials=bad, verbose=2) as c,
        ):
            c.tags("app")
        assert caught and "refused the credentials" in str(caught[0])


# -- in-process: exceptions and logs of the registry client, options, SOPS ---------------------


def test_wrong_password_in_process_leaks_into_no_exception_or_log(
    seeded: Seeded, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = seeded.rig
    user, password = rig.credentials
    secrets = [password, basic(user, password), WRONG, basic(user, WRONG)]
    with scanned_in_process(secrets, caplog, capsys) as caught:
        options = ConnectOptions(username=user, password=WRONG, verbose=2)
        print(repr(options), repr(Credentials(user, WRONG)))
        with connect(rig.host, options) as client:
            client.tags(seeded.repo)
    assert caught and user in str(caught[0])
    options = ConnectOptions(username=user, password=password, verbose=2)
    with scanned_in_process(secrets, caplog, capsys) as caught, connect(rig.host, options) as c:
        assert "latest" in c.tags(seeded.repo)
        c.get_manifest(seeded.repo, "no-such-tag")
    assert caught and "not found" in str(caught[0])


def test_sops_errors_never_show_the_identity_or_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    key, other = new_age_key(), new_age_key()
    password = "sops-Held-password-77"
    path = encrypt(
        tmp_path, f"registry_password: {password}\n", "s.yml", recipients=[key.recipient]
    )
    secrets = [password, key.identity, other.identity]
    for identity in (other.identity, f"{other.identity}\n{key.identity}-broken"):
        with scanned_in_process(secrets, caplog, capsys) as caught:
            decrypt_file(path, load_identities({"SOPS_AGE_KEY": identity, "HOME": "/none"}))
        assert caught
    tampered = tmp_path / "t.yml"
    tampered.write_text(
        path.read_text().replace("registry_password: ENC[", "registry_password: ENC[x")
    )
    with scanned_in_process(secrets, caplog, capsys) as caught:
        decrypt_file(tampered, load_identities({"SOPS_AGE_KEY": key.identity, "HOME": "/none"}))
    assert caught


# -- every action, chained as a workflow uses them ---------------------------------------------


def _github(tmp_path: Path, name: str) -> dict[str, Path]:
    directory = tmp_path / f"gh-{name}"
    directory.mkdir()
    files = {
        n: directory / n.lower()
        for n in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY", "GITHUB_PATH")
    }
    for path in files.values():
        path.write_text("")
    return files


def _action_env(files: dict[str, Path], inputs: dict[str, str], **env: str) -> dict[str, Any]:
    return {
        "GITHUB_ACTIONS": "true",
        **{n: str(p) for n, p in files.items()},
        **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
        **env,
    }


def test_every_action_masks_first_and_leaks_nothing(seeded: Seeded, tmp_path: Path) -> None:
    """login (SOPS file -> job Docker config), then promote, prune and overview with that
    config, as a workflow chains them; then the same three with REGISTRY_PASSWORD."""
    rig = seeded.rig
    user, password = rig.credentials
    key = new_age_key()
    text = (
        f"registry_username: {user}\nregistry_password: {password}\nregistry_domain: {rig.host}\n"
    )
    sops_file = encrypt(tmp_path, text, "secrets.yml", recipients=[key.recipient])
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    secrets = [password, basic(user, password), key.identity]

    files = _github(tmp_path, "login")
    login = run_scanned(
        ["action", "login"],
        secrets,
        env=_action_env(
            files,
            {
                "sops-age-key": f"# CI\n{key.identity}\n",
                "secrets-file": str(sops_file),
                "docker-config": "job",
            },
            RUNNER_TEMP=str(runner_temp),
            HOME=str(home),
        ),
        github_files=files,
        masked=secrets,
        cwd=str(tmp_path),
    )
    assert login.returncode == 0, login.stdout + login.stderr
    exported = login.texts["GITHUB_ENV"]
    docker_config = exported.split("DOCKER_CONFIG<<", 1)[1].splitlines()[1]
    assert Path(docker_config, "config.json").is_file()

    steps: dict[str, dict[str, str]] = {
        "promote": {"image": f"{rig.host}/{seeded.repo}", "source": "latest", "targets": "v9.9.9"},
        "prune": {
            "registry": rig.host,
            "images": seeded.repo,
            "match": "^aaaaaaa$",
            "keep": "0",
            "dry-run": "false",
            "github-token": GH_TOKEN,
        },
        "overview": {"registry": rig.host, "images": seeded.repo},
    }
    for how in ("docker-config", "env"):
        for name, inputs in steps.items():
            _prepare(seeded, "prune")
            files = _github(tmp_path, f"{name}-{how}")
            extra = (
                {"DOCKER_CONFIG": docker_config}
                if how == "docker-config"
                else {
                    "DOCKER_CONFIG": str(tmp_path / "none"),
                    "REGISTRY_USERNAME": user,
                    "REGISTRY_PASSWORD": password,
                }
            )
            step = run_scanned(
                ["action", name],
                [*secrets, GH_TOKEN],
                env=_action_env(files, inputs, HOME=str(home), **extra),
                github_files=files,
                masked=[password, basic(user, password)] + ([GH_TOKEN] if name == "prune" else []),
                cwd=str(tmp_path),
            )
            assert step.returncode == 0, (name, how, step.stdout + step.stderr)
            assert step.texts["GITHUB_OUTPUT"], (name, how)
    assert rig.pusher().get_manifest(seeded.repo, "v9.9.9")[2] == seeded.image.digest

    # a wrong password in the Docker config: the error is one annotation, nothing leaks
    bad = json.loads(Path(docker_config, "config.json").read_text())
    bad["auths"][rig.host]["auth"] = basic(user, WRONG)
    Path(docker_config, "config.json").write_text(json.dumps(bad))
    for name, inputs in steps.items():
        files = _github(tmp_path, f"{name}-wrong")
        step = run_scanned(
            ["action", name],
            [*secrets, WRONG, basic(user, WRONG), GH_TOKEN],
            env=_action_env(files, inputs, HOME=str(home), DOCKER_CONFIG=docker_config),
            github_files=files,
            masked=[WRONG, basic(user, WRONG)],
            cwd=str(tmp_path),
        )
        assert step.returncode == 1, (name, step.stdout + step.stderr)
        assert step.stdout.count("::error::") == 1


# -- plain HTTP only for loopback, unless --insecure -------------------------------------------


def _loopback_alias() -> str | None:
    for name in ("vm", "runsc"):
        try:
            infos = socket.getaddrinfo(name, None)
        except OSError:
            continue
        if infos and all(info[4][0].startswith("127.") for info in infos):
            return name
    return None


def test_plain_http_to_a_non_loopback_name_needs_insecure(seeded: Seeded) -> None:
    """``vm`` resolves to 127.0.0.1 here, but by name it is not a loopback host: regkit must not
    fall back to plain HTTP for it (credentials would cross a network in clear)."""
    alias = _loopback_alias()
    if alias is None:
        pytest.skip("no host name here resolves to a loopback address (expected vm or runsc)")
    rig = seeded.rig
    user, password = rig.credentials
    port = rig.host.rsplit(":", 1)[1]
    host = f"{alias}:{port}"
    env = {"REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": password, "DOCKER_CONFIG": "/none"}
    secrets = [password, basic(user, password)]
    rig.mark()
    refused = run_scanned(["ls", f"{host}/{seeded.repo}"], secrets, env=env)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert "plain HTTP" in refused.stderr and "--insecure" in refused.stderr
    assert [r for r in rig.requests() if r.path.startswith("/v2")] == []  # nothing sent in clear

    allowed = run_scanned(["--insecure", "ls", f"{host}/{seeded.repo}"], secrets, env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert sorted(allowed.stdout.split()) == ["aaaaaaa", "latest"]
    assert "warning" in allowed.stderr and "--insecure" in allowed.stderr
