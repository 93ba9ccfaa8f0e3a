"""Prune on the local GHCR: images (not versions) kept whole, children with their last parent,
a shared SHA tag removed alone, referrers with their image, rate limits waited out; and the
same pushes under ``delete-package-versions`` with ``min-versions-to-keep: 12`` (simulated)
breaking a tag that stays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.cli import main
from tests.ghcr_fixtures import READER, SECRETS, crane_pull, docker_config, ghcr, pusher
from tests.ghcr_images import Build, push_build, push_history, referrer_tag, sign
from tests.ghcrfake import FakeGHCR
from tests.leakscan import assert_no_secrets
from tests.rig.images import Pusher

__all__ = ["ghcr", "pusher"]  # fixtures

REPO = "acme/iac-dev"
TAGS = ["1a2b3c4", "2b3c4d5", "3c4d5e6", "4d5e6f7", "5e6f7a8", "6f7a8b9"]  # oldest first


@dataclass
class Scenario:
    builds: list[Build]
    orphan: str  # an untagged manifest older than every build
    sig_old: str  # signature of a doomed build
    sig_new: str  # signature of a staying build


def scenario(fake: FakeGHCR, pusher: Pusher) -> Scenario:
    """Six buildx builds (5 versions each), ``edge`` sharing the digest of the second build,
    cosign signatures of the oldest and the newest build, one old untagged orphan."""
    orphan = push_build(pusher, REPO, "orphan", _t(0), seed=99)
    _untag_on_disk(fake, "orphan")  # its index and children are now untagged versions
    builds = push_history(pusher, REPO, TAGS)
    # edge, not latest: no built-in rule protects it (it stays because the default pattern
    # does not match it), so the SHA tag sharing its digest is still removed alone
    pusher.put_manifest(REPO, "edge", *pusher.get_manifest(REPO, builds[1].index)[:2])
    sig_old = sign(pusher, REPO, builds[0].index, seed=1)
    sig_new = sign(pusher, REPO, builds[5].index, seed=2)
    fake.space_out(REPO)
    return Scenario(builds, orphan.index, sig_old, sig_new)


def _t(hours: int) -> datetime:
    return datetime(2025, 12, 1, tzinfo=UTC) + timedelta(hours=hours)


def _untag_on_disk(fake: FakeGHCR, tag: str) -> None:
    import shutil

    shutil.rmtree(fake._repo_dir(REPO) / "_manifests/tags" / tag)


def _tags(fake: FakeGHCR) -> set[str]:
    return {t for ts in fake.tags_by_digest(REPO).values() for t in ts}


def _digests(fake: FakeGHCR) -> set[str]:
    return {v["name"] for v in fake.versions(REPO)}


def test_prune_keeps_the_newest_images_whole(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = scenario(ghcr, pusher)
    b = s.builds
    assert len(ghcr.versions(REPO)) == 1 * 5 + 6 * 5 + 2  # orphan build, builds, signatures
    ghcr.rate_limit(1, kind="secondary", status=429, seconds=1, methods=("DELETE",))
    ghcr.rate_limit(1, kind="primary", status=403, seconds=1, methods=("GET",))

    ref = f"{ghcr.host}/{REPO}"
    code = main(["prune", ref, "--keep", "3", "--delete-untagged", "--yes", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_no_secrets({"stdout": out, "stderr": err}, list(SECRETS))
    assert "GitHub API rate limit (HTTP 429)" in err and "waiting 1 s" in err
    assert "GitHub API rate limit (HTTP 403)" in err

    # Tags: the 3 newest SHA tags, edge, the newest build's signature.
    assert _tags(ghcr) == {TAGS[3], TAGS[4], TAGS[5], "edge", referrer_tag(b[5].index)}
    # Versions: exactly the manifests of builds 1 (edge), 3, 4, 5 and the kept signature.
    staying = {d for i in (1, 3, 4, 5) for d in b[i].manifests} | {s.sig_new}
    assert _digests(ghcr) == staying
    # The shared SHA tag went alone: edge still names build 1's index.
    assert ghcr.tags_by_digest(REPO)[b[1].index] == ["edge"]

    cfg = docker_config(tmp_path / "docker", ghcr.host)
    for tag in _tags(ghcr):
        pulled = crane_pull(ghcr, f"{REPO}:{tag}", cfg, tmp_path / f"pull-{tag}")
        assert pulled.returncode == 0, (tag, pulled.stderr)

    doc = json.loads(out)
    result = doc["repositories"][0]["result"]
    assert result["complete"] is True
    roles = sorted(v["role"] for v in result["versions"] if v["status"] == "deleted")
    # builds 0 and 2 (build 1 stays under edge) with their 8 children, build 0's signature,
    # and the 5 untagged versions of the orphaned build (--delete-untagged)
    assert roles.count("image") == 2
    assert roles.count("child") == 8
    assert roles.count("referrer") == 1
    assert roles.count("untagged") == 5
    untag = [o for o in result["outcomes"] if o["action"] == "untag"]
    assert [(o["tag"], o["status"]) for o in untag] == [(TAGS[1], "deleted")]


def test_min_versions_to_keep_12_breaks_a_tag_that_stays(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path
) -> None:
    """What the team's cleanup-ghcr.yml does (actions/delete-package-versions@v5,
    min-versions-to-keep: 12): keep the 12 newest versions, delete the rest."""
    builds = push_history(pusher, REPO, TAGS)
    versions = ghcr.versions(REPO)  # newest first, as the API lists them
    for v in versions[12:]:
        assert ghcr.delete_version(REPO, v["id"])
    cfg = docker_config(tmp_path / "docker", ghcr.host)
    whole = []
    broken = []
    for tag in TAGS:
        if tag not in _tags(ghcr):
            continue
        pulled = crane_pull(ghcr, f"{REPO}:{tag}", cfg, tmp_path / f"pull-{tag}")
        (whole if pulled.returncode == 0 else broken).append(tag)
        if pulled.returncode:
            assert "MANIFEST_UNKNOWN" in pulled.stderr
    # 12 versions = 2 whole builds, and the index and one attestation of a third whose
    # platform manifests are gone.
    assert whole == TAGS[4:]
    assert broken == [TAGS[3]]
    left = {v["name"] for v in ghcr.versions(REPO)}
    assert left & set(builds[3].manifests) == {builds[3].index, builds[3].attestations[1]}
    assert not left & {d for b in builds[:3] for d in b.manifests}


def test_same_pushes_under_regkit_keep_2_images_whole(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_history(pusher, REPO, TAGS)
    assert main(["prune", f"{ghcr.host}/{REPO}", "--keep", "3", "--yes"]) == 0
    out, _ = capsys.readouterr()
    assert "deleted 15 package versions, removed 3 tags" in out
    assert _tags(ghcr) == set(TAGS[3:])
    assert len(ghcr.versions(REPO)) == 15
    cfg = docker_config(tmp_path / "docker", ghcr.host)
    for tag in TAGS[3:]:
        assert crane_pull(ghcr, f"{REPO}:{tag}", cfg, tmp_path / tag).returncode == 0


def test_dry_run_deletes_nothing_and_shows_versions(
    ghcr: FakeGHCR, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    push_history(pusher, REPO, TAGS[:3])
    before = ghcr.versions(REPO)
    assert main(["prune", f"{ghcr.host}/{REPO}", "--keep", "1", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert ghcr.versions(REPO) == before
    assert not [r for r in ghcr.api_requests if r.method == "DELETE"]
    assert (
        "GHCR: 10 package versions of 15 to delete (2 images, 0 referrers, 8 children, 0 untagged)"
        in out
    )
    assert "dry run: nothing deleted" in err


def test_a_token_without_admin_fails_with_one_line_naming_the_permission(
    ghcr: FakeGHCR,
    pusher: Pusher,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_history(pusher, REPO, TAGS[:3])
    monkeypatch.setenv("GITHUB_TOKEN", READER)
    monkeypatch.setenv("REGISTRY_PASSWORD", READER)
    before = ghcr.versions(REPO)
    code = main(["prune", f"{ghcr.host}/{REPO}", "--keep", "1", "--yes"])
    out, err = capsys.readouterr()
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("regkit: error:")]
    assert len(lines) == 1
    assert "403" in lines[0] and "admin" in lines[0] and "packages: write" in lines[0]
    assert ghcr.versions(REPO) == before  # nothing deleted, no child orphaned
    deletes = [r for r in ghcr.api_requests if r.method == "DELETE"]
    assert len(deletes) == 1  # stopped at the first refusal
    assert_no_secrets({"stdout": out, "stderr": err}, list(SECRETS))


def test_a_staying_tag_pushed_onto_a_doomed_image_saves_it(
    ghcr: FakeGHCR,
    pusher: Pusher,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Between planning and deleting, someone tags the oldest build ``stable``: it stays whole."""
    builds = push_history(pusher, REPO, TAGS[:3])
    import regkit.ghcr.prune as gp

    real = gp._recheck_tags

    def push_then_recheck(run, doomed, deletions):
        pusher.put_manifest(REPO, "stable", *pusher.get_manifest(REPO, builds[0].index)[:2])
        return real(run, doomed, deletions)

    monkeypatch.setattr(gp, "_recheck_tags", push_then_recheck)
    assert main(["prune", f"{ghcr.host}/{REPO}", "--keep", "1", "--yes"]) == 0
    _, err = capsys.readouterr()
    assert "stable now points at" in err
    assert set(builds[0].manifests) <= _digests(ghcr)
    assert not set(builds[1].manifests) & _digests(ghcr)


def test_a_rerun_finishes_what_an_interrupted_run_left(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interrupted run can leave a tag on a throw-away manifest (pushed, version not yet
    deleted) and a signature whose image is gone: the next run deletes both."""
    from regkit.ops.prune.execute import throwaway_manifest
    from tests.rig.images import OCI_CONFIG, OCI_MANIFEST, Blob

    builds = push_history(pusher, REPO, TAGS[:3])
    sig = sign(pusher, REPO, builds[0].index, seed=4)
    pusher.put_manifest(REPO, "latest", *pusher.get_manifest(REPO, builds[1].index)[:2])
    config, raw = throwaway_manifest(REPO, TAGS[1])
    pusher.upload_blob(REPO, Blob.of(config, OCI_CONFIG))
    throwaway = pusher.put_manifest(REPO, TAGS[1], raw, OCI_MANIFEST)
    for digest in builds[0].manifests:  # build 0 went, its signature stayed
        assert ghcr.delete_version(REPO, ghcr.version_ids(REPO)[digest])

    assert main(["prune", f"{ghcr.host}/{REPO}", "--keep", "1", "--yes", "--json"]) == 0
    out, _ = capsys.readouterr()
    assert _tags(ghcr) == {TAGS[2], "latest"}
    left = _digests(ghcr)
    assert sig not in left and throwaway not in left
    assert left == set(builds[1].manifests) | set(builds[2].manifests)
    roles = {
        v["digest"]: v["role"] for v in json.loads(out)["repositories"][0]["result"]["versions"]
    }
    assert roles == {throwaway: "image", sig: "referrer"}
    cfg = docker_config(tmp_path / "docker", ghcr.host)
    assert crane_pull(ghcr, f"{REPO}:latest", cfg, tmp_path / "latest").returncode == 0


def test_delete_untagged_is_for_ghcr_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "registry.example.test/app", "--delete-untagged", "--dry-run"]) == 2
    assert "--delete-untagged is for GHCR" in capsys.readouterr().err


def test_record_writes_one_audit_line_per_removed_tag_and_then_is_refused(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builds = push_history(pusher, REPO, TAGS[:3])
    # edge, not latest: no built-in rule protects it, so TAGS[0] on its digest is untagged
    # (and recorded as such) instead of staying as "same image as latest"
    pusher.put_manifest(REPO, "edge", *pusher.get_manifest(REPO, builds[0].index)[:2])
    ref = f"{ghcr.host}/{REPO}"
    assert main(["prune", ref, "--keep", "1", "--yes", "--then", "true"]) == 2
    assert "--then and --storage are for a self-hosted registry" in capsys.readouterr().err
    record = tmp_path / "prune.jsonl"
    assert main(["prune", ref, "--keep", "1", "--yes", "--record", str(record)]) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(r["tag"], r["digest"], r["action"]) for r in lines] == [
        (TAGS[1], builds[1].index, "delete-manifest"),
        (TAGS[0], builds[0].index, "untag"),
    ]
    assert lines[0]["labels"]["description"] == "build " + str(1 * 7919 + len(REPO))
    assert {r["registry"] for r in lines} == {ghcr.host}


def test_ctrl_c_stops_reports_records_and_a_rerun_finishes(
    ghcr: FakeGHCR,
    pusher: Pusher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C during the third version DELETE (after it reached GitHub): exit 130, the images
    left are whole, the audit file names what went, and the same command finishes the job."""
    from regkit.ghcr.rest import PackagesAPI

    builds = push_history(pusher, REPO, TAGS[:4])
    ghcr.space_out(REPO)
    real = PackagesAPI.delete_version
    calls = []

    def interrupted(self: PackagesAPI, repository: str, version_id: int) -> bool:
        calls.append(version_id)
        gone = real(self, repository, version_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return gone

    monkeypatch.setattr(PackagesAPI, "delete_version", interrupted)
    record = tmp_path / "audit.jsonl"
    ref = f"{ghcr.host}/{REPO}"
    assert main(["prune", ref, "--keep", "1", "--yes", "--record", str(record)]) == 130
    out, err = capsys.readouterr()
    assert "interrupted (Ctrl-C)" in err and "Traceback" not in err
    assert "deleted 2 package versions" in out
    assert len(calls) == 3
    # Deleted first: the three doomed indexes; their children are still there, untagged.
    left = _digests(ghcr)
    assert not {b.index for b in builds[:3]} & left
    assert _tags(ghcr) == {TAGS[3]}
    cfg = docker_config(tmp_path / "docker", ghcr.host)
    assert crane_pull(ghcr, f"{REPO}:{TAGS[3]}", cfg, tmp_path / "pull").returncode == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    # the two deletions that finished (the third was cut short: deleted or not, unrecorded)
    assert len(lines) == 2 and {r["tag"] for r in lines} < set(TAGS[:3])

    monkeypatch.setattr(PackagesAPI, "delete_version", real)
    assert main(["prune", ref, "--keep", "1", "--yes", "--delete-untagged"]) == 0
    assert _digests(ghcr) == set(builds[3].manifests)


def test_delete_on_ghcr_points_to_prune(
    ghcr: FakeGHCR, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    builds = push_history(pusher, REPO, TAGS[:2])
    before = ghcr.versions(REPO)
    assert main(["delete", f"{ghcr.host}/{REPO}:{TAGS[0]}", "--yes"]) == 2
    err = capsys.readouterr().err
    assert f"run 'regkit prune {ghcr.host}/{REPO} --match '^TAG$' --keep 0'" in err
    assert ghcr.versions(REPO) == before
    assert not [r for r in ghcr.registry_requests if r.method == "DELETE"]
    # what it suggests works: the image goes with its 4 children
    ref = f"{ghcr.host}/{REPO}"
    assert main(["prune", ref, "--match", f"^{TAGS[0]}$", "--keep", "0", "-y"]) == 0
    assert _digests(ghcr) == set(builds[1].manifests)
    # GitHub refuses to delete a package's last version: said, and the run is incomplete
    capsys.readouterr()
    # --force: --keep 0 with the default pattern is refused without it (9f90a8d)
    assert main(["prune", ref, "--keep", "0", "--force", "-y"]) == 1
    out, err = capsys.readouterr()
    assert "You cannot delete the last version of a package" in out
    assert err.count("regkit: error:") == 1
    assert len(ghcr.versions(REPO)) == 1


def test_a_404_for_want_of_admin_is_not_taken_for_gone(
    ghcr: FakeGHCR,
    pusher: Pusher,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GitHub often answers a DELETE without admin with 404 "Package not found." for a version
    it just listed: that is a refusal, not a version gone meanwhile."""
    ghcr.no_admin_status = 404
    push_history(pusher, REPO, TAGS[:3])
    monkeypatch.setenv("GITHUB_TOKEN", READER)
    before = ghcr.versions(REPO)
    code = main(["prune", f"{ghcr.host}/{REPO}", "--keep", "1", "--yes"])
    _, err = capsys.readouterr()
    assert code == 1
    (line,) = [x for x in err.splitlines() if x.startswith("regkit: error:")]
    assert "still exists" in line and "Admin role" in line
    assert ghcr.versions(REPO) == before
    assert len([r for r in ghcr.api_requests if r.method == "DELETE"]) == 1
