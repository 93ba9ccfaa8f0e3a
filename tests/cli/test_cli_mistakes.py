"""Mistakes caught before anything is deleted (issue 20 §3), each as a user makes it:

- ``prune --then CMD`` whose command does not exist (or is not executable) is refused before
  planning, in a real run and in a dry run: every tag is still there;
- ``prune --record PATH`` that cannot be appended to is refused in a dry run too;
- the SOPS login (host from the file) uses the CA remembered by ``login --ca-file``;
- ``inspect --platform`` of an image without that platform is the error ``config`` gives;
- a mistyped flag gets "did you mean", ``--older-than -5d`` says a duration is not negative,
  ``http://HOST/REPO`` says to drop the scheme, the protect flags have help, and Ctrl-C's report
  lists the tags not deleted one per line.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.errors import UsageError
from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.rig.images import short_sha_tags
from tests.sops_helpers import make_team_secrets

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _one_error_line(stderr: bytes) -> str:
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("regkit: error: "), lines
    return lines[0]


def _four_tags(rig: Rig, repo: str) -> list[str]:
    tags = short_sha_tags(4, seed=sum(map(ord, repo)))
    rig.pusher().push_images(repo, tags, "oci", start=T0, step=timedelta(hours=1))
    return tags


# -- 1. --then: the command is resolved before anything is planned or deleted -----------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
def test_then_with_a_missing_command_deletes_nothing(
    basic_rig: Rig, repo_prefix: str, dry_run: bool
) -> None:
    repo = f"{repo_prefix}/app"
    tags = _four_tags(basic_rig, repo)
    cp = regkit(
        "prune",
        basic_rig.ref(repo),
        "--keep",
        "1",
        "--yes",
        "--then",
        "nonexistent-gc-binary --flag",
        *(["--dry-run"] if dry_run else []),
        env=basic_rig.env(),
    )
    assert cp.returncode == 2, cp.stderr
    line = _one_error_line(cp.stderr)
    assert "nonexistent-gc-binary" in line and "PATH" in line, line
    assert "nothing was deleted" in line
    assert sorted(basic_rig.pusher().tags(repo)) == sorted(tags)
    assert cp.stdout == b""  # refused before the plan was made


def test_then_with_a_file_that_is_not_executable(basic_rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    tags = _four_tags(basic_rig, repo)
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"regkit-gc-{os.getpid()}.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    try:
        cp = regkit(
            "prune", basic_rig.ref(repo), "--keep", "1", "--yes", "--then", f"{script} --x",
            env=basic_rig.env(),
        )  # fmt: skip
    finally:
        script.unlink()
    assert cp.returncode == 2, cp.stderr
    line = _one_error_line(cp.stderr)
    assert str(script) in line and "not executable" in line, line
    assert sorted(basic_rig.pusher().tags(repo)) == sorted(tags)


def test_resolve_then_units(tmp_path: Path) -> None:
    from regkit.ops.prune.then import resolve_then

    assert resolve_then("sh -c 'exit 0'") == ("sh", "-c", "exit 0")
    tool = tmp_path / "gc"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert resolve_then(f"{tool} a") == (str(tool), "a")
    (tmp_path / "dir").mkdir()
    for bad, words in [
        ("nonexistent-gc-binary --flag", "not found on PATH"),
        ("", "needs a command"),
        ("'unclosed", "--then"),
        (f"{tmp_path / 'missing'} x", "does not exist"),
        (str(tmp_path / "dir"), "not an executable file"),
    ]:
        with pytest.raises(UsageError, match=words):
            resolve_then(bad)


# -- 2. --record: checked in a dry run too, before anything is deleted --------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
def test_record_in_a_missing_directory_is_refused(
    basic_rig: Rig, repo_prefix: str, dry_run: bool
) -> None:
    repo = f"{repo_prefix}/app"
    tags = _four_tags(basic_rig, repo)
    cp = regkit(
        "prune", basic_rig.ref(repo), "--keep", "1", "--yes", "--record", "/proc/nope/x.jsonl",
        *(["--dry-run"] if dry_run else []),
        env=basic_rig.env(),
    )  # fmt: skip
    assert cp.returncode == 2, cp.stderr
    line = _one_error_line(cp.stderr)
    assert "/proc/nope/x.jsonl" in line and "--record" in line, line
    assert sorted(basic_rig.pusher().tags(repo)) == sorted(tags)


def test_record_that_is_not_a_regular_file(
    basic_rig: Rig, repo_prefix: str, tmp_path: Path
) -> None:
    repo = f"{repo_prefix}/app"
    tags = _four_tags(basic_rig, repo)
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    for path, words in [(fifo, "not a regular file"), (tmp_path, "is a directory")]:
        cp = regkit(
            "prune", basic_rig.ref(repo), "--keep", "1", "--yes", "--record", str(path),
            "--dry-run", env=basic_rig.env(),
        )  # fmt: skip
        assert cp.returncode == 2, cp.stderr
        line = _one_error_line(cp.stderr)
        assert words in line, line
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(basic_rig.pusher().tags(repo)) == sorted(tags)


def test_record_units(tmp_path: Path) -> None:
    from regkit.ops.audit import check_record_path

    check_record_path(tmp_path / "new.jsonl")  # a new file in a writable directory
    (tmp_path / "old.jsonl").write_text("")
    check_record_path(tmp_path / "old.jsonl")
    with pytest.raises(UsageError, match="does not exist"):
        check_record_path("/proc/nope/x.jsonl")
    with pytest.raises(UsageError, match="not a regular file"):
        check_record_path("/dev/null")


# -- 3. the SOPS login uses the CA remembered for the file's host --------------------------------


def test_sops_login_uses_the_ca_remembered_by_login(tls_rig: Rig, tmp_path: Path) -> None:
    rig = tls_rig
    assert rig.ca_file is not None
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    first = regkit(
        "login", rig.host, "-u", rig.username, "--password-stdin", "--ca-file", str(rig.ca_file),
        "--docker-config", str(tmp_path / "docker1"),
        input=(rig.password + "\n").encode(), env=env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "remembered" in first.stdout.decode()

    work = tmp_path / "repo"
    work.mkdir()
    path, identity, _ = make_team_secrets(
        work, rig.username, rig.password, "team.example.test", registry_domain=rig.host
    )
    (work / "secrets" / "infra.yml").write_bytes(path.read_bytes())
    key = tmp_path / "age.key"
    key.write_text(identity + "\n")
    config = tmp_path / "docker2"
    cp = regkit(
        "login", "--secrets-file", "secrets/infra.yml", "--docker-config", str(config),
        env={**env, "SOPS_AGE_KEY_FILE": str(key)}, cwd=str(work),
    )  # fmt: skip
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.decode()
    assert f"Logged in to {rig.host} as {rig.username}" in out
    assert "credentials accepted by the registry" in out
    assert rig.host in (config / "config.json").read_text()
    assert rig.password not in out + cp.stderr.decode()


# -- 4. inspect --platform of a platform the image lacks: the error config gives ------------------


@rig_shapes(PRODUCTION)
def test_inspect_platform_the_image_lacks_is_configs_error(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/multi"
    rig.pusher().push_image(repo, ["v1"], "oci-index")
    ref = rig.ref(repo, "v1")
    config = regkit("config", "--platform", "linux/s390x", ref, env=rig.env())
    assert config.returncode == 1, config.stderr
    expected = _one_error_line(config.stderr)
    assert "has no platform linux/s390x (it has: linux/amd64, linux/arm64)" in expected
    for out in ("table", "json"):
        cp = regkit("inspect", "--platform", "linux/s390x", ref, "-o", out, env=rig.env())
        assert cp.returncode == 1, cp.stdout
        assert _one_error_line(cp.stderr) == expected
        assert cp.stdout == b""
    ok = regkit("inspect", "--platform", "linux/arm64", ref, env=rig.env())
    assert ok.returncode == 0, ok.stderr


# -- 5. small mistakes: flags, durations, schemes, help, the Ctrl-C report ------------------------


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["prune", "--kep", "3", "r.test/a"], "--keep"),
        (["prune", "r.test/a", "--dryrun"], "--dry-run"),
        (["ls", "r.test/a", "--jsn"], "--json"),
        (["--insecur", "ls", "r.test/a"], "--insecure"),
        (["prune", "r.test/a", "--older-then=5d"], "--older-than"),
    ],
)
def test_mistyped_flag_gets_did_you_mean(args: list[str], suggestion: str) -> None:
    cp = regkit(*args)
    assert cp.returncode == 2
    last = cp.stderr.decode().splitlines()[-1]
    assert f"did you mean '{suggestion}'?" in last, last


def test_unknown_flag_without_a_close_one_gets_no_guess() -> None:
    cp = regkit("prune", "r.test/a", "--zzzzzz")
    assert cp.returncode == 2
    last = cp.stderr.decode().splitlines()[-1]
    assert "unrecognized arguments: --zzzzzz" in last and "did you mean" not in last


@pytest.mark.parametrize("form", [["--older-than", "-5d"], ["--older-than=-5d"]])
def test_negative_older_than_says_so(form: list[str]) -> None:
    cp = regkit("prune", "r.test/a", *form, "--dry-run")
    assert cp.returncode == 2
    last = cp.stderr.decode().splitlines()[-1]
    assert "'-5d'" in last and "negative" in last and "5d" in last, last


def test_negative_duration_unit() -> None:
    from regkit.timeparse import parse_duration

    with pytest.raises(UsageError, match="cannot be negative"):
        parse_duration("-5d")
    assert parse_duration("5d") == timedelta(days=5)


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "http://r.test/team/app"],
        ["digest", "https://r.test/team/app:v1"],
        ["manifest", "http://localhost:5000/team/app:v1"],
        ["catalog", "https://r.test"],
        ["prune", "https://r.test/team/app", "--dry-run"],
        ["prune", "--all-repos", "https://r.test", "--dry-run"],
        ["copy", "http://r.test/a:1", "r.test/b:1"],
        ["overview", "https://r.test"],
        ["overview", "https://r.test/team/app"],
    ],
)
def test_reference_with_a_scheme_says_drop_it(args: list[str]) -> None:
    cp = regkit(*args)
    assert cp.returncode == 2, cp.stderr
    line = _one_error_line(cp.stderr)
    assert "drop the scheme" in line, line
    scheme = "https://" if "https://" in " ".join(args) else "http://"
    assert scheme in line


def test_scheme_units() -> None:
    from regkit.reference import parse_reference, validate_host

    with pytest.raises(UsageError, match=r"drop the scheme 'http://': write r.test/team/app:1"):
        parse_reference("http://r.test/team/app:1")
    with pytest.raises(UsageError, match="drop the scheme 'https://'"):
        validate_host("https://r.test")
    assert parse_reference("r.test/team/app:1").registry == "r.test"


def test_protect_flags_have_help() -> None:
    cp = regkit("prune", "--help")
    assert cp.returncode == 0
    text = " ".join(cp.stdout.decode().split())
    assert "--protect-tag TAG a tag that stays" in text, text
    assert "--protect-digest DIGEST a manifest digest that stays" in text, text


def test_ctrl_c_report_lists_tags_not_deleted_one_per_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interrupted prune of 60 tags: what was not deleted is one reference per line (it was
    one line of every reference, kilobytes long)."""
    from regkit.cli import main
    from regkit.ops.prune import session
    from regkit.ops.prune.execute import Outcome, PruneResult
    from regkit.ops.prune.plan import DELETE_MANIFEST, PrunePlan, TagPlan

    def digest(i: int) -> str:
        return f"sha256:{i:064x}"

    tags = [f"{i:07x}" for i in range(60)]
    done = PruneResult(
        "team/app",
        (
            Outcome(tags[0], digest(0), DELETE_MANIFEST, "deleted"),
            Outcome(tags[1], digest(1), DELETE_MANIFEST, "deleted"),
            *(
                Outcome(t, digest(i), DELETE_MANIFEST, "not-run", "interrupted (Ctrl-C)")
                for i, t in enumerate(tags[2:30], start=2)
            ),
        ),
        (digest(0), digest(1)),
        0,
    )
    plan = PrunePlan(
        tuple(TagPlan(t, digest(i), None, DELETE_MANIFEST, "old") for i, t in enumerate(tags)),
        tuple(digest(i) for i in range(60)),
        0,
        repository="team/app",
    )
    pending = PrunePlan(
        tuple(TagPlan(t, digest(i), None, DELETE_MANIFEST, "old") for i, t in enumerate(tags)
              if i >= 30),
        tuple(digest(i) for i in range(30, 60)),
        0,
        repository="team/web",
    )  # fmt: skip
    interrupted = session.PruneRunInterrupted(
        [session.RegistryPrune("r.test", (plan,), (done,))], [("r.test", (pending,))]
    )

    def stop(*_args: object, **_kwargs: object) -> object:
        raise interrupted

    monkeypatch.setattr(session, "prune_targets", stop)
    assert main(["prune", "r.test/team/app", "r.test/team/web", "--yes"]) == 130
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert max(len(line) for line in lines) < 200, max(lines, key=len)
    assert "regkit: interrupted: deleted 2 tags:" in lines
    assert f"  r.test/team/app:{tags[0]}" in lines and f"  r.test/team/app:{tags[1]}" in lines
    assert "regkit: interrupted: not deleted (58 tags):" in lines
    left = [f"  r.test/team/app:{t}" for t in tags[2:30]]
    left += [f"  r.test/team/web:{t}" for t in tags[30:]]
    start = lines.index("regkit: interrupted: not deleted (58 tags):")
    assert lines[start + 1 : start + 59] == sorted(left)
    assert lines[-1] == (
        "regkit: interrupted: the registry is consistent; run the same command again to finish"
    )
