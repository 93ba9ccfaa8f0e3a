"""Prune at the server's limit (issue 24), on a real registry:3.

- Tag-first: on registry:3 a DELETE by tag removes one tag in constant time, while a DELETE by
  digest makes distribution read the link of every tag of the repository. With many doomed
  tags, prune removes them by name first, so the manifest DELETEs that follow scan only the
  tags that stay. The race guard holds on the new order: a rollback that points a staying tag
  at a doomed manifest while its DELETE is in flight is still put back.
- The platform manifests and attestations of a deleted index go in the same worker right
  after their index (not in a phase after every index), guarded the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from regkit.dockerconfig import Credentials
from regkit.ops.audit import execute_recorded
from regkit.ops.prune import PrunePlan, PrunePolicy, execute_plan, fetch_repository, plan_prune
from regkit.ops.prune import execute as execute_module
from regkit.registry import RegistryClient, RetryPolicy
from tests.faultproxy import Fault, Gate, Request, fault_proxy, hold
from tests.rig import Rig, crane, short_sha_tags

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _client(host: str, rig: Rig, jobs: int = 4) -> RegistryClient:
    return RegistryClient(
        host,
        credentials=Credentials(rig.username, rig.password),
        retry=RetryPolicy(attempts=1),
        jobs=jobs,
    )


def _plan(c: RegistryClient, repo: str, keep: int) -> PrunePlan:
    import dataclasses

    fetched = fetch_repository(c, repo)
    plan = plan_prune(
        list(fetched.tags), PrunePolicy(keep=keep), datetime.now(UTC), repository=repo
    )
    return dataclasses.replace(plan, sources=fetched.manifests)


def _state(rig: Rig, repo: str) -> dict[str, str]:
    pusher = rig.pusher()
    return {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)}


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as err:  # handed to the test thread
            out.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_tag_first_a_rollback_onto_a_doomed_manifest_is_still_put_back(
    rig_factory: Callable[..., Rig], repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 SHA tags and edge on the newest; --keep 7 dooms the oldest manifest. With tag-first
    on (from 1 doomed tag here, instead of the many where it pays), the oldest SHA tag is
    removed by name BEFORE its manifest's DELETE. While that DELETE is held, crane points
    edge at the doomed manifest (a rollback): the DELETE takes edge with it, and regkit puts
    edge back from the manifest's bytes and says so."""
    monkeypatch.setattr(execute_module, "TAG_FIRST_FROM", 1, raising=False)
    rig = rig_factory("basic", version="3")
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    images = pusher.push_images(
        repo, short_sha_tags(8, seed=24), "oci", start=T0, step=timedelta(hours=1)
    )
    pusher.tag(images[-1], ["edge"])
    oldest = images[0]
    sha = oldest.tags[0]
    before = _state(rig, repo)
    gate = Gate()

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and "/manifests/sha256:" in req.path:
            return hold(gate)
        return None

    warnings: list[str] = []
    with fault_proxy(rig.host, plan) as proxy, _client(proxy.host, rig) as c:
        pruning = _plan(c, repo, 7)
        assert [e.tag for e in pruning.removed] == [sha]
        thread, out = _in_thread(lambda: execute_plan(c, pruning, warn=warnings.append))
        try:
            assert gate.arrived.wait(60), "the manifest DELETE reached the proxy"
            crane(rig, "tag", rig.ref(repo, oldest.digest), "edge")
        finally:
            gate.release.set()
            thread.join(120)
        deletes = [(r.method, r.path.rsplit("/", 1)[1]) for r, _f in proxy.seen]
    result = out[0]
    assert not isinstance(result, BaseException), result
    # the new order: the doomed tag by name, then its manifest by digest
    order = [ref for method, ref in deletes if method == "DELETE"]
    assert order == [sha, oldest.digest], order
    expected = {t: d for t, d in before.items() if t != sha}
    expected["edge"] = oldest.digest
    assert _state(rig, repo) == expected  # edge is there, on the rollback's digest
    assert result.restored == (("edge", oldest.digest),)  # type: ignore[attr-defined]
    assert result.put_back_manifests == (oldest.digest,)  # type: ignore[attr-defined]
    assert {o.tag: o.status for o in result.outcomes} == {sha: "deleted"}  # type: ignore[attr-defined]
    assert any(f"{repo}:edge pointed at {oldest.digest} when it was deleted" in w for w in warnings)


def test_tag_first_leaves_a_doomed_tag_moved_before_its_check(
    rig_factory: Callable[..., Rig], repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tag-first does not remove a doomed tag that moved since planning (a re-push): it is
    left where it points now and reported skipped; its old manifest is still deleted."""
    monkeypatch.setattr(execute_module, "TAG_FIRST_FROM", 1, raising=False)
    rig = rig_factory("basic", version="3")
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    images = pusher.push_images(repo, short_sha_tags(6, seed=7), "oci", start=T0)
    with _client(rig.host, rig) as c:
        pruning = _plan(c, repo, 4)
        doomed = [e.tag for e in pruning.removed]
        assert len(doomed) == 2
        moved = doomed[0]
        pusher.tag(images[-1], [moved])  # re-pushed onto the newest image after planning
        rig.mark()
        result = execute_plan(c, pruning)
    assert _state(rig, repo)[moved] == images[-1].digest
    statuses = {o.tag: o.status for o in result.outcomes}
    assert statuses == {moved: "skipped", doomed[1]: "deleted"}
    deletes = [r.path.rsplit("/", 1)[1] for r in rig.requests() if r.method == "DELETE"]
    assert moved not in deletes


def test_platform_manifests_go_right_after_their_index(
    rig_factory: Callable[..., Rig], repo_prefix: str
) -> None:
    """3 multi-platform images, keep 1, one request at a time: each index's platform
    manifests are deleted right after it (index, its 2 children, next index, ...), not in a
    phase after every index; every manifest is read once, at planning."""
    rig = rig_factory("basic", version="3")
    repo = f"{repo_prefix}/app"
    images = rig.pusher().push_images(repo, short_sha_tags(3, seed=3), "oci-index", start=T0)
    children = {img.digest: set(img.children) for img in images}
    with _client(rig.host, rig, jobs=1) as c:
        pruning = _plan(c, repo, 1)
        rig.mark()
        done = execute_recorded(c, [pruning])
    requests = rig.requests()
    deletes = [r.path.rsplit("/", 1)[1] for r in requests if r.method == "DELETE"]
    assert len(deletes) == 6, deletes
    for at in (0, 3):
        assert deletes[at] in children, deletes
        assert set(deletes[at + 1 : at + 3]) == children[deletes[at]], deletes
    assert sorted(done.children[repo]) == sorted(c for img in images[:2] for c in img.children)
    assert not [r for r in requests if r.method == "GET" and "/manifests/sha256:" in r.path]
    assert _state(rig, repo) == {images[2].tags[0]: images[2].digest}


def test_a_rollback_onto_a_platform_manifest_deleted_after_its_index_is_put_back(
    rig_factory: Callable[..., Rig], repo_prefix: str
) -> None:
    """--keep 1 of 2 multi-platform images, edge on the newest, one request at a time: while
    the DELETE of the doomed index's first platform manifest is held, crane points edge at
    that platform manifest. The DELETE takes edge with it: regkit puts it back."""
    rig = rig_factory("basic", version="3")
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    images = pusher.push_images(repo, short_sha_tags(2, seed=5), "oci-index", start=T0)
    pusher.tag(images[1], ["edge"])
    first_child = sorted(images[0].children)[0]
    gate = Gate()

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and req.path.endswith(first_child):
            return hold(gate)
        return None

    warnings: list[str] = []
    with fault_proxy(rig.host, plan) as proxy, _client(proxy.host, rig, jobs=1) as c:
        pruning = _plan(c, repo, 1)
        thread, out = _in_thread(lambda: execute_recorded(c, [pruning], warn=warnings.append))
        try:
            assert gate.arrived.wait(60), "the platform manifest's DELETE reached the proxy"
            crane(rig, "tag", rig.ref(repo, first_child), "edge")
        finally:
            gate.release.set()
            thread.join(120)
    assert not isinstance(out[0], BaseException), out[0]
    state = _state(rig, repo)
    assert state.get("edge") == first_child, state
    assert any(f"{repo}:edge pointed at {first_child} when it was deleted" in w for w in warnings)


def test_tag_first_on_distribution_2_8_falls_back_to_the_manifest_delete(
    rig_basic: Rig, repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distribution 2.8 cannot delete a tag by name (400 DIGEST_INVALID): tag-first learns it
    from its first DELETE by tag, changes nothing, and the manifest DELETEs take the tags as
    before; one refused request, the prune completes."""
    monkeypatch.setattr(execute_module, "TAG_FIRST_FROM", 1, raising=False)
    rig = rig_basic
    rig.ensure_running()
    repo = f"{repo_prefix}/app"
    images = rig.pusher().push_images(repo, short_sha_tags(8, seed=28), "oci", start=T0)
    with _client(rig.host, rig) as c:
        pruning = _plan(c, repo, 6)
        rig.mark()
        result = execute_plan(c, pruning)
    assert result.complete
    assert _state(rig, repo) == {img.tags[0]: img.digest for img in images[2:]}
    deletes = [(r.path.rsplit("/", 1)[1], r.status) for r in rig.requests() if r.method == "DELETE"]
    by_name = [(ref, status) for ref, status in deletes if not ref.startswith("sha256:")]
    assert by_name == [(by_name[0][0], 400)], deletes
    assert sorted(ref for ref, s in deletes if s == 202) == sorted(i.digest for i in images[:2])


def test_an_unarmed_window_is_in_no_ones_way_until_its_delete_is_sent() -> None:
    """A platform manifest's window opens (unarmed) once its index's DELETE returned, before
    the listing after it: the index's window does not count it (its DELETE is not sent yet),
    and it does not count the index's (done before its "before" listing); once armed, it
    overlaps every window open, as any other."""
    from regkit.ops.delete import Windows

    w = Windows()
    index = w.open("sha256:index")
    child = w.open("sha256:child", armed=False, ignore=index)
    assert w.close(index) == set()
    other = w.open("sha256:other")  # another worker's DELETE
    w.arm(child)
    late = w.open("sha256:late")
    assert w.close(child) == {"sha256:other", "sha256:late"}
    assert w.close(other) == {"sha256:child", "sha256:late"}
    assert w.close(late) == {"sha256:child", "sha256:other"}


def test_side_by_side_a_rollback_onto_a_platform_manifest_is_put_back(
    rig_factory: Callable[..., Rig], repo_prefix: str
) -> None:
    """With jobs, an index's platform manifests go side by side right after it, their windows
    opened before the listing after the index's DELETE (that listing is their "before"). One
    doomed single-platform index, edge on the kept one: while its platform manifest's DELETE
    is held, crane points edge at it; the DELETE takes edge, and regkit puts it back."""
    rig = rig_factory("basic", version="3")
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    old = pusher.push_image(repo, "0000001", "oci-index", platforms=["linux/amd64"], created=T0)
    new = pusher.push_image(
        repo, "0000002", "oci-index", platforms=["linux/amd64"], created=T0 + timedelta(hours=1)
    )
    pusher.tag(new, ["edge"])
    child = old.children[0]
    gate = Gate()

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and req.path.endswith(child):
            return hold(gate)
        return None

    warnings: list[str] = []
    with fault_proxy(rig.host, plan) as proxy, _client(proxy.host, rig, jobs=4) as c:
        pruning = _plan(c, repo, 1)
        thread, out = _in_thread(lambda: execute_recorded(c, [pruning], warn=warnings.append))
        try:
            assert gate.arrived.wait(60), "the platform manifest's DELETE reached the proxy"
            crane(rig, "tag", rig.ref(repo, child), "edge")
        finally:
            gate.release.set()
            thread.join(120)
    assert not isinstance(out[0], BaseException), out[0]
    assert _state(rig, repo) == {"0000002": new.digest, "edge": child}
    assert any(f"{repo}:edge pointed at {child} when it was deleted" in w for w in warnings)


def test_tag_first_with_deletion_disabled_changes_nothing_and_says_so(
    rig_factory: Callable[..., Rig], repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """registry:3 with deletion disabled refuses the first DELETE by tag (405): nothing
    changes, the prune stops, and the tags it reached say the registry does not support it
    (not 'not run'); one refused request."""
    monkeypatch.setattr(execute_module, "TAG_FIRST_FROM", 1, raising=False)
    rig = rig_factory("basic", version="3", delete_enabled=False)
    repo = f"{repo_prefix}/app"
    rig.pusher().push_images(repo, short_sha_tags(5, seed=9), "oci", start=T0)
    before = _state(rig, repo)
    with _client(rig.host, rig) as c:
        pruning = _plan(c, repo, 2)
        rig.mark()
        result = execute_plan(c, pruning)
    assert not result.complete
    assert _state(rig, repo) == before
    writes = [(r.method, r.status) for r in rig.requests() if r.method not in ("GET", "HEAD")]
    assert writes == [("DELETE", 405)], writes
    failed = [o for o in result.outcomes if o.status == "failed"]
    assert failed and all("does not support" in o.detail for o in failed)
