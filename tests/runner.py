"""A GitHub Actions runner emulator: what every action and workflow test runs in.

It reproduces the parts of actions/runner that decide whether an action works on a real runner:

- **Composite actions** (``runs.using: composite``): each step runs on its own, with its own
  fresh ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY`` files;
  ``shell: bash`` is ``bash --noprofile --norc -eo pipefail {0}`` with the script in a file;
  ``GITHUB_ACTION_PATH`` is the action's directory; a composite step gets no ``INPUT_*``
  variables (only what its ``env:`` maps); the step's outputs are read back from its file and the
  action's ``outputs:`` are evaluated from them.
- **Environment carried between steps**: what a step appends to ``GITHUB_ENV`` (``k=v`` or
  heredoc) is in the environment of every later step of the job; ``GITHUB_PATH`` lines are
  prepended to ``PATH``.
- **Expressions**: ``${{ ... }}`` with the subset the actions and workflows use: the contexts
  ``inputs``, ``steps.<id>.outputs``, ``env``, ``github``, ``runner``, ``secrets``, ``vars``,
  literals, ``!``, ``==``, ``!=``, ``&&``, ``||``, parentheses, and the functions ``success()``,
  ``failure()``, ``always()``, ``cancelled()``, ``contains()``, ``startsWith()``,
  ``endsWith()``, ``format()``, ``toJSON()``, ``fromJSON()``; strings compare case-insensitively.
- **Workflow commands** on stdout and stderr: ``::add-mask::`` registers a secret that is
  replaced by ``***`` in every later log line, in the step summary and in every later command
  (as the runner does, whatever the value's length); ``::stop-commands::TOKEN`` ... ``::TOKEN::``;
  ``::error::``, ``::warning::``, ``::notice::`` become annotations; ``::group::`` and
  ``::endgroup::`` are kept as log markers.
- **Step summary**: a file larger than 1 MiB is dropped (the runner shows an error annotation
  "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got ...k" and
  keeps no summary of that step).
- **Docker actions** (``runs.using: docker``): the container is emulated with a private mount
  namespace (``unshare --mount``): the runner's bind mounts (``<RUNNER_TEMP>/_github_home`` on
  ``/github/home``, ``_github_workflow`` on ``/github/workflow``, ``_runner_file_commands`` on
  ``/github/file_commands``, the workspace on ``/github/workspace``, ``RUNNER_TEMP`` on
  ``/github/runner_temp``), the runner's env translation (``INPUT_<NAME>`` upper-cased with
  hyphens kept, ``HOME``, ``GITHUB_WORKSPACE`` and the file-command paths rewritten to the
  container's paths) and the image's ``/opt/regkit`` (the installed regkit, bind-mounted there).

The tests give the remote actions a workflow uses (``actions/checkout`` and the like) as
``uses`` handlers; a ``uses`` the test did not provide fails the step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_LIMIT = 1024 * 1024  # the runner's step summary limit (bytes)
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
MASK = "***"

# -- expressions ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||<=|>=|[!()<>,.\[\]*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


class ExpressionError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse {text[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", 0.0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip() or 0)
    except ValueError:
        return float("nan")


def _equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: strings case-insensitively; values of different types (null, bool,
    number, string) compared as numbers (null and '' are 0, so ``secrets.MISSING != ''`` is
    false)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if a is None and b is None:
        return True
    if type(a) is type(b):
        return bool(a == b)
    return _number(a) == _number(b)


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], status: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.context = context
        self.status = status

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise ExpressionError("unexpected end of expression")
        tok = self.toks[self.i]
        if expected is not None and tok[1] != expected:
            raise ExpressionError(f"expected {expected!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.i != len(self.toks):
            raise ExpressionError(f"unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.cmp()
        while self.peek() == "&&":
            self.take()
            right = self.cmp()
            value = right if truthy(value) else value
        return value

    def cmp(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
            right = self.unary()
            if op == "==":
                value = _equal(value, right)
            elif op == "!=":
                value = not _equal(value, right)
            else:
                a, b = _number(value), _number(right)
                value = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, tok = self.take()
        if tok == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if kind == "num":
            return float(tok) if "." in tok else int(tok)
        if kind != "name":
            raise ExpressionError(f"unexpected {tok!r}")
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "null":
            return None
        if self.peek() == "(":
            return self.call(tok)
        value: Any = self.context.get(tok)
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = _text(self.or_())
                self.take("]")
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ")":
            args.append(self.or_())
            if self.peek() == ",":
                self.take()
        self.take(")")
        low = name.lower()
        if low == "success":
            return self.status == "success"
        if low == "failure":
            return self.status == "failure"
        if low == "always":
            return True
        if low == "cancelled":
            return False
        if low == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_equal(h, needle) for h in hay)
            return _text(needle).lower() in _text(hay).lower()
        if low == "startswith":
            return _text(args[0]).lower().startswith(_text(args[1]).lower())
        if low == "endswith":
            return _text(args[0]).lower().endswith(_text(args[1]).lower())
        if low == "format":
            out = _text(args[0])
            for n, arg in enumerate(args[1:]):
                out = out.replace("{" + str(n) + "}", _text(arg))
            return out
        if low == "tojson":
            return json.dumps(args[0], indent=2)
        if low == "fromjson":
            return json.loads(_text(args[0]))
        raise ExpressionError(f"function {name}() is not emulated")


def evaluate(expression: str, context: Mapping[str, Any], status: str = "success") -> Any:
    """The value of one expression (without ``${{ }}``)."""
    return _Parser(expression, context, status).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(value: Any, context: Mapping[str, Any], status: str = "success") -> Any:
    """``${{ }}`` in a string replaced by the expression's value (a lone expression keeps its
    type; inside text it becomes text)."""
    if not isinstance(value, str):
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), context, status)
    return _TEMPLATE.sub(lambda m: _text(evaluate(m.group(1), context, status)), value)


def condition(text: Any, context: Mapping[str, Any], status: str) -> bool:
    """A step's ``if:``: ``success() &&`` is implied unless a status function is named."""
    if text is None:
        return status == "success"
    if isinstance(text, bool):
        return text and status == "success"
    expr = str(text).strip()
    m = _TEMPLATE.fullmatch(expr)
    if m:
        expr = m.group(1).strip()
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expr):
        expr = f"success() && ({expr})"
    return truthy(evaluate(expr, context, status))


# -- file commands --------------------------------------------------------------------------


def parse_file_command(text: str) -> dict[str, str]:
    """A ``GITHUB_OUTPUT``/``GITHUB_ENV`` file as the runner reads it (``k=v`` or heredoc)."""
    out: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line.strip():
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc >= 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            value: list[str] = []
            for item in lines:
                if item == delimiter:
                    break
                value.append(item)
            else:
                raise ValueError(f"matching delimiter not found {delimiter!r}")
            out[name] = "\n".join(value)
        elif eq > 0:
            out[line[:eq]] = line[eq + 1 :]
        else:
            raise ValueError(f"invalid file command line {line!r}")
    return out


# -- the job --------------------------------------------------------------------------------


@dataclass
class Annotation:
    kind: str
    message: str


@dataclass
class StepResult:
    """What one step left: its exit code, outputs, the masked log, annotations and summary."""

    name: str
    conclusion: str  # success | failure | skipped
    exit_code: int
    outputs: dict[str, str]
    log: list[str]
    annotations: list[Annotation]
    summary: str | None  # None: no summary (none written, or dropped by the size limit)
    raw_stdout: bytes = b""
    raw_stderr: bytes = b""
    steps: list[StepResult] = field(default_factory=list)  # a composite action's own steps
    exported: dict[str, str] = field(default_factory=dict)  # what the step wrote to GITHUB_ENV

    @property
    def text(self) -> str:
        return "\n".join(self.log)

    def errors(self) -> list[str]:
        return [a.message for a in self.annotations if a.kind == "error"]

    @property
    def main(self) -> StepResult:
        """A composite action's last step that ran (the ``regkit action`` step)."""
        ran = [s for s in self.steps if s.conclusion != "skipped"]
        return ran[-1] if ran else self

    def all_steps(self) -> list[StepResult]:
        out = [self]
        for step in self.steps:
            out += step.all_steps()
        return out


Uses = Callable[["Job", Mapping[str, str]], "StepResult | None"]


def cache_miss(job: Job, with_: Mapping[str, str]) -> StepResult:
    """``actions/cache`` (the composite actions' install cache) on a runner whose cache holds
    nothing: a miss. tests/packaging/test_install_cache.py gives a cache that keeps entries."""
    return StepResult("actions/cache", "success", 0, {"cache-hit": "false"}, [], [], None)


class Job:
    """One job on one runner: a workspace, RUNNER_TEMP, the job's env, masks and contexts."""

    def __init__(
        self,
        base: Path,
        *,
        env: Mapping[str, str] | None = None,
        github: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        vars: Mapping[str, str] | None = None,
        runner_environment: str = "github-hosted",
        workspace: Path | None = None,
        uses: Mapping[str, Uses] | None = None,
        installed: Path | None = None,
        runner_temp: Path | None = None,
        home: Path | None = None,
    ) -> None:
        self.base = base
        self.workspace = workspace or base / "work" / "repo" / "repo"
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.runner_temp = runner_temp or base / "work" / "_temp"
        self.runner_temp.mkdir(parents=True, exist_ok=True)
        self.tool_cache = base / "toolcache"
        self.tool_cache.mkdir(parents=True, exist_ok=True)
        self.home = home or base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.masks: list[str] = []
        self.job_env: dict[str, str] = {}
        self.path_prepend: list[str] = []
        self.uses = {"actions/cache": cache_miss, **(uses or {})}
        self.results: list[StepResult] = []
        self.status = "success"
        self.secrets = dict(secrets or {})
        self.vars = dict(vars or {})
        self.installed = installed
        gh: dict[str, Any] = {
            "repository": "example/regkit",
            "repository_owner": "example",
            "event_name": "push",
            "ref": "refs/heads/main",
            "sha": "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
            "token": "ghs_runnerEmulatorToken0000000000000000",
            "workspace": str(self.workspace),
            "server_url": "https://github.com",
            # nothing leaves the machine: a test that needs the API gives its fake's URL
            "api_url": "http://127.0.0.1:9",
            "run_id": "1",
            "event": {},
        }
        gh.update(github or {})
        self.github = gh
        self.runner = {
            "os": "Linux",
            "arch": "X64",
            "temp": str(self.runner_temp),
            "tool_cache": str(self.tool_cache),
            "environment": runner_environment,
        }
        keep = ("PATH", "LANG", "TMPDIR", "REGKIT_CACHE", "PIP_FIND_LINKS", "PIP_CERT")
        self.base_env = {k: v for k, v in os.environ.items() if k in keep}
        self.base_env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "HOME": str(self.home),
                "GITHUB_WORKSPACE": str(self.workspace),
                "RUNNER_WORKSPACE": str(self.workspace.parent),
                "GITHUB_REPOSITORY": str(gh["repository"]),
                "GITHUB_REPOSITORY_OWNER": str(gh["repository_owner"]),
                "GITHUB_EVENT_NAME": str(gh["event_name"]),
                "GITHUB_REF": str(gh["ref"]),
                "GITHUB_SHA": str(gh["sha"]),
                "GITHUB_SERVER_URL": str(gh["server_url"]),
                "GITHUB_API_URL": str(gh["api_url"]),
                "GITHUB_RUN_ID": str(gh["run_id"]),
                "RUNNER_TEMP": str(self.runner_temp),
                "RUNNER_TOOL_CACHE": str(self.tool_cache),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                "RUNNER_ENVIRONMENT": runner_environment,
            }
        )
        self.base_env.update(env or {})
        event_path = self.runner_temp / "_github_workflow" / "event.json"
        event_path.parent.mkdir(parents=True, exist_ok=True)
        event_path.write_text(json.dumps(gh.get("event") or {}))
        self.base_env.setdefault("GITHUB_EVENT_PATH", str(event_path))
        if installed is not None:
            self.seed_install(installed)

    # -- installation shared across tests --------------------------------------------------

    def seed_install(self, venv: Path) -> None:
        """Make ``venv`` (built by ``actions/install.py`` with this Python and these sources)
        the one install.py finds complete in RUNNER_TEMP, as a second action of a job does."""
        marker = (venv / ".regkit-install-key").read_text().strip()
        link = self.runner_temp / f"regkit-{marker[:16]}"
        if not link.exists():
            link.symlink_to(venv)

    # -- masking and commands -----------------------------------------------------------------

    def add_mask(self, value: str) -> None:
        value = value.strip()
        if value and value not in self.masks:
            self.masks.append(value)
            self.masks.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.masks:
            text = text.replace(secret, MASK)
        return text

    def _process(self, data: bytes) -> tuple[list[str], list[Annotation]]:
        log: list[str] = []
        notes: list[Annotation] = []
        stopped: str | None = None
        lines = re.split(r"\r\n|\r|\n", data.decode("utf-8", "replace"))
        if lines and lines[-1] == "":
            lines.pop()  # the text ended with a line break
        for line in lines:
            stripped = line.lstrip()
            if stopped is not None:
                if stripped == f"::{stopped}::":
                    stopped = None
                else:
                    log.append(self.scrub(line))
                continue
            m = re.match(r"::([A-Za-z-]+)(?: ([^:]*))?::(.*)$", stripped)
            if not m:
                log.append(self.scrub(line))
                continue
            name, message = m.group(1), _unescape(m.group(3))
            if name == "add-mask":
                self.add_mask(message)
            elif name == "stop-commands":
                stopped = message
            elif name in ("error", "warning", "notice"):
                notes.append(Annotation(name, self.scrub(message)))
                log.append(self.scrub(f"##[{name}]{message}"))
            elif name in ("group", "endgroup", "debug"):
                log.append(self.scrub(f"##[{name}]{message}"))
            else:
                log.append(self.scrub(line))
        return log, notes

    # -- contexts ---------------------------------------------------------------------------

    def env_now(self) -> dict[str, str]:
        env = {**self.base_env, **self.job_env}
        if self.path_prepend:
            env["PATH"] = os.pathsep.join([*self.path_prepend, env.get("PATH", "")])
        return env

    def context(
        self,
        inputs: Mapping[str, Any] | None = None,
        steps: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return {
            "github": self.github,
            "runner": self.runner,
            "secrets": {"GITHUB_TOKEN": self.github["token"], **self.secrets},
            "vars": self.vars,
            "inputs": dict(inputs or {}),
            "steps": dict(steps or {}),
            "env": dict(env if env is not None else self.env_now()),
            "job": {"status": self.status},
        }

    # -- running ------------------------------------------------------------------------------

    def _files(self) -> dict[str, Path]:
        directory = self.runner_temp / "_runner_file_commands"
        directory.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, prefix in (
            ("GITHUB_OUTPUT", "set_output"),
            ("GITHUB_ENV", "set_env"),
            ("GITHUB_PATH", "add_path"),
            ("GITHUB_STEP_SUMMARY", "step_summary"),
            ("GITHUB_STATE", "save_state"),
        ):
            path = directory / f"{prefix}_{uuid.uuid4()}"
            path.write_text("")
            files[name] = path
        return files

    def _finish(
        self,
        name: str,
        cp: subprocess.CompletedProcess[bytes],
        files: dict[str, Path],
        children: list[StepResult] | None = None,
    ) -> StepResult:
        log, notes = self._process(cp.stdout)
        more_log, more_notes = self._process(cp.stderr)  # the runner reads both streams
        log += more_log
        notes += more_notes
        outputs = parse_file_command(files["GITHUB_OUTPUT"].read_text())
        exported = parse_file_command(files["GITHUB_ENV"].read_text())
        self.job_env.update(exported)
        for line in files["GITHUB_PATH"].read_text().splitlines():
            if line.strip():
                self.path_prepend.insert(0, line.strip())
        summary: str | None = files["GITHUB_STEP_SUMMARY"].read_text() or None
        size = files["GITHUB_STEP_SUMMARY"].stat().st_size
        if size > SUMMARY_LIMIT:
            notes.append(
                Annotation(
                    "error",
                    "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of "
                    f"1024k, got {size // 1024}k.",
                )
            )
            summary = None
        elif summary is not None:
            summary = self.scrub(summary)
        conclusion = "success" if cp.returncode == 0 else "failure"
        return StepResult(
            name, conclusion, cp.returncode, outputs, log, notes, summary, cp.stdout, cp.stderr,
            children or [], exported,
        )  # fmt: skip

    def run_script(
        self,
        script: str,
        *,
        env: Mapping[str, str] | None = None,
        name: str = "run",
        action_path: Path | None = None,
        cwd: Path | None = None,
        shell: str = "bash",
    ) -> StepResult:
        """A ``run:`` step: the script in a file, run with the runner's bash flags."""
        if shell != "bash":
            raise AssertionError(f"shell {shell!r} is not emulated")
        files = self._files()
        script_path = self.runner_temp / f"{uuid.uuid4()}.sh"
        script_path.write_text(script)
        full = {**self.env_now(), **(env or {}), **{k: str(v) for k, v in files.items()}}
        if action_path is not None:
            full["GITHUB_ACTION_PATH"] = str(action_path)
        cp = subprocess.run(
            [*BASH, str(script_path)],
            env=full,
            cwd=str(cwd or self.workspace),
            capture_output=True,
            check=False,
            timeout=600,
        )
        return self._finish(name, cp, files)

    def run_action(
        self,
        action: str | Path,
        with_: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        """A ``uses:`` step of a local action directory (composite or Docker)."""
        directory = Path(action)
        if not directory.is_absolute():
            directory = self.workspace / directory
        meta = YAML(typ="safe").load((directory / "action.yml").read_text())
        outer = self.context()  # the workflow's expressions in ``with:``
        given = {str(k): _text(substitute(_text(v), outer)) for k, v in (with_ or {}).items()}
        declared = meta.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise AssertionError(f"unexpected inputs {sorted(unknown)} for {directory}")
        ctx = self.context()
        inputs: dict[str, str] = {}
        for key, spec in declared.items():
            if key in given:
                inputs[key] = given[key]
            elif isinstance(spec, Mapping) and "default" in spec:
                inputs[key] = _text(substitute(_text(spec["default"]), ctx))
            else:
                inputs[key] = ""
        label = name or str(meta.get("name", directory.name))
        using = meta["runs"]["using"]
        if using == "composite":
            result = self._composite(directory, meta, inputs, label, env or {})
        elif using == "docker":
            result = self._docker(directory, meta, inputs, label, env or {})
        else:
            raise AssertionError(f"runs.using {using!r} is not emulated")
        self.results.append(result)
        if result.conclusion == "failure":
            self.status = "failure"
        return result

    def _composite(
        self,
        directory: Path,
        meta: Mapping[str, Any],
        inputs: dict[str, str],
        label: str,
        outer_env: Mapping[str, str],
    ) -> StepResult:
        steps: dict[str, Any] = {}
        children: list[StepResult] = []
        status = "success"
        for n, step in enumerate(meta["runs"]["steps"]):
            step_name = str(step.get("name", f"step {n}"))
            ctx = self.context(inputs, steps, {**self.env_now(), **outer_env})
            if not condition(step.get("if"), ctx, status):
                children.append(StepResult(step_name, "skipped", 0, {}, [], [], None))
                if step.get("id"):
                    steps[step["id"]] = {"outputs": {}, "outcome": "skipped"}
                continue
            env = {**outer_env}
            for key, value in (step.get("env") or {}).items():
                env[str(key)] = _text(substitute(_text(value), ctx, status))
            if "run" in step:
                script = _text(substitute(step["run"], ctx, status))
                child = self.run_script(
                    script,
                    env=env,
                    name=step_name,
                    action_path=directory,
                    shell=step.get("shell", "bash"),
                    cwd=Path(substitute(step["working-directory"], ctx))
                    if step.get("working-directory")
                    else None,
                )
            elif "uses" in step:
                with_ = {
                    k: substitute(_text(v), ctx, status)
                    for k, v in (step.get("with") or {}).items()
                }
                child = self._uses(str(step["uses"]), with_, step_name, env, directory)
            else:
                raise AssertionError(f"step {step_name} has neither run nor uses")
            children.append(child)
            if step.get("id"):
                steps[step["id"]] = {"outputs": child.outputs, "outcome": child.conclusion}
            if child.conclusion == "failure" and not step.get("continue-on-error"):
                status = "failure"
        ctx = self.context(inputs, steps)
        outputs = {
            key: _text(substitute(_text(spec.get("value", "")), ctx))
            for key, spec in (meta.get("outputs") or {}).items()
        }
        summaries = [c.summary for c in children if c.summary]
        return StepResult(
            label,
            status,
            0 if status == "success" else 1,
            outputs,
            [line for c in children for line in c.log],
            [a for c in children for a in c.annotations],
            "".join(summaries) or None,
            b"".join(c.raw_stdout for c in children),
            b"".join(c.raw_stderr for c in children),
            children,
        )

    def _uses(
        self,
        uses: str,
        with_: Mapping[str, Any],
        name: str,
        env: Mapping[str, str],
        relative_to: Path | None = None,
    ) -> StepResult:
        if uses.startswith("./"):
            return self.run_action(self.workspace / uses[2:], with_, name=name, env=env)
        key = uses.split("@", 1)[0]
        handler = self.uses.get(key)
        if handler is None:
            raise AssertionError(f"uses: {uses} is not provided by the test")
        result = handler(self, {k: _text(v) for k, v in with_.items()})
        if result is None:
            result = StepResult(name, "success", 0, {}, [], [], None)
        return result

    def _docker(
        self,
        directory: Path,
        meta: Mapping[str, Any],
        inputs: dict[str, str],
        label: str,
        outer_env: Mapping[str, str],
    ) -> StepResult:
        if self.installed is None:
            raise AssertionError("a Docker action needs the installed regkit (installed=...)")
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            pytest.skip("the Docker action's mounts are emulated with unshare --mount (root)")
        runs = meta["runs"]
        ctx = self.context(inputs)
        args = [_text(substitute(_text(a), ctx)) for a in runs.get("args", [])]
        entrypoint = runs.get("entrypoint") or "/opt/regkit/bin/regkit"
        files = self._files()
        home = self.runner_temp / "_github_home"
        workflow = self.runner_temp / "_github_workflow"
        commands = self.runner_temp / "_runner_file_commands"
        for d in (home, workflow, commands):
            d.mkdir(parents=True, exist_ok=True)
        mounts = {
            "/github/home": home,
            "/github/workflow": workflow,
            "/github/file_commands": commands,
            "/github/workspace": self.workspace,
            "/github/runner_temp": self.runner_temp,
            "/opt/regkit": self.installed,
        }
        host_env = {**self.env_now(), **outer_env, **{k: str(v) for k, v in files.items()}}
        translate = {
            str(home): "/github/home",
            str(workflow): "/github/workflow",
            str(commands): "/github/file_commands",
            str(self.workspace): "/github/workspace",
            str(self.runner_temp): "/github/runner_temp",
        }
        env: dict[str, str] = {}
        for key, value in host_env.items():
            for host, inside in sorted(translate.items(), key=lambda kv: -len(kv[0])):
                if value == host or value.startswith(host + "/"):
                    value = inside + value[len(host) :]
                    break
            env[key] = value
        env["HOME"] = "/github/home"
        for key, value in inputs.items():
            env["INPUT_" + key.replace(" ", "_").upper()] = value
        for key, value in (runs.get("env") or {}).items():
            env[str(key)] = _text(substitute(_text(value), ctx))
        env["PATH"] = "/opt/regkit/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        # Python, not sh, inside the namespace: a shell drops variables whose names hold a
        # hyphen (INPUT_SOPS-AGE-KEY), which docker run -e passes on.
        setup = (
            "import os, subprocess, sys\n"
            "mounts = eval(sys.argv[1])\n"
            "for inside, host in mounts:\n"
            "    os.makedirs(inside, exist_ok=True)\n"
            "    subprocess.run(['mount', '--bind', host, inside], check=True)\n"
            "os.chdir('/github/workspace')\n"
            "os.execve(sys.argv[2], sys.argv[2:], os.environ)\n"
        )
        Path("/github").mkdir(exist_ok=True)
        Path("/opt/regkit").mkdir(parents=True, exist_ok=True)
        pairs = repr([(inside, str(host)) for inside, host in mounts.items()])
        cp = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", setup, pairs,
             entrypoint, *args],
            env=env,
            capture_output=True,
            check=False,
            timeout=600,
        )  # fmt: skip
        return self._finish(label, cp, files)

    def run_workflow_job(
        self,
        workflow: Path,
        job_id: str,
        *,
        inputs: Mapping[str, Any] | None = None,
    ) -> StepResult:
        """The steps of one job of a workflow file, in order, as the runner runs them."""
        doc = YAML(typ="safe").load(workflow.read_text())
        job = doc["jobs"][job_id]
        wf_inputs = dict(inputs or {})
        ctx = self.context(wf_inputs)
        cond = job.get("if")
        if cond is not None and not condition(cond, ctx, "success"):
            return StepResult(job_id, "skipped", 0, {}, [], [], None)
        for key, value in {**(doc.get("env") or {}), **(job.get("env") or {})}.items():
            self.base_env[str(key)] = _text(substitute(_text(value), ctx))
        steps: dict[str, Any] = {}
        children: list[StepResult] = []
        for n, step in enumerate(job["steps"]):
            step_name = str(step.get("name", step.get("uses", f"step {n}")))
            ctx = self.context(wf_inputs, steps)
            if not condition(step.get("if"), ctx, self.status):
                children.append(StepResult(step_name, "skipped", 0, {}, [], [], None))
                if step.get("id"):
                    steps[step["id"]] = {
                        "outputs": {},
                        "outcome": "skipped",
                        "conclusion": "skipped",
                    }
                continue
            env = {
                str(k): _text(substitute(_text(v), ctx, self.status))
                for k, v in (step.get("env") or {}).items()
            }
            if "run" in step:
                child = self.run_script(
                    _text(substitute(step["run"], ctx, self.status)), env=env, name=step_name
                )
                self.results.append(child)
                if child.conclusion == "failure":
                    self.status = "failure"
            else:
                with_ = {
                    k: substitute(_text(v), ctx, self.status)
                    for k, v in (step.get("with") or {}).items()
                }
                child = self._uses(str(step["uses"]), with_, step_name, env)
                if child.conclusion == "failure":
                    self.status = "failure"
            children.append(child)
            if step.get("id"):
                steps[step["id"]] = {
                    "outputs": child.outputs,
                    "outcome": child.conclusion,
                    "conclusion": child.conclusion,
                }
        return StepResult(
            job_id,
            self.status,
            0 if self.status == "success" else 1,
            {},
            [line for c in children for line in c.log],
            [a for c in children for a in c.annotations],
            "".join(c.summary or "" for c in children) or None,
            steps=children,
        )


def _unescape(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def run_composite(
    base: Path,
    action: str,
    inputs: Mapping[str, str],
    env: Mapping[str, str],
    installed: Path,
    **job: Any,
) -> StepResult:
    """One job with one step: ``uses: ./actions/<action>`` with ``inputs``, on a runner whose
    environment also holds ``env`` (GITHUB_* and INPUT_* variables in ``env`` are not passed:
    the runner sets its own, and a composite action gets its inputs through ``with:``)."""
    keep = {k: v for k, v in env.items() if not k.startswith("INPUT_")}
    for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
        keep.pop(name, None)
    j = Job(base, env=keep, installed=installed, **job)
    workspace_with_actions(j.workspace)
    return j.run_action(f"actions/{action}", inputs)


def build_installed(directory: Path) -> Path:
    """``actions/install.py --venv DIR`` with the runner's ``python3``: the venv the tests'
    jobs find complete in RUNNER_TEMP (install.py's reuse path)."""
    venv = directory / "venv"
    if not (venv / ".regkit-install-key").is_file():
        python3 = shutil.which("python3") or sys.executable
        cp = subprocess.run(
            [python3, str(ROOT / "actions" / "install.py"), "--venv", str(venv)],
            capture_output=True,
            check=False,
            timeout=900,
        )
        if cp.returncode != 0:
            raise AssertionError("install.py failed:\n" + cp.stdout.decode() + cp.stderr.decode())
    return venv


def workspace_with_actions(workspace: Path) -> None:
    """A checkout of this repository in ``workspace`` as ``actions/checkout`` leaves it: the
    action directories, the workflows and the sources (linked: install.py resolves its root
    through the links, so the install key is this checkout's)."""
    for name in ("actions", ".github", "action.yml", "Dockerfile"):
        target = workspace / name
        if not target.exists():
            target.symlink_to(ROOT / name)


# -- fixtures (import them into a test module: ``from tests.runner import installed, job``) ----


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """regkit installed once per session by ``actions/install.py`` (seeded into every job)."""
    return build_installed(tmp_path_factory.mktemp("regkit-installed"))


@pytest.fixture
def job(tmp_path: Path, installed: Path) -> Callable[..., Job]:
    """A factory of jobs on a fresh runner under ``tmp_path`` with this checkout in the
    workspace; ``job(secrets=..., github=..., runner_environment=...)``."""
    count = 0

    def make(**kwargs: Any) -> Job:
        nonlocal count
        count += 1
        base = tmp_path / f"runner{count}"
        j = Job(base, installed=installed, **kwargs)
        workspace_with_actions(j.workspace)
        return j

    return make
