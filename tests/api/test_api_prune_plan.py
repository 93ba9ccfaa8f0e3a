"""Pure parts of the catalog-wide prune: the tie at the keep cut, per-repository deploy files,
deploy markers, audit records. No server."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.errors import UsageError
from regkit.ops.audit import Labels, append_records, labels_from_config, prune_records
from regkit.ops.prune import KEEP, UNTAG, PrunePolicy, TagInfo, plan_prune
from regkit.ops.prune.deploydir import (
    app_name,
    deploy_dir_protection,
    marker_protection,
    with_protection,
)
from regkit.ops.prune.execute import Outcome, PruneResult
from regkit.timeparse import CreatedTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30)


def digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def info(tag: str, n: int, hours: int) -> TagInfo:
    return TagInfo(
        tag, digest(n), CreatedTime(T0 + timedelta(hours=hours)), blobs=((digest(n), 100 + n),)
    )


def test_edge_tied_with_its_sha_tag_at_the_keep_cut_stays() -> None:
    # Seven SHA tags, edge rolled back onto the 2nd oldest: edge and 0000002 share a digest
    # and a created time, and the cut of keep=6 falls between them (sorted by name).
    # "edge", not "latest": no built-in rule protects it, so only the tie at the cut keeps it
    # (latest is always kept now and would take no slot of the 6).
    tags = [info(f"000000{i}", i, i) for i in range(1, 8)]
    tags.append(info("edge", 2, 2))
    plan = plan_prune(tags, PrunePolicy(match=".*", keep=6), NOW)
    actions = {e.tag: e.action for e in plan.entries}
    assert actions["edge"] == KEEP, [e for e in plan.entries if e.tag == "edge"]
    assert actions["0000002"] == KEEP
    assert [e.tag for e in plan.removed] == ["0000001"]
    assert plan.delete_digests == (digest(1),)
    reason = next(e.reason for e in plan.entries if e.tag == "edge")
    assert reason == "same image as 0000002, among the newest"


DEPLOY_INFO = """\
app: hello-world
workspace: prod
image:
  repo: registry.example.test/rednaw/hello-world
  tag: 1a2b3c4
  digest: {digest}
  description: 'Fix login redirect'
  built_at: '2026-02-23 22:38:17'
deployment:
  deployed_at: 2026-02-24T08:00:00Z
"""

HISTORY = """\
- image:
    repo: registry.example.test/rednaw/hello-world
    tag: 0a0a0a0
    digest: {d1}
- image:
    repo: registry.example.test/rednaw/hello-world
    tag: 1a2b3c4
    digest: {d2}
"""


def test_deploy_dir_reads_info_and_history_of_the_last_path_component(tmp_path: Path) -> None:
    app = tmp_path / "hello-world"
    app.mkdir()
    (app / "deploy-info.yml").write_text(DEPLOY_INFO.format(digest=digest(5)))
    (app / "deploy-history.yml").write_text(HISTORY.format(d1=digest(3), d2=digest(5)))
    assert app_name("rednaw/hello-world") == "hello-world"
    got = deploy_dir_protection(tmp_path, "rednaw/hello-world")
    assert got.tags == {"1a2b3c4", "0a0a0a0"}
    assert got.digests == {digest(3), digest(5)}
    # Another repository: its own directory, absent: nothing protected, no error.
    other = deploy_dir_protection(tmp_path, "iac/iac-dev")
    assert (other.tags, other.digests) == (frozenset(), frozenset())


def test_deploy_dir_history_alone_counts(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "deploy-history.yml").write_text(HISTORY.format(d1=digest(1), d2=digest(2)))
    assert deploy_dir_protection(tmp_path, "team/api").digests == {digest(1), digest(2)}


def test_deploy_dir_unrecognised_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "deploy-info.yml").write_text("app: app\nworkspace: prod\n")
    with pytest.raises(UsageError) as err:
        deploy_dir_protection(tmp_path, "team/app")
    assert str(err.value) == (
        f"{tmp_path}/app/deploy-info.yml names no image.tag or image.digest; is it a "
        "deploy-info.yml? refusing to prune without the protection it was meant to give"
    )


def test_deploy_dir_file_that_is_not_text_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "deploy-info.yml").write_bytes(b"image:\n  tag: \xff\xfe\n")
    with pytest.raises(UsageError) as err:
        deploy_dir_protection(tmp_path, "team/app")
    assert str(err.value).startswith(
        f"cannot read {tmp_path}/app/deploy-info.yml (protects team/app):"
    )
    assert str(err.value).endswith("fix its permissions or content, nothing was deleted")


def test_deploy_dir_a_directory_in_place_of_the_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app" / "deploy-info.yml").mkdir(parents=True)
    with pytest.raises(UsageError) as err:
        deploy_dir_protection(tmp_path, "team/app")
    assert str(err.value).startswith(
        f"cannot read {tmp_path}/app/deploy-info.yml (protects team/app): "
    )


def test_deploy_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a directory"):
        deploy_dir_protection(tmp_path / "nope", "team/app")


def test_deploy_marker_keeps_its_tag_and_every_tag_on_its_digest() -> None:
    tags = [info(f"000000{i}", i, i) for i in range(1, 9)]
    tags.append(info("deployed-prod", 1, 1))
    policy = PrunePolicy(keep=3)
    plan = plan_prune(tags, with_protection(policy, marker_protection(tags)), NOW)
    kept = {e.tag for e in plan.kept}
    assert kept == {"0000008", "0000007", "0000006", "0000001", "deployed-prod"}
    assert digest(1) not in plan.delete_digests
    # Without the marker the oldest image would go by digest.
    assert digest(1) in plan_prune(tags[:-1], policy, NOW).delete_digests


def test_audit_records_one_line_per_removed_tag() -> None:
    tags = [info("0000001", 1, 1), info("0000002", 2, 2), info("0000003", 3, 3)]
    tags.append(info("old", 1, 1))  # shares the doomed digest: goes with it
    tags.append(info("keepme", 2, 2))
    plan = plan_prune(tags, PrunePolicy(match="^(0|old)", keep=1), NOW, repository="team/app")
    assert {(e.tag, e.action) for e in plan.removed} == {
        ("0000001", "delete-manifest"),
        ("old", "delete-manifest"),
        ("0000002", UNTAG),
    }
    result = PruneResult(
        "team/app",
        (
            Outcome("0000002", digest(2), UNTAG, "deleted"),
            Outcome("0000001", digest(1), "delete-manifest", "deleted"),
        ),
        (digest(1),),
        101,
    )
    labels = {digest(1): Labels("a" * 40, "https://github.com/rednaw/hello-world", "Fix it", None)}
    records = prune_records("reg.example", plan, result, labels, NOW)
    assert records == [
        {
            "time": "2026-01-31T00:00:00Z",
            "registry": "reg.example",
            "repository": "team/app",
            "tag": "0000002",
            "digest": digest(2),
            "action": "untag",
            "created": "2026-01-01T02:00:00Z",
            "labels": {"revision": None, "source": None, "description": None, "version": None},
            "reclaimable_bytes": 0,
        },
        {
            "time": "2026-01-31T00:00:00Z",
            "registry": "reg.example",
            "repository": "team/app",
            "tag": "0000001",
            "digest": digest(1),
            "action": "delete-manifest",
            "created": "2026-01-01T01:00:00Z",
            "labels": {
                "revision": "a" * 40,
                "source": "https://github.com/rednaw/hello-world",
                "description": "Fix it",
                "version": None,
            },
            "reclaimable_bytes": 101,
        },
    ]
    # A tag that was skipped (moved since planning) or failed gets no record.
    skipped = PruneResult(
        "team/app", (Outcome("0000001", digest(1), "delete-manifest", "skipped"),), (), 0
    )
    assert prune_records("reg.example", plan, skipped, labels, NOW) == []


def test_labels_from_config() -> None:
    cfg = {
        "config": {
            "Labels": {
                "org.opencontainers.image.revision": "r",
                "org.opencontainers.image.version": "1.2.3",
                "org.opencontainers.image.source": 5,
            }
        }
    }
    assert labels_from_config(cfg) == Labels("r", None, None, "1.2.3")
    assert labels_from_config({"config": None}) == Labels()
    assert labels_from_config([]) == Labels()


def test_append_records_appends_json_lines_0640(tmp_path: Path) -> None:
    path = tmp_path / "prune.jsonl"
    append_records(path, [{"tag": "a"}])
    append_records(path, [{"tag": "b"}, {"tag": "c\n"}])
    assert [json.loads(x) for x in path.read_text().splitlines()] == [
        {"tag": "a"},
        {"tag": "b"},
        {"tag": "c\n"},
    ]
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0
    with pytest.raises(UsageError, match="cannot open the record file"):
        append_records(tmp_path / "missing" / "x.jsonl", [{"tag": "a"}])
