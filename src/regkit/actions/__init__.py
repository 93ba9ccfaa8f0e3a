"""``regkit action <name>``: the one entry point of every GitHub Action regkit ships.

Each action is a module ``regkit.actions.<name>`` with ``def main(inputs: Inputs) -> None``: it
reads its inputs through ``inputs``, does its work through ``regkit.ops``, and reports through
``regkit.gha`` (outputs, summary, groups). It does not catch ``RegkitError``: the dispatcher
turns one into a single ``::error::`` annotation and the error's exit code (1, or 2 for a usage
error), with no traceback.

To add an action: write the module, then add an ``ActionSpec`` to ``ACTIONS`` naming the inputs
that hold secrets. The dispatcher masks those before anything else runs, even before the module
is imported, so nothing an action prints (or a library warns) can come before the masks.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from regkit import gha
from regkit.errors import Hint, Namer, Param, RegkitError, UsageError, with_hint

ActionMain = Callable[[gha.Inputs], None]


@dataclass(frozen=True)
class ActionSpec:
    """An action: its name, its secret inputs, and the module with its ``main``.

    ``inputs`` are the inputs of its action.yml (test_workflows_lint keeps them equal): an
    error from the shared code that names a parameter (``Param``, by its CLI flag) with an
    input of the same name (or ``flag_inputs``' name for it) names that input instead."""

    name: str
    description: str
    secret_inputs: tuple[str, ...] = ()
    module_name: str | None = None  # default: regkit.actions.<name>
    inputs: tuple[str, ...] = ()
    flag_inputs: Mapping[str, str] = field(default_factory=dict)  # CLI flag -> input

    @property
    def module(self) -> str:
        return self.module_name or f"{__name__}.{self.name}"


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "login",
            "decrypt the SOPS secrets file (or take username and password), check the "
            "credentials, write the Docker config",
            secret_inputs=("sops-age-key", "password"),
            inputs=(
                "sops-age-key",
                "secrets-file",
                "username",
                "password",
                "registry",
                "username-key",
                "password-key",
                "registry-key",
                "docker-config",
                "verify",
                "ca-file",
            ),
            flag_inputs={"password-stdin": "password", "no-verify": "verify"},
        ),
        ActionSpec(
            "promote",
            "copy a tested tag to release tags and latest by digest",
            secret_inputs=("github-token",),
            inputs=(
                "image",
                "registry",
                "source",
                "targets",
                "expect-digest",
                "semver-aliases",
                "latest",
                "require-checks",
                "github-token",
                "dry-run",
                "ca-file",
            ),
        ),
        ActionSpec(
            "prune",
            "delete old SHA tags, keeping the newest and every protected tag",
            secret_inputs=("github-token",),
            inputs=(
                "images",
                "registry",
                "match",
                "keep",
                "older-than",
                "protect-tags",
                "protect-digests",
                "unprotect",
                "delete-orphans",
                "force",
                "protect-open-prs",
                "github-token",
                "delete-untagged",
                "dry-run",
                "jobs",
                "ca-file",
            ),
            flag_inputs={"protect-tag": "protect-tags", "protect-digest": "protect-digests"},
        ),
        ActionSpec(
            "overview",
            "write every repository's tags to the job summary",
            inputs=("registry", "images", "jobs", "ca-file"),
        ),
    )
}


#: The actions' words for the hints registry-layer errors carry (they name no CLI flag).
HINTS = {
    Hint.CA_FILE: "set the ca-file input to the PEM file of the registry's CA",
    Hint.INSECURE: "the actions use HTTPS only: serve the registry over TLS",
}


def input_words(spec: ActionSpec) -> Namer:
    """The action's words for a parameter it has an input for: ``input 'registry'``, and
    "set input 'registry'" where the CLI says "pass --registry HOST"; ``None`` for the rest
    (their CLI words stand)."""

    def words(param: Param) -> str | None:
        name = spec.flag_inputs.get(param.name, param.name)
        if name not in spec.inputs:
            return None
        return f"set input '{name}'" if param.ask else f"input '{name}'"

    return words


def as_inputs(err: RegkitError, spec: ActionSpec | None) -> str:
    """``err``'s one line in the action's words: its parameters as inputs, then its hint."""
    return with_hint(err, HINTS, input_words(spec)) if spec is not None else with_hint(err, HINTS)


def load(spec: ActionSpec) -> ActionMain:
    """Import the action's module and return its ``main``."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as err:
        if err.name != spec.module:
            raise
        raise RegkitError(
            f"action '{spec.name}' is not available in this regkit build: "
            "use a released version of the action"
        ) from None
    main = getattr(module, "main", None)
    if not callable(main):
        raise RegkitError(f"action '{spec.name}' has no main function: this is a bug in regkit")
    return main  # type: ignore[no-any-return]


def run(name: str, environ: Mapping[str, str] | None = None) -> int:
    """Run action ``name`` with inputs from ``environ`` (default ``os.environ``); the exit code."""
    _line_buffered_stdout()
    try:
        # In a Docker container action started as root: become the runner's user, so the
        # files written for later steps (Docker config, outputs) belong to it. No-op elsewhere.
        from regkit.dockerpaths import enter_runner_identity

        enter_runner_identity(environ)
        spec = ACTIONS.get(name)
        if spec is None:
            raise UsageError(f"unknown action '{name}': expected one of {', '.join(ACTIONS)}")
        inputs = gha.Inputs(environ)
        for secret_input in spec.secret_inputs:
            inputs.get_secret(secret_input)  # masks first, before any other output
        load(spec)(inputs)
    except RegkitError as err:
        gha.error(as_inputs(err, ACTIONS.get(name)))
        return err.exit_code
    except KeyboardInterrupt:
        gha.error(f"regkit action {name}: interrupted")
        return 130
    except Exception as err:  # a bug: say so, keep the traceback for the report
        gha.error(
            f"regkit action {name} failed unexpectedly ({type(err).__name__}): this is a bug in "
            "regkit; the traceback is in the log"
        )
        sys.stdout.flush()
        traceback.print_exc()
        return 1
    return 0


def _line_buffered_stdout() -> None:
    """Keep stdout and stderr lines in the order they were written (the runner merges them)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):  # a detached or exotic stream
            reconfigure(line_buffering=True)


__all__ = ["ACTIONS", "ActionMain", "ActionSpec", "load", "run"]
