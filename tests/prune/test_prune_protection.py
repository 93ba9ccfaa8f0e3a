"""Default protection does not depend on ``--match`` (pure, no registry): ``latest``, release
tags and their aliases, deploy markers, deploy files and every tag sharing a digest with any of
them stay whatever ``match``, ``keep`` and ``older_than`` say; only ``unprotect`` lifts a
built-in rule, by name; ``keep 0`` with the default pattern needs ``force``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.cli import main
from regkit.errors import UsageError
from regkit.ops.prune import KEEP, PrunePolicy, TagInfo, plan_prune
from regkit.ops.prune.deploydir import deploy_dir_protection, with_protection
from regkit.ops.prune.render import render_plans
from regkit.ops.prune.rules import builtin_rule
from regkit.ops.prune.run import build_policy
from regkit.timeparse import CreatedTime

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def dg(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def tag(name: str, image: str, hours_ago: float) -> TagInfo:
    return TagInfo(name, dg(image), CreatedTime(NOW - timedelta(hours=hours_ago), False))


def rolled_back() -> list[TagInfo]:
    """10 SHA builds (img0 oldest); latest rolled back onto img1, the release v1.0.0 (and its
    aliases v1, v1.0 and bare 1) on img2, deployed-prod on img3: all older than the 6 newest."""
    shas = [f"{i:x}" * 7 for i in range(10)]  # 0000000, 1111111, ... 9999999
    tags = [tag(s, f"img{i}", hours_ago=100 - i) for i, s in enumerate(shas)]
    tags += [tag("latest", "img1", 99), tag("v1.0.0", "img2", 98)]
    tags += [tag(a, "img2", 98) for a in ("v1", "v1.0", "1")]
    tags += [tag("deployed-prod", "img3", 97)]
    return tags


def plan_of(policy: PrunePolicy, tags: list[TagInfo] | None = None) -> dict[str, tuple[str, str]]:
    plan = plan_prune(tags or rolled_back(), policy, NOW)
    return {e.tag: (e.action, e.reason) for e in plan.entries}


def test_the_team_policy_keeps_latest_the_release_and_what_runs() -> None:
    got = plan_of(build_policy(match=".*", keep=6, older_than=None))
    assert got["latest"] == (KEEP, "latest")
    assert got["v1.0.0"] == (KEEP, "release tag")
    assert got["v1"] == (KEEP, "release alias") and got["v1.0"] == (KEEP, "release alias")
    assert got["1"] == (KEEP, "same image as v1.0.0 (release tag)")
    assert got["deployed-prod"] == (KEEP, "deploy marker")
    # every tag on their digests stays, and says why
    assert got["1111111"] == (KEEP, "same image as latest")
    assert got["2222222"] == (KEEP, "same image as v1.0.0 (release tag)")
    assert got["3333333"] == (KEEP, "same image as deployed-prod (deploy marker)")
    # the 6 newest SHA builds stay; the rest goes; the protected tags took no slot of the 6
    assert {t for t, (a, _) in got.items() if a == KEEP} >= {f"{i:x}" * 7 for i in range(4, 10)}
    assert got["0000000"][0] == "delete-manifest"


@pytest.mark.parametrize(
    "policy",
    [
        PrunePolicy(match=".*", keep=0),
        PrunePolicy(match="^(latest|v1.0.0|v1|v1.0|deployed-prod)$", keep=0),
        PrunePolicy(match=".*", keep=0, older_than=timedelta(hours=1)),
        PrunePolicy(keep=0),  # the default pattern: the SHA tags on protected digests stay
    ],
    ids=["match-all", "match-them-by-name", "older-than", "default-match"],
)
def test_no_selection_deletes_a_protected_tag(policy: PrunePolicy) -> None:
    got = plan_of(policy)
    for name in ("latest", "v1.0.0", "v1", "v1.0", "1", "deployed-prod"):
        assert got[name][0] == KEEP, (name, got[name])
    for sha in ("1111111", "2222222", "3333333"):
        assert got[sha][0] == KEEP, (sha, got[sha])


def test_unprotect_lifts_one_named_rule_only() -> None:
    got = plan_of(PrunePolicy(match=".*", keep=6, unprotect=frozenset({"latest"})))
    assert got["latest"][0] != KEEP and got["1111111"][0] != KEEP  # img1 goes with it
    assert got["v1.0.0"] == (KEEP, "release tag")  # the others stay
    assert got["deployed-prod"] == (KEEP, "deploy marker")


def test_explicit_protection_wins_over_unprotect() -> None:
    policy = PrunePolicy(
        match=".*", keep=6, unprotect=frozenset({"latest"}), protect_tags=frozenset({"latest"})
    )
    assert plan_of(policy)["latest"] == (KEEP, "protected tag")


def test_a_short_sha_made_of_digits_is_not_a_release() -> None:
    assert builtin_rule("1234567") is None
    assert builtin_rule("0000000") is None
    table = {
        "latest": "latest",
        "v1.2.3": "release tag",
        "1.2.3": "release tag",
        "v2.0.0-rc.1": "release tag",
        "v1": "release alias",
        "v1.2": "release alias",
        "1.2": "release alias",
        "deployed-prod": "deploy marker",
        "latest-dev": None,
        "v01.2.3": None,
        "deployed-": None,
        "a1b2c3d": None,
    }
    assert {t: builtin_rule(t) for t in table} == table


def test_deploy_files_are_named_in_the_reason(tmp_path: Path) -> None:
    (tmp_path / "hello-world").mkdir()
    (tmp_path / "hello-world" / "deploy-info.yml").write_text(
        f"image:\n  tag: 5555555\n  digest: {dg('img6')}\n"
    )
    policy = build_policy(match=".*", keep=1, older_than=None)
    policy = with_protection(policy, deploy_dir_protection(tmp_path, "rednaw/hello-world"))
    got = plan_of(policy)
    assert got["5555555"] == (KEEP, "protected tag (deploy file hello-world/deploy-info.yml)")
    assert got["6666666"] == (KEEP, "protected digest (deploy file hello-world/deploy-info.yml)")
    # a --protect-file names its path
    file = tmp_path / "hello-world" / "deploy-info.yml"
    got = plan_of(build_policy(match=".*", keep=1, older_than=None, protect_files=[str(file)]))
    assert got["5555555"] == (KEEP, f"protected tag (deploy file {file})")


def test_the_printed_plan_says_which_rule_kept_a_tag() -> None:
    plan = plan_prune(rolled_back(), build_policy(match=".*", keep=6, older_than=None), NOW)
    text = render_plans("registry.example.com", [plan])
    rows = {line.split()[0]: line for line in text.splitlines() if line and line[0] != " "}
    assert rows["latest"].rstrip().endswith("keep             latest")
    assert rows["v1.0.0"].rstrip().endswith("release tag")
    assert rows["1111111"].rstrip().endswith("same image as latest")


def test_keep_0_with_the_default_pattern_needs_force() -> None:
    with pytest.raises(UsageError, match=r"--keep 0 with the default --match .* --force"):
        build_policy(match=None, keep=0, older_than=None)
    assert build_policy(match=None, keep=0, older_than=None, force=True).keep == 0
    assert build_policy(match="^abc1234$", keep=0, older_than=None).keep == 0
    assert build_policy(match=None, keep=0, older_than="30d").keep == 0


def test_cli_refuses_keep_0_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    # 127.0.0.1:9 (discard) is never contacted: the refusal comes first, exit 2, one line
    assert main(["prune", "127.0.0.1:9/team/app", "--keep", "0", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "newest build" in err


def test_unprotect_takes_tag_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "127.0.0.1:9/team/app", "--unprotect", "bad tag!", "--yes"]) == 2
    assert "bad tag!" in capsys.readouterr().err
