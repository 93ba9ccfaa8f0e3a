"""regkit.api against the real registry (both rig shapes): typed results, the CLI's errors,
crane as the independent witness; and the package root re-exports it lazily."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

import regkit
from regkit import api
from regkit.errors import AuthenticationError, NotFoundError, RegkitError, UsageError
from tests.api.test_api_example import T0
from tests.rig import PRODUCTION, Rig, crane, rig_shapes, short_sha_tags


def connect(rig: Rig, **kw: object) -> api.Registry:
    return api.connect(
        rig.host,
        username=rig.username,
        password=str(kw.pop("password", rig.password)),
        ca_file=str(rig.ca_file) if rig.ca_file else None,
    )


@rig_shapes(PRODUCTION)
def test_api_round_trip(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    tags = short_sha_tags(4, seed=21)
    images = rig.pusher().push_images(repo, tags, "oci-index", start=T0, step=timedelta(hours=1))
    with connect(rig) as reg:
        # overview: newest first, typed rows
        ov = api.overview(reg, [repo])
        assert isinstance(ov, api.Overview)
        assert [t.tag for t in ov.repositories[0].tags] == tags[::-1]
        assert ov.repositories[0].tags[0].platforms == ("linux/amd64", "linux/arm64")

        # promote by digest; a second time changes nothing
        done = api.promote(reg, f"{repo}:{tags[-1]}", ["v1.0.0", "latest"])
        assert done.digest == images[-1].digest and done.promoted
        assert [(t.reference, t.action) for t in done.targets] == [
            (rig.ref(repo, "v1.0.0"), "create"),
            (rig.ref(repo, "latest"), "create"),
        ]
        assert crane(rig, "digest", rig.ref(repo, "latest")).stdout.decode().strip() == done.digest
        again = api.promote(reg, rig.ref(repo, tags[-1]), ["latest"])
        assert not again.promoted and again.targets[0].action == "unchanged"

        # a dry-run prune plans, deletes nothing; latest shares the newest digest and stays
        # (latest and v1.0.0 unprotected by name, issue 20: so that the 2 newest are counted
        # among all tags as before, the opt-out of the API on the way)
        report = api.prune(
            reg, [repo], match=".*", keep=2, dry_run=True, unprotect=["latest", "v1.0.0"]
        )
        assert report.dry_run and report.deleted == ()
        assert {e.tag for e in report.plans[0].removed} == set(tags[:3])
        assert set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split()) == {
            *tags,
            "v1.0.0",
            "latest",
        }

        # prune for real (the same opt-out: the SHA tag latest shares counts among the 2 newest)
        report = api.prune(reg, [repo], keep=2, unprotect=["latest", "v1.0.0"])
        assert sorted(report.deleted) == sorted(rig.ref(repo, t) for t in tags[:2])
        assert report.ok and report.then is None and report.check is None
        assert report.platform_manifests == tuple(
            sorted(c for image in images[:2] for c in image.children)
        )

        # check: whole
        checked = api.check(reg, [repo])
        assert checked.ok and len(checked.images) == 4
        checked.raise_for_damage()

        # delete: a tag alone, then a manifest by digest with the tags on it
        gone = api.delete(reg, f"{repo}:v1.0.0")
        assert (gone.kind, gone.digest, gone.tags) == ("tag", images[-1].digest, ("v1.0.0",))
        gone = api.delete(reg, f"{repo}@{images[2].digest}")
        assert (gone.kind, gone.tags) == ("manifest", (tags[2],))
        assert set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split()) == {tags[3], "latest"}


@rig_shapes(PRODUCTION)
def test_api_errors_are_the_clis(rig: Rig, repo_prefix: str) -> None:
    with connect(rig) as reg:
        with pytest.raises(NotFoundError) as err:
            api.check(reg, [f"{repo_prefix}/none"])
        assert str(err.value) == (
            f"repository {repo_prefix}/none not found on {rig.host}; check the name with "
            "'regkit catalog'"
        )
        with pytest.raises(UsageError, match=r"is on other\.example, not on"):
            api.delete(reg, "other.example/app:v1")
        with pytest.raises(UsageError, match="name at least one repository"):
            api.prune(reg)
        # the CLI's error, in the API's words: the keyword argument, not the flag
        with pytest.raises(UsageError, match=r"^invalid match= pattern '\('"):
            api.prune(reg, [f"{repo_prefix}/x"], match="(")
    with connect(rig, password="wrong") as reg, pytest.raises(AuthenticationError) as auth:
        api.overview(reg, [f"{repo_prefix}/x"])
    assert isinstance(auth.value, RegkitError) and "wrong" not in str(auth.value)


def test_package_root_reexports_lazily() -> None:
    assert regkit.connect is api.connect and regkit.prune is api.prune
    assert regkit.CheckReport is api.CheckReport
    with pytest.raises(AttributeError):
        _ = regkit.nothing_here  # type: ignore[attr-defined]
    code = (
        "import sys, regkit; assert 'regkit.api' not in sys.modules, 'api imported'; "
        "assert 'httpx' not in sys.modules, 'httpx imported'; "
        "f = regkit.check; import regkit.api; assert f is regkit.api.check; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")


@rig_shapes(PRODUCTION)
def test_api_inspect_and_sync(rig: Rig, repo_prefix: str) -> None:
    src, dst = f"{repo_prefix}/src", f"{repo_prefix}/dst"
    pusher = rig.pusher()
    image = pusher.push_image(src, ["1a2b3c4", "latest"], "oci-index", description="Fix login")
    pusher.push_image(src, ["v0"], "oci")
    with connect(rig) as reg:
        seen = api.inspect(reg, src)  # latest
        assert isinstance(seen, api.Inspection)
        assert (seen.digest, seen.tags) == (image.digest, ("1a2b3c4", "latest"))
        assert [p.platform for p in seen.platforms] == ["linux/amd64", "linux/arm64"]
        assert seen.label("description") == "Fix login"
        with pytest.raises(NotFoundError):
            api.inspect(reg, f"{src}:nope")

        plan = api.sync(reg, src, dst, match="^[0-9a-f]{7}$|^latest$", dry_run=True)
        assert [(i.tag, i.action.value) for i in plan.items] == [
            ("1a2b3c4", "create"),
            ("latest", "create"),
        ]
        assert crane(rig, "ls", rig.ref(dst), check=False).returncode != 0  # nothing written
        done = api.sync(reg, rig.ref(src), dst, match="^[0-9a-f]{7}$|^latest$")
        assert [i.tag for i in done.written] == ["1a2b3c4", "latest"]
        assert crane(rig, "digest", rig.ref(dst, "latest")).stdout.decode().strip() == image.digest
        again = api.sync(reg, src, dst)
        assert [(i.tag, i.action.value) for i in again.items] == [
            ("1a2b3c4", "unchanged"),
            ("latest", "unchanged"),
            ("v0", "create"),
        ]
        with pytest.raises(UsageError, match="sync takes repositories"):
            api.sync(reg, f"{src}:v0", dst)
