"""``regkit prune`` and ``regkit delete`` on the real registry (distribution 2.8, both shapes),
checked with crane as an independent client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.cli import main
from regkit.ops.prune import (
    DELETE_MANIFEST,
    UNTAG,
    PrunePolicy,
    execute_plan,
    fetch_repository,
    plan_prune,
    throwaway_manifest,
)
from regkit.registry import RetryPolicy
from regkit.registry.manifest import OCI_MANIFEST
from tests.rig import PushedImage, Rig, client_for, crane, short_sha_tags

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def state(rig: Rig, repo: str) -> dict[str, str]:
    """tag -> digest, read with crane (independent of regkit)."""
    tags = crane(rig, "ls", rig.ref(repo)).stdout.decode().split()
    return {t: crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() for t in tags}


def state_fast(rig: Rig, repo: str) -> dict[str, str]:
    """tag -> digest through the rig's own HTTP client (for repeated snapshots); a dangling
    tag (listed, manifest gone) maps to ""."""
    pusher = rig.pusher()
    out = {}
    for tag in pusher.tags(repo):
        status = pusher.manifest_status(repo, tag)
        out[tag] = pusher.get_manifest(repo, tag)[2] if status == 200 else ""
    return out


@dataclass
class Scenario:
    repo: str
    images: dict[str, PushedImage]  # SHA tag -> image
    order: list[str]  # SHA tags, oldest first
    latest: str  # the SHA tag whose digest latest shares
    release: str  # ... v1.0.0 shares
    deployed: str  # the SHA tag whose digest deploy-info.yml protects
    deploy_file: Path


def push_scenario(rig: Rig, repo: str, tmp_path: Path) -> Scenario:
    """20 SHA tags (every other one multi-arch, half with the team's zone-less label),
    ``latest`` on an old SHA tag's digest (a rollback), ``v1.0.0`` on another, and a deployed
    old digest named by a deploy-info.yml."""
    pusher = rig.pusher()
    tags = short_sha_tags(20, seed=len(repo) + sum(map(ord, repo)))
    multi = pusher.push_images(
        repo, tags[0::2], "oci-index", start=T0, step=timedelta(hours=2), label_format="team"
    )
    single = pusher.push_images(
        repo, tags[1::2], "docker", start=T0 + timedelta(hours=1), step=timedelta(hours=2)
    )
    images = {i.tags[0]: i for i in multi + single}
    order = tags  # created T0 + i hours: tags[i]
    latest, release, deployed = order[2], order[5], order[4]  # an index, a single, an index
    pusher.tag(images[latest], ["latest"])
    pusher.tag(images[release], ["v1.0.0"])
    deploy_file = tmp_path / "deploy-info.yml"
    deploy_file.write_text(
        "app: hello-world\nworkspace: prod\nimage:\n"
        f"  repo: {rig.host}/{repo}\n  tag: {deployed}\n  digest: {images[deployed].digest}\n"
        "  description: 'Fix login redirect'\n  built_at: '2026-01-01 08:00:00'\n"
        "deployment:\n  deployed_at: 2026-02-24T08:00:00Z\n"
    )
    for tag in (latest, release, deployed):
        images[tag].tags[:] = [tag]  # keep the mapping SHA tag -> image simple
    return Scenario(repo, images, order, latest, release, deployed, deploy_file)


@pytest.fixture
def cli_env(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Credentials through the rig's Docker config; the CA through --ca-file."""
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    yield ["--ca-file", str(rig.ca_file)] if rig.ca_file else []


def test_scenario_keep_3(
    rig: Rig,
    repo_prefix: str,
    tmp_path: Path,
    cli_env: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = f"{repo_prefix}/app"
    sc = push_scenario(rig, repo, tmp_path)
    before = state(rig, repo)
    assert len(before) == 22
    rig.mark()

    code = main(
        [
            "prune",
            rig.ref(repo),
            "--keep",
            "3",
            "--protect-file",
            str(sc.deploy_file),
            "--yes",
            *cli_env,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err

    newest = sc.order[-3:]
    # issue 20 §1: the SHA tags sharing latest's and v1.0.0's digests stay too (they were
    # untagged before)
    expected_kept = {*newest, sc.deployed, "latest", "v1.0.0", sc.latest, sc.release}
    after = state(rig, repo)
    assert set(after) == expected_kept
    # everything that stays resolves to what it did before (crane)
    for tag in expected_kept:
        assert after[tag] == before[tag], tag
    assert after["latest"] == sc.images[sc.latest].digest
    assert after["v1.0.0"] == sc.images[sc.release].digest
    digest_ref = rig.ref(repo, sc.images[sc.deployed].digest)
    assert crane(rig, "digest", digest_ref).stdout.decode().strip() == before[sc.deployed]
    # the children of every remaining index are present
    for tag in expected_kept:
        for child in sc.images[tag if tag in sc.images else sc.latest].children:
            crane(rig, "manifest", rig.ref(repo, child))
    for child in sc.images[sc.latest].children:
        crane(rig, "manifest", rig.ref(repo, child))
    # the manifests of deleted SHA tags are gone; the shared ones stay
    pusher = rig.pusher()
    for tag in sc.order:
        status = pusher.manifest_status(repo, sc.images[tag].digest)
        shared = tag in (sc.latest, sc.release, sc.deployed) or tag in newest
        assert status == (200 if shared else 404), tag

    # the plan as printed
    lines = {line.split()[0]: line for line in out.splitlines() if line[:7] in before}
    assert " keep " in lines[sc.latest] and "same image as latest" in lines[sc.latest]
    assert " keep " in lines[sc.release]
    assert "same image as v1.0.0 (release tag)" in lines[sc.release]
    assert " keep " in lines[sc.deployed] and "protected tag" in lines[sc.deployed]
    assert "14 of 22 tags to delete: 14 by deleting 14 manifests, 0 alone" in out
    # the garbage-collection note: one short line pointing to the README section
    gc = (
        "Disk space returns only after garbage collection on the server: see the README, "
        '"Garbage collection".\n'
    )
    assert out.count(gc) == 1
    assert "deleted 14 tags (14 manifests by digest)" in out
    tag_deletes = [
        r for r in rig.requests() if r.method == "DELETE" and "/manifests/sha256:" not in r.path
    ]
    manifest_puts = [r for r in rig.requests() if r.method == "PUT" and "/manifests/" in r.path]
    # no tag goes alone any more (its manifest staying for latest or v1.0.0): on 2.8 and
    # registry:3 alike, no tag DELETE is sent and nothing is written (the untag path on both
    # versions is exercised in test_gc_prune and test_interrupted_prune_rerun_...)
    assert tag_deletes == []
    assert manifest_puts == []


def test_dry_run_leaves_registry_byte_identical(
    rig: Rig,
    repo_prefix: str,
    tmp_path: Path,
    cli_env: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = f"{repo_prefix}/app"
    push_scenario(rig, repo, tmp_path)
    before = state_fast(rig, repo)
    rig.mark()
    code = main(["prune", rig.ref(repo), "--keep", "1", "--dry-run", "--json", *cli_env])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dry run: nothing deleted" in err
    assert state_fast(rig, repo) == before
    writes = [r for r in rig.requests() if r.method not in ("GET", "HEAD")]
    assert writes == []
    doc = json.loads(out)
    assert doc["dry_run"] is True and doc["deleted"] == []
    plan = doc["repositories"][0]["plan"]
    assert plan["repository"] == repo
    assert plan["counts"]["keep"] + plan["counts"]["delete_manifest"] + plan["counts"][
        "untag"
    ] == len(before)
    assert doc["repositories"][0]["result"] is None
    assert plan["reclaimable_bytes"] > 0


def test_refuses_without_terminal_or_yes(
    rig: Rig, cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["prune", rig.ref("nothing/here"), *cli_env])
    _, err = capsys.readouterr()
    assert code == 2
    assert "pass --yes to delete, or --dry-run" in err
    assert rig.requests() == []


def _outcome_snapshot(rig: Rig, repo: str) -> dict[str, str]:
    return state_fast(rig, repo)


def test_interrupted_prune_rerun_reaches_the_planned_state(
    rig_basic: Rig, repo_prefix: str, tmp_path: Path
) -> None:
    rig = rig_basic
    rig.ensure_running()
    repo = f"{repo_prefix}/app"
    sc = push_scenario(rig, repo, tmp_path)
    before = state_fast(rig, repo)
    # latest and v1.0.0 unprotected: they still stay (the default pattern does not match them)
    # but the SHA tags on their digests are untagged, so the run has both kinds of removal
    policy = PrunePolicy(
        keep=3,
        protect_digests=frozenset({sc.images[sc.deployed].digest}),
        unprotect=frozenset({"latest", "v1.0.0"}),
    )
    now = datetime.now(UTC)

    with client_for(rig, retry=RetryPolicy(attempts=1), jobs=4) as client:
        first = plan_prune(list(fetch_repository(client, repo).tags), policy, now, repository=repo)
        assert {e.action for e in first.removed} == {DELETE_MANIFEST, UNTAG}
        deletes = 0

        def stop_after_three(_ref: str) -> None:
            nonlocal deletes
            deletes += 1
            if deletes == 3:
                rig.registry.stop(kill=True)

        result = execute_plan(client, first, on_delete=stop_after_three)
    assert not result.complete
    assert any(o.status in ("failed", "not-run") for o in result.outcomes)

    rig.registry.start()
    middle = state_fast(rig, repo)
    kept = {e.tag for e in first.kept}
    assert {t: middle[t] for t in kept} == {t: before[t] for t in kept}  # consistent meanwhile
    # a registry killed inside its own DELETE may leave dangling tags: only doomed ones
    assert {t for t, d in middle.items() if not d} <= {e.tag for e in first.removed}
    assert len(middle) < len(before)

    with client_for(rig) as client:
        state2 = fetch_repository(client, repo, protect_digests=policy.protect_digests)
        second = plan_prune(
            list(state2.tags), policy, now, untagged=state2.untagged, repository=repo
        )
        assert {e.tag for e in second.removed} <= {e.tag for e in first.removed}
        result2 = execute_plan(client, second)
        assert result2.complete
    final = state_fast(rig, repo)
    assert final == {t: before[t] for t in kept}, (second.entries, result2.outcomes, middle)


def test_rerun_removes_a_throwaway_left_behind(rig: Rig, repo_prefix: str) -> None:
    """A prune stopped between re-pointing a tag at its throw-away manifest and deleting that
    manifest: the next run recognises the throw-away and deletes it, whatever the policy."""
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    img = pusher.push_image(repo, ["aaaaaaa", "latest"], "oci")
    with client_for(rig) as client:
        config, raw = throwaway_manifest(repo, "aaaaaaa")
        client.upload_bytes(repo, config)
        throwaway = client.put_manifest(repo, "aaaaaaa", raw, OCI_MANIFEST)
        fetched = fetch_repository(client, repo)
        info = {t.tag: t for t in fetched.tags}
        assert info["aaaaaaa"].throwaway and info["aaaaaaa"].created is None
        plan = plan_prune(
            list(fetched.tags), PrunePolicy(keep=10), datetime.now(UTC), repository=repo
        )
        assert {e.tag: e.action for e in plan.entries} == {
            "aaaaaaa": DELETE_MANIFEST,
            "latest": "keep",
        }
        assert plan.delete_digests == (throwaway,)
        assert execute_plan(client, plan).complete
    assert state_fast(rig, repo) == {"latest": img.digest}
    assert pusher.manifest_status(repo, throwaway) == 404


def test_dangling_tags_left_by_a_registry_stopped_mid_delete_are_removed(
    rig: Rig, repo_prefix: str
) -> None:
    """Fault injected on disk: the registry deleted a manifest's revision but died before
    removing its tag links. The tags stay listed and answer 404: the next prune removes the
    matching ones (throw-away path on 2.8) and leaves the others."""
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    keep = pusher.push_image(repo, ["ccccccc"], "oci")
    gone = pusher.push_image(repo, ["aaaaaaa", "bbbbbbb", "stable"], "oci-index")
    hexpart = gone.digest.split(":", 1)[1]
    link = (
        rig.storage_dir
        / "docker/registry/v2/repositories"
        / repo
        / "_manifests/revisions/sha256"
        / hexpart
        / "link"
    )
    link.unlink()
    assert pusher.manifest_status(repo, "aaaaaaa") == 404
    assert sorted(pusher.tags(repo)) == ["aaaaaaa", "bbbbbbb", "ccccccc", "stable"]
    with client_for(rig) as client:
        fetched = fetch_repository(client, repo)
        plan = plan_prune(
            list(fetched.tags), PrunePolicy(keep=10), datetime.now(UTC), repository=repo
        )
        assert {e.tag: e.action for e in plan.entries} == {
            "aaaaaaa": UNTAG,
            "bbbbbbb": UNTAG,
            "ccccccc": "keep",
            "stable": "keep",
        }
        result = execute_plan(client, plan)
        assert result.complete
    assert sorted(pusher.tags(repo)) == ["ccccccc", "stable"]
    assert pusher.get_manifest(repo, "ccccccc")[2] == keep.digest


def test_a_push_during_the_prune_is_respected(rig: Rig, repo_prefix: str) -> None:
    """edge moves onto a manifest planned for deletion after planning: the manifest stays,
    the old tag goes alone; a doomed tag that moved is left alone with a warning."""
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    imgs = pusher.push_images(repo, ["aaaaaaa", "bbbbbbb", "ccccccc", "ddddddd"], "oci")
    # edge, not latest: no built-in rule protects it (it stays because the default pattern
    # does not match it), so ddddddd is kept by keep=1 alone and the rest is planned to go
    pusher.tag(imgs[3], ["edge"])
    with client_for(rig) as client:
        fetched = fetch_repository(client, repo)
        plan = plan_prune(
            list(fetched.tags), PrunePolicy(keep=1), datetime.now(UTC), repository=repo
        )
        assert set(plan.delete_digests) == {imgs[0].digest, imgs[1].digest, imgs[2].digest}
        pusher.tag(imgs[0], ["edge"])  # a rollback, meanwhile
        pusher.tag(imgs[3], ["bbbbbbb"])  # and someone re-pushed bbbbbbb
        warnings: list[str] = []
        result = execute_plan(client, plan, warn=warnings.append)
    statuses = {o.tag: o.status for o in result.outcomes}
    assert statuses == {"aaaaaaa": "deleted", "bbbbbbb": "skipped", "ccccccc": "deleted"}
    assert state_fast(rig, repo) == {
        "edge": imgs[0].digest,
        "bbbbbbb": imgs[3].digest,
        "ddddddd": imgs[3].digest,
    }
    assert any("edge now points at" in w for w in warnings)
    assert any("bbbbbbb moved" in w for w in warnings)


def test_delete_verb_by_digest_and_by_tag(
    rig: Rig, repo_prefix: str, cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    a = pusher.push_image(repo, ["aaaaaaa", "latest"], "oci-index")
    b = pusher.push_image(repo, ["bbbbbbb", "v1"], "docker")

    assert main(["delete", rig.ref(repo, "latest"), *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert (
        out
        == f"removed tag {rig.host}/{repo}:latest; manifest {a.digest} stays with its other tags: "
        "aaaaaaa\n"
    )
    assert state(rig, repo) == {"aaaaaaa": a.digest, "bbbbbbb": b.digest, "v1": b.digest}

    # a platform manifest of a tagged index: refused, nothing deleted
    assert main(["delete", rig.ref(repo, a.children[0]), *cli_env]) == 1
    _, err = capsys.readouterr()
    assert "platform manifest of the multi-platform image" in err and "aaaaaaa" in err

    assert main(["delete", rig.ref(repo, b.digest), "--yes", *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert out == f"deleted {rig.host}/{repo}@{b.digest} (tags removed with it: bbbbbbb, v1)\n"
    assert state(rig, repo) == {"aaaaaaa": a.digest}
    for child in a.children:
        assert pusher.manifest_status(repo, child) == 200

    assert main(["delete", rig.ref(repo, "nope"), *cli_env]) == 1
    _, err = capsys.readouterr()
    assert "tag not found" in err


def test_all_repos_json_result(
    rig_factory: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--all-repos prunes every repository of a (private, fresh) registry; --json gives the
    plan and the result of each."""
    rig: Rig = rig_factory()  # type: ignore[operator]
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    pusher = rig.pusher()
    a = pusher.push_images("team/a", ["aaaaaa1", "aaaaaa2", "aaaaaa3"], "oci")
    b = pusher.push_images("team/b", ["bbbbbb1", "bbbbbb2"], "oci-index")
    code = main(["prune", "--all-repos", rig.host, "--keep", "1", "--yes", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert [r["plan"]["repository"] for r in doc["repositories"]] == ["team/a", "team/b"]
    assert sorted(doc["deleted"]) == [
        f"{rig.host}/team/a:aaaaaa1",
        f"{rig.host}/team/a:aaaaaa2",
        f"{rig.host}/team/b:bbbbbb1",
    ]
    results = [r["result"] for r in doc["repositories"]]
    assert all(r["complete"] for r in results)
    assert results[1]["deleted_manifests"] == [b[0].digest]
    assert state_fast(rig, "team/a") == {"aaaaaa3": a[2].digest}
    assert state_fast(rig, "team/b") == {"bbbbbb2": b[1].digest}
    # The index's platform manifests, used by nothing else, go after it (else garbage-collect
    # without --delete-untagged would keep them, their configs and layers for ever).
    assert doc["deleted_platform_manifests"] == {"team/b": sorted(b[0].children)}
    for child in b[0].children:
        assert pusher.manifest_status("team/b", child) == 404
    for child in b[1].children:
        assert pusher.manifest_status("team/b", child) == 200


def test_terminal_confirmation(rig: Rig, repo_prefix: str, tmp_path: Path) -> None:
    """On a terminal, prune asks; anything but y deletes nothing."""
    import os
    import pty
    import subprocess
    import sys

    repo = f"{repo_prefix}/app"
    rig.pusher().push_images(repo, ["aaaaaaa", "bbbbbbb"], "oci")
    before = state_fast(rig, repo)
    args = [sys.executable, "-m", "regkit", "prune", rig.ref(repo), "--keep", "1"]
    if rig.ca_file:
        args += ["--ca-file", str(rig.ca_file)]
    for answer, code, expected in (("n\n", 1, before), ("y\n", 0, {"bbbbbbb": before["bbbbbbb"]})):
        master, slave = pty.openpty()
        try:
            os.write(master, answer.encode())
            cp = subprocess.run(
                args, stdin=slave, capture_output=True, env=rig.env(), timeout=60, check=False
            )
        finally:
            os.close(master)
            os.close(slave)
        assert cp.returncode == code, cp.stderr.decode()
        assert "Delete 1 tag? [y/N]" in cp.stderr.decode()
        assert state_fast(rig, repo) == expected


def test_usage_errors_exit_2_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["--older-than", "3x"], "invalid duration '3x'"),
        (["--match", "("], "invalid --match pattern"),
        (["--protect-digest", "sha256:zz"], "invalid digest"),
        (["--protect-file", "/nonexistent/deploy-info.yml"], "cannot read protect file"),
    ]
    for extra, message in cases:
        assert main(["prune", "127.0.0.1:9/x", "--dry-run", *extra]) == 2
        _, err = capsys.readouterr()
        assert message in err and err.count("\n") == 1
    assert main(["prune", "127.0.0.1:9/x:tag", "--dry-run"]) == 2
    assert "not images" in capsys.readouterr().err
    assert main(["prune", "--dry-run"]) == 2
    assert "name at least one repository" in capsys.readouterr().err


def test_prune_reads_each_manifest_once_and_shares_tag_listings(
    rig: Rig, repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 multi-platform images, keep 2: every manifest is read once (at planning; the
    platform manifests deleted after their index are not read again), and the deletes that run
    side by side share their tag listings (one before and one after each DELETE, taken apart,
    were two per DELETE)."""
    repo = f"{repo_prefix}/app"
    rig.pusher().push_images(repo, short_sha_tags(20, seed=20), "oci-index", jobs=8)
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    ca = ["--ca-file", str(rig.ca_file)] if rig.ca_file else []
    rig.mark()
    assert main([*ca, "prune", rig.ref(repo), "--keep", "2", "--yes", "-q"]) == 0
    requests = rig.requests()
    by_digest = [r.path for r in requests if r.method == "GET" and "/manifests/sha256:" in r.path]
    deletes = [r for r in requests if r.method == "DELETE"]
    listings = [r for r in requests if r.method == "GET" and "/tags/list" in r.path]
    assert len(deletes) == 18 * 3  # 18 indexes, then their 36 platform manifests
    assert sorted(by_digest) == sorted(set(by_digest)) and len(by_digest) == 40
    assert len(listings) < len(deletes), len(listings)
