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

Where the Docker config goes (input ``docker-config``): empty = ``job`` on a runner (wherever
``RUNNER_TEMP`` is set: the credentials must not outlive the job, and a composite action has no
post step to remove them), else ``$DOCKER_CONFIG`` or ``~/.docker`` (as ``docker login``);
``job`` = a new 0700 directory under ``RUNNER_TEMP``
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
from regkit.reference import validate_host

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
    temp = env.get("RUNNER_TEMP", "")
    if temp and os.path.isabs(temp):
        # On a runner: the job directory, on every runner. A composite action has no post step
        # to log out, and a self-hosted runner keeps ~/.docker between jobs, so credentials
        # written there would outlive the job; the job directory goes with RUNNER_TEMP.
        return choose_docker_config(JOB, env, None)
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


# Values that are never secrets whatever the file says: booleans and numbers (``ci``, ``1``,
# ``prod`` in a secrets file would otherwise become ``***`` everywhere in the job's logs).
_NOT_SECRET_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none"})
MIN_MASKED_LENGTH = 8


def values_to_mask(values: list[Any], target: ops.LoginTarget) -> list[str]:
    """The decrypted values to register as masks, besides the password and the auth string.

    The runner replaces a masked value everywhere in the rest of the job (logs, summaries,
    digests), however short, so only values that can be secrets are masked: strings of 8
    characters or more that are not a boolean or a number. The user name and the registry host
    (and any value inside the host, such as ``base_domain``) are never masked, as
    docker/login-action does: the host is the action's output, which the runner drops when it
    holds a mask.
    """
    out: list[str] = []
    for value in values:
        if isinstance(value, (bool, int, float)) or value is None:
            continue
        text = str(value)
        stripped = text.strip()
        if len(stripped) < MIN_MASKED_LENGTH or stripped.lower() in _NOT_SECRET_WORDS:
            continue
        try:
            float(stripped)
        except ValueError:
            pass
        else:
            continue
        if text == target.username or text in target.host:
            continue
        if text not in out:
            out.append(text)
    return out


def main(inputs: gha.Inputs) -> None:
    env = dict(inputs.environ)
    # The dispatcher (regkit.actions.run) has masked sops-age-key and password, whole and by line.
    mask = _Masker()
    username = inputs.get("username")
    password = inputs.get("password")
    age_key = inputs.get("sops-age-key")
    choice = choose_docker_config(inputs.get("docker-config"), env, detect_docker_config_paths(env))
    verify = inputs.get_bool("verify", True)
    ca_file = inputs.get("ca-file")
    path: Path | None = None
    if username is not None or password is not None:
        if age_key is not None:
            raise UsageError(
                "give either username and password, or sops-age-key (with secrets-file), not both"
            )
        if username is None or password is None:
            raise UsageError(
                "username and password go together: set both (e.g. secrets.REGISTRY_USERNAME "
                "and secrets.REGISTRY_PASSWORD), or use sops-age-key instead"
            )
        registry_input = inputs.get("registry")
        if registry_input is None:
            raise UsageError(
                "input 'registry' is required with username and password (e.g. "
                "registry.example.com, or ghcr.io with github.actor and github.token)"
            )
        mask.already(password)
        target = ops.LoginTarget(
            validate_host(registry_input), username, password, "--registry", "username", "password"
        )
        for secret in target.secrets:
            mask(secret)
        what = f"the credentials of user {username!r} (inputs username, password)"
    else:
        if age_key is None:
            raise UsageError(
                "input 'sops-age-key' is required (or username and password): set it with "
                "'with: sops-age-key: ${{ secrets.SOPS_AGE_KEY }}'"
            )
        mask.already(age_key)
        mask(env.get("SOPS_AGE_KEY"))  # a key the workflow also put in the environment

        from regkit.sops import decrypt_file, load_identities

        identities = load_identities({**env, "SOPS_AGE_KEY": age_key})
        for raw in identities.raw_secret_strings:
            mask(raw)

        secrets_file = inputs.get("secrets-file")
        path = Path(secrets_file) if secrets_file else ops.default_secrets_file()
        if not path.is_file():
            tried = secrets_file or " and ".join(ops.DEFAULT_SECRETS_FILES)
            raise UsageError(
                f"secrets-file {tried} does not exist (relative to {os.getcwd()}); check out "
                "the repository first (actions/checkout) or set the secrets-file input"
            )
        doc: Any = decrypt_file(path, identities=identities)
        target = ops.plan_login(
            doc.data,
            inputs.get("registry"),
            inputs.get("username-key", default=ops.DEFAULT_USERNAME_KEY),
            inputs.get("password-key", default=ops.DEFAULT_PASSWORD_KEY),
            inputs.get("registry-key", default=ops.DEFAULT_REGISTRY_KEY),
        )
        for secret in target.secrets:
            mask(secret)
        for value in values_to_mask(ops.secret_values(doc), target):
            mask(value)
        what = f"the credentials from {path} ({ops.key_description(target)})"
    # -- every secret is masked: output may start ---------------------------------------

    with gha.group(f"Log in to {target.host}"):
        checked: ops.VerifyResult | None = None
        if verify:
            # A TLS error carries a hint (Hint.CA_FILE) that the dispatcher words as an input.
            checked = ops.verify(target, ca_file=ca_file, what=what)
            source = path if path is not None else f"user {target.username}"
            gha.info(f"{target.host} accepted the credentials from {source}")
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
    path: Path | None,
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
    rows = [("Registry", f"{target.host} (from {source})")]
    if path is not None:
        rows += [
            ("Secrets file", str(path)),
            ("Keys", f"{target.username_key}, {target.password_key}"),
        ]
    else:
        rows.append(("User", f"{target.username} (inputs username and password)"))
    rows += [
        ("Credentials", status),
        ("Docker config", f"{written} ({choice.kind})"),
    ]
    if export is not None:
        rows.append(("DOCKER_CONFIG", f"{export} (exported to the later steps)"))
    heading = "SOPS registry login" if path else "Registry login"
    gha.summary.heading(heading, 3).table(("", ""), rows)


__all__ = ["ConfigChoice", "choose_docker_config", "main", "values_to_mask"]
