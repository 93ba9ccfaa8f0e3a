"""``regkit prune --all-repos --protect-dir --record --then --storage`` as a user runs it (a
subprocess), against a private real registry: the team's job from the shell."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.test_api_example import T0, blob_path, gc_command
from tests.clirun import regkit
from tests.leakscan import assert_no_secrets
from tests.rig import Rig, crane, short_sha_tags
from tests.schemas import check_schema


def tags_of(rig: Rig, repo: str) -> set[str]:
    return set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split())


def setup(rig: Rig, tmp_path: Path) -> tuple[list[str], list[str], Path]:
    pusher = rig.pusher()
    app = short_sha_tags(8, seed=11)
    images = pusher.push_images("rednaw/hello-world", app, "oci-index", start=T0)
    # edge, not latest: --match '.*' selects edge and it ties with the newest SHA tag in the
    # --keep count; latest is always kept and takes no slot (test_prune_recipe runs this job
    # with latest), which would leave nothing to delete in hello-world
    pusher.tag(images[-1], ["edge"])
    dev = short_sha_tags(8, seed=12)
    pusher.push_images("iac/iac-dev", dev, "oci", start=T0)
    deploy = tmp_path / "deploy"
    (deploy / "hello-world").mkdir(parents=True)
    (deploy / "hello-world" / "deploy-info.yml").write_text(
        f"app: hello-world\nimage:\n  tag: {app[0]}\n  digest: {images[0].digest}\n"
    )
    return app, dev, deploy


@pytest.mark.parametrize("version", ["3", "2.8"])
def test_prune_all_repos_protect_dir_record_then_storage(
    rig_factory: Callable[..., Rig], tmp_path: Path, version: str
) -> None:
    rig = rig_factory("basic", version=version)
    app, dev, deploy = setup(rig, tmp_path)
    record = tmp_path / "prune.jsonl"
    done = regkit(
        "prune", "--all-repos", rig.host, "--match", ".*", "--keep", "6",
        "--protect-dir", str(deploy), "--record", str(record), "--yes",
        "--then", gc_command(rig), "--storage", str(rig.storage_dir),
        env=rig.env(),
    )  # fmt: skip
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    # hello-world: 6 newest of 9 tags (edge ties with the newest SHA) + the deployed one.
    assert tags_of(rig, "rednaw/hello-world") == {"edge", *app[3:], app[0]}
    # iac-dev: no deploy directory, the 6 newest stay.
    assert tags_of(rig, "iac/iac-dev") == set(dev[2:])
    lines = [json.loads(x) for x in record.read_text().splitlines()]
    assert sorted(x["tag"] for x in lines) == sorted([app[1], app[2], dev[0], dev[1]])
    assert {x["action"] for x in lines} == {"delete-manifest"}
    # The GC's own output went to stderr; stdout has the results, the storage and the check.
    assert "blobs marked" in err and "blobs marked" not in out
    shrunk = [x for x in out.splitlines() if x.startswith(f"storage {rig.storage_dir} shrank by ")]
    assert len(shrunk) == 1
    freed = int(shrunk[0].split(" shrank by ")[1].split()[0])
    assert freed >= sum(x["reclaimable_bytes"] for x in lines) > 0
    assert f"--then: {gc_command(rig)} exited 0" in out
    assert out.endswith(f"13 tags in 2 repositories of {rig.host}: every image is whole\n")
    assert "also deleted 4 platform manifests of deleted indexes" in out
    assert_no_secrets({"stdout": out, "stderr": err, "record": record.read_text()}, [rig.password])


def test_prune_then_not_run_when_nothing_deleted(
    rig_factory: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_factory("basic")
    rig.pusher().push_images("team/app", short_sha_tags(3, seed=5), "oci", start=T0)
    marker = tmp_path / "ran"
    done = regkit(
        "prune", "--all-repos", rig.host, "--yes", "--then", f"touch {marker}", env=rig.env()
    )
    assert done.returncode == 0
    assert not marker.exists()
    assert done.stderr.decode() == "regkit: nothing to delete\n"


def test_prune_then_failure_and_damage_found_after_it_exit_1(
    rig_factory: Callable[..., Rig], tmp_path: Path
) -> None:
    """A --then command that fails, and one that breaks a staying image (an unsafe GC): the
    prune is done, the check after it names the broken image, exit 1 with one error line."""
    rig = rig_factory("basic")
    images = rig.pusher().push_images("team/app", short_sha_tags(4, seed=6), "oci", start=T0)
    config = images[-1].config
    assert config is not None
    victim = blob_path(rig, config.digest)
    unsafe = shlex.join(["sh", "-c", f"rm {shlex.quote(str(victim))}; exit 3"])
    done = regkit(
        "prune", rig.ref("team/app"), "--keep", "2", "--yes", "--then", unsafe, env=rig.env()
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 1
    assert tags_of(rig, "team/app") == set(images[2].tags + images[3].tags)
    broken = f"BROKEN {rig.host}/team/app:{images[-1].tags[0]}: config {config.digest}: missing"
    assert [x for x in out.splitlines() if x.startswith("BROKEN")] == [broken]
    assert err.splitlines()[-1] == (
        "regkit: error: the --then command exited 3; check found 1 broken image after the "
        "prune (see above); the prune itself is done"
    )


def test_prune_record_and_protect_dir_errors_stop_before_any_delete(
    rig_factory: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_factory("basic")
    tags = short_sha_tags(3, seed=7)
    rig.pusher().push_images("team/app", tags, "oci", start=T0)
    bad = tmp_path / "deploy" / "app"
    bad.mkdir(parents=True)
    (bad / "deploy-history.yml").write_text("just: text\n")
    cases = [
        (["--protect-dir", str(tmp_path / "deploy")], "deploy-history.yml names no image.tag"),
        (["--protect-dir", str(tmp_path / "none")], "is not a directory"),
        (["--record", str(tmp_path / "no" / "dir.jsonl")], "cannot append to the record file"),
        (["--storage", str(tmp_path)], "--storage goes with --then"),
        (["--then", "'unbalanced"], '--then "\'unbalanced": No closing quotation'),
        (["--then", "true", "--storage", str(tmp_path)], "is not a registry's storage directory"),
        (["--then", ""], "--then needs a command"),
    ]
    for extra, message in cases:
        # --force: --keep 0 with the default pattern is refused without it (9f90a8d)
        done = regkit(
            "prune", rig.ref("team/app"), "--keep", "0", "--force", "--yes", *extra, env=rig.env()
        )
        err = done.stderr.decode()
        assert done.returncode == 2, (extra, err)
        assert message in err, (extra, err)
        assert err.count("\n") == 1 and "Traceback" not in err
        assert tags_of(rig, "team/app") == set(tags)


def test_prune_then_json_carries_the_command_and_the_check(
    rig_factory: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_factory("basic")
    images = rig.pusher().push_images("team/app", short_sha_tags(3, seed=8), "oci", start=T0)
    done = regkit(
        "prune", rig.ref("team/app"), "--keep", "1", "--yes", "--json",
        "--then", gc_command(rig), "--storage", str(rig.storage_dir),
        env=rig.env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    doc = json.loads(done.stdout)
    check_schema("prune", doc)
    check_schema("check", doc["check"])
    assert doc["then"]["command"] == shlex.split(gc_command(rig))
    assert doc["then"]["exit_code"] == 0
    assert (
        doc["then"]["storage_shrunk_bytes"]
        >= doc["repositories"][0]["result"]["reclaimable_bytes"]
        > 0
    )
    assert doc["check"]["ok"] is True
    assert [(i["tag"], i["digest"]) for i in doc["check"]["images"]] == [
        (images[2].tags[0], images[2].digest)
    ]
    assert doc["deleted_platform_manifests"] == {}


def test_prune_with_password_stdin_runs_then_and_its_check(
    rig_factory: Callable[..., Rig], tmp_path: Path
) -> None:
    """--password-stdin is read once: the prune, the --then command and the check after it
    all use that one password (no Docker config to fall back on)."""
    rig = rig_factory("basic")
    tags = short_sha_tags(4, seed=7)
    rig.pusher().push_images("team/app", tags, "oci", start=T0)
    marker = tmp_path / "ran"
    env = {**rig.env(), "DOCKER_CONFIG": str(tmp_path / "no-docker-config")}
    done = regkit(
        "prune", rig.ref("team/app"), "--keep", "2", "--yes",
        "--username", rig.username, "--password-stdin", "--then", f"touch {marker}",
        env=env, input=f"{rig.password}\n".encode(),
    )  # fmt: skip
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    assert marker.exists()
    assert tags_of(rig, "team/app") == set(tags[2:])
    assert out.endswith(f"2 tags in 1 repository of {rig.host}: every image is whole\n"), out
    assert_no_secrets({"stdout": out, "stderr": err}, [rig.password])
