"""Shell completion: the scripts of `regkit completion bash|zsh|fish` loaded by the real shell
(bash and fish; zsh's is parsed by zsh), completions asked as the shell asks them: verbs,
flags, and repositories and tags from the registry with the credentials at hand."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes

ASK = r"""
eval "$(regkit completion bash)"
complete -p regkit >/dev/null || exit 3
COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_python_argcomplete regkit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def ask_bash(line: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", ASK, "ask", line],
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr.decode()
    return [c.strip() for c in out.stdout.decode().splitlines() if c.strip()]


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "REGKIT_CACHE": "off", **extra}


def test_bash_completes_verbs_and_flags() -> None:
    env = _env()
    assert ask_bash("regkit ins", env) == ["inspect"]
    assert ask_bash("regkit s", env) == ["sync"]
    assert ask_bash("regkit a", env) == []  # the hidden action verb is not offered
    assert "--no-trunc" in ask_bash("regkit overview --no-", env)
    assert ask_bash("regkit completion ", env) == ["bash", "zsh", "fish"]


@rig_shapes(PRODUCTION)
def test_bash_completes_repositories_and_tags(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    pusher.push_image(f"{repo_prefix}/api", ["v1.0", "v1.1", "latest"])
    pusher.push_image(f"{repo_prefix}/web", ["v1"])
    # a loaded test machine is slower than a developer's: the positive case gets 5 s, the
    # budget itself (0.3 s) is what test_completion_gives_up_on_a_silent_registry checks
    env = _env(DOCKER_CONFIG=rig.env()["DOCKER_CONFIG"], REGKIT_COMPLETE_TIMEOUT="5")
    env.update({k: v for k, v in rig.env().items() if k == "SSL_CERT_FILE"})
    # bash splits words at ':' (COMP_WORDBREAKS): a reply completes what follows the last one,
    # here the port of the host
    port = rig.host.rsplit(":", 1)[1]
    repos = ask_bash(f"regkit ls {rig.host}/{repo_prefix}/", env)
    assert sorted(repos) == [f"{port}/{repo_prefix}/api", f"{port}/{repo_prefix}/web"]
    tags = ask_bash(f"regkit inspect {rig.host}/{repo_prefix}/api:v1", env)
    assert sorted(t.rsplit(":", 1)[-1] for t in tags) == ["v1.0", "v1.1"]
    with_default = {**env, "REGKIT_REGISTRY": rig.host}
    assert ask_bash(f"regkit ls {repo_prefix}/a", with_default) == [f"{repo_prefix}/api"]
    # no credentials at hand: no request, no suggestion
    anonymous = {**with_default, "DOCKER_CONFIG": "/nonexistent"}
    assert ask_bash(f"regkit ls {repo_prefix}/a", anonymous) == []


def test_completion_gives_up_on_a_silent_registry() -> None:
    """A registry that accepts the connection but never answers: no suggestion, no hang."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        host = f"127.0.0.1:{server.getsockname()[1]}"
        env = _env(REGISTRY_USERNAME="u", REGISTRY_PASSWORD="p")
        assert ask_bash(f"regkit ls {host}/te", env) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_load(shell: str) -> None:
    script = regkit("completion", shell)
    assert script.returncode == 0
    assert b"regkit" in script.stdout
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    check = ["-n"] if shell == "zsh" else ["--no-execute"]
    out = subprocess.run([binary, *check], input=script.stdout, capture_output=True, check=False)
    assert out.returncode == 0, out.stderr.decode()


def test_fish_completes_verbs_and_flags(tmp_path: Path) -> None:
    """fish loads the script and answers ``complete -C`` as it does at a prompt (a candidate,
    a tab, its help)."""
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed")
    script = tmp_path / "regkit.fish"
    script.write_bytes(regkit("completion", "fish").stdout)
    asked = f"source {script}; complete -C 'regkit ins'; complete -C 'regkit overview --no-t'"
    out = subprocess.run(
        [fish, "--no-config", "-c", asked], env=_env(), capture_output=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["inspect", "--no-trunc"]
    assert lines[0].startswith("inspect\tdigest, tags, created")
