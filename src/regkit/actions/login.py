"""``regkit action login``: the step behind ``actions/registry-login`` ("SOPS registry login").

Order matters, because the runner masks a value only from the moment it sees ``::add-mask::``:

1. (the dispatcher) the ``sops-age-key`` input, whole and line by line;
2. every age identity found (the input, ``SOPS_AGE_KEY``, key files, SSH keys), and each line of
   ``SOPS_AGE_KEY``;
3. after decryption: every decrypted string value, the password and base64 ``user:password``.

Only then is anything else printed. The identity reaches the decryptor in memory
(``SOPS_AGE_KEY`` in the mapping given to ``load_identities``), never on disk. Decrypted values
that are part of the registry host are not masked: the host is the action's output and appears
in the summary, and masking it would make the runner drop the output from job outputs.

Where the Docker config goes (input ``docker-config``): empty = ``$DOCKER_CONFIG`` or
``~/.docker`` (as ``docker login``); ``job`` = a new 0700 directory under ``RUNNER_TEMP``
(seeded with the current config's entries, but not its credential helpers, so our secret stays
in the job directory), exported as ``DOCKER_CONFIG``; a path = that directory, exported. Inside a
Docker container action, empty and ``job`` mean the shared directory ``regkit.dockerpaths``
picks, exported with its host path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from regkit import gha
from regkit.dockerconfig import atomic_write_json, load
from regkit.dockerpaths import DockerActionPaths, detect_docker_config_paths
from regkit.errors import UsageError
from regkit.ops import login as ops

JOB = "job"
_HELPER_KEYS = ("credsStore", "credHelpers")


@dataclass(frozen=True, slots=True)
class ConfigChoice:
    """Where to write, what to export as DOCKER_CONFIG (None: nothing), and why."""

    directory: Path | None  # None: make a new private directory under ``runner_temp``
    export: str | None
    kind: str
    runner_temp: Path | None = None


def choose_docker_config(
    value: str | None, env: Mapping[str, str], docker_action: DockerActionPaths | None
) -> ConfigChoice:
    """Decide where the Docker config goes (pure: the environment and the paths are data)."""
    if docker_action is not None:
        if value not in (None, "", JOB):
            # A path given here is a path inside the container: exported as DOCKER_CONFIG it
            # would mean nothing to the host steps that follow.
            raise UsageError(
                "docker-config: in the Docker action only the default or 'job' is possible "
                f"(the config goes to the runner's shared directory {docker_action.host_dir}); "
                "use the composite action ./actions/registry-login to write elsewhere"
            )
        return ConfigChoice(
            Path(docker_action.container_dir),
            str(docker_action.host_dir),
            "the runner's shared directory (Docker action)",
        )
    if value == JOB:
        temp = env.get("RUNNER_TEMP", "")
        if not temp or not os.path.isabs(temp):
            raise UsageError(
                "docker-config: job needs RUNNER_TEMP (set on every GitHub runner); "
                "leave docker-config empty or give a directory"
            )
        current = env.get("DOCKER_CONFIG", "")
        if current and _is_under(Path(current), Path(temp)):
            # An earlier login of this job made it: keep writing there, both logins survive.
            return ConfigChoice(Path(current), current, "job directory (reused)", Path(temp))
        return ConfigChoice(None, None, "job directory", Path(temp))
    if value:
        directory = Path(value).expanduser()
        if not directory.is_absolute():
            directory = Path(env.get("GITHUB_WORKSPACE") or os.getcwd()) / directory
        return ConfigChoice(directory, str(directory), "given directory")
    configured = env.get("DOCKER_CONFIG")
    default = Path(configured) if configured else Path(env.get("HOME") or Path.home()) / ".docker"
    return ConfigChoice(default.expanduser(), None, "default ($DOCKER_CONFIG or ~/.docker)")


def _is_under(path: Path, parent: Path) -> bool:
    try:
        PurePosixPath(os.path.normpath(path)).relative_to(os.path.normpath(parent))
    except ValueError:
        return False
    return True


def _make_job_dir(runner_temp: Path) -> Path:
    """A new 0700 directory under RUNNER_TEMP, seeded with the current config (no helpers)."""
    runner_temp.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="regkit-docker-config-", dir=runner_temp))
    current = load(None)  # what $DOCKER_CONFIG / ~/.docker holds now (earlier logins)
    seed = {k: v for k, v in current.items() if k not in _HELPER_KEYS}
    if seed:
        atomic_write_json(directory / "config.json", seed)
    return directory


class _Masker:
    """``gha.mask`` each value once (the runner needs each only once)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def already(self, value: str) -> None:
        """``value`` (and each line) was masked elsewhere."""
        self._seen.add(value)
        self._seen.update(line.strip() for line in value.splitlines())

    def __call__(self, value: str | None) -> None:
        if value and value not in self._seen:
            self._seen.add(value)
            gha.mask(value)


def main(inputs: gha.Inputs) -> None:
    env = dict(inputs.environ)
    # The dispatcher (regkit.actions.run) has masked the sops-age-key input, whole and by line.
    age_key = inputs.require("sops-age-key")
    mask = _Masker()
    mask.already(age_key)
    mask(env.get("SOPS_AGE_KEY"))  # a key the workflow also put in the environment

    from regkit.sops import decrypt_file, load_identities

    identities = load_identities({**env, "SOPS_AGE_KEY": age_key})
    for raw in identities.raw_secret_strings:
        mask(raw)

    secrets_file = inputs.get("secrets-file", default=ops.DEFAULT_SECRETS_FILE)
    registry = inputs.get("registry")
    username_key = inputs.get("username-key", default=ops.DEFAULT_USERNAME_KEY)
    password_key = inputs.get("password-key", default=ops.DEFAULT_PASSWORD_KEY)
    registry_key = inputs.get("registry-key", default=ops.DEFAULT_REGISTRY_KEY)
    verify = inputs.get_bool("verify", True)
    ca_file = inputs.get("ca-file")
    choice = choose_docker_config(inputs.get("docker-config"), env, detect_docker_config_paths(env))

    path = Path(secrets_file)
    if not path.is_file():
        raise UsageError(
            f"secrets-file {secrets_file} does not exist (relative to {os.getcwd()}); check out "
            "the repository first (actions/checkout) or set the secrets-file input"
        )
    doc: Any = decrypt_file(path, identities=identities)
    target = ops.plan_login(doc.data, registry, username_key, password_key, registry_key)
    for secret in target.secrets:
        mask(secret)
    for value in ops.secret_values(doc):
        # Values inside the host stay visible: the host is the output (a masked output is
        # dropped from job outputs by the runner) and is printed anyway.
        if str(value) not in target.host:
            mask(str(value))
    # -- every secret is masked: output may start ---------------------------------------

    with gha.group(f"Log in to {target.host}"):
        checked: ops.VerifyResult | None = None
        if verify:
            # A TLS error carries a hint (Hint.CA_FILE) that the dispatcher words as an input.
            checked = ops.verify(
                target,
                ca_file=ca_file,
                what=f"the credentials from {path} ({ops.key_description(target)})",
            )
            gha.info(f"{target.host} accepted the credentials from {path}")
        else:
            gha.info("verify: false: the credentials were not checked")
        directory = choice.directory
        if directory is None:
            assert choice.runner_temp is not None
            directory = _make_job_dir(choice.runner_temp)
        export = choice.export if choice.directory is not None else str(directory)
        stored = ops.write(target, directory)
        if export is not None:
            gha.export_variable("DOCKER_CONFIG", export)
        where = (
            f"docker-credential-{stored.helper} (entry in {stored.config_path})"
            if stored.helper
            else str(stored.config_path)
        )
        gha.info(f"Docker config: {where}")
    gha.set_output("registry", target.host)
    _summary(target, path, checked, verify, stored.config_path, stored.helper, choice, export)


def _summary(
    target: ops.LoginTarget,
    path: Path,
    checked: ops.VerifyResult | None,
    verify: bool,
    config_path: Path,
    helper: str | None,
    choice: ConfigChoice,
    export: str | None,
) -> None:
    if not verify:
        status = "not checked (verify: false)"
    elif checked is not None and not checked.auth_required:
        status = "the registry asks for no credentials"
    else:
        status = "accepted by the registry (GET /v2/)"
    source = "the registry input" if target.source == "--registry" else target.source
    written = f"docker-credential-{helper}, entry in {config_path}" if helper else str(config_path)
    rows = [
        ("Registry", f"{target.host} (from {source})"),
        ("Secrets file", str(path)),
        ("Keys", f"{target.username_key}, {target.password_key}"),
        ("Credentials", status),
        ("Docker config", f"{written} ({choice.kind})"),
    ]
    if export is not None:
        rows.append(("DOCKER_CONFIG", f"{export} (exported to the later steps)"))
    gha.summary.heading("SOPS registry login", 3).table(("", ""), rows)


__all__ = ["ConfigChoice", "choose_docker_config", "main"]
