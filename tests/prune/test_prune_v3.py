"""The tag-DELETE path on registry:3: DELETE by tag answers 202 and removes only that tag;
DELETE by digest removes every tag on it; a registry with deletion disabled answers 405 to both.

Checked on a real registry:3 (``rig_factory(version="3")``). The scripted fake (``FakeV3``)
stays only for a fault a real registry cannot be made to show: a digest DELETE that removes the
manifest and then fails (500) before its tags."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from regkit.ops.prune import (
    DELETE_MANIFEST,
    UNTAG,
    PrunePlan,
    PrunePolicy,
    execute_plan,
    fetch_repository,
    plan_prune,
)
from regkit.registry import RegistryClient, RetryPolicy
from tests.fakeserver import Answer, FakeServer, Seen, serve
from tests.rig import Rig, client_for
from tests.rig.images import OCI_CONFIG, OCI_MANIFEST, Blob, build_config, build_manifest

REPO = "rednaw/hello-world"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _error(status: int, code: str, message: str) -> Answer:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return status, {"Content-Type": "application/json"}, body


@dataclass
class FakeV3:
    """One repository held in memory, answering as registry:3 does."""

    delete_enabled: bool = True
    half_deletes: int = 0  # DELETEs by digest that fail inside: manifest gone, tags left, 500
    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def push(self, tags: list[str], created: datetime) -> str:
        config = Blob.of(
            build_config(
                "linux/amd64",
                created=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                labels={"org.opencontainers.image.created": created.strftime("%Y-%m-%d %H:%M:%S")},
                diff_ids=[],
                docker=False,
            ),
            OCI_CONFIG,
        )
        self.blobs[config.digest] = config.data
        raw = build_manifest(False, config, [])
        digest = "sha256:" + __import__("hashlib").sha256(raw).hexdigest()
        self.manifests[digest] = (raw, OCI_MANIFEST)
        for tag in tags:
            self.tags[tag] = digest
        return digest

    def route(self, seen: Seen) -> Answer:
        if seen.path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        if seen.path == f"/v2/{REPO}/tags/list":
            body = {"name": REPO, "tags": sorted(self.tags) or None}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        m = re.fullmatch(rf"/v2/{REPO}/manifests/(.+)", seen.path)
        if m:
            return self._manifest(seen, m.group(1))
        m = re.fullmatch(rf"/v2/{REPO}/blobs/(sha256:[0-9a-f]+)", seen.path)
        if m and m.group(1) in self.blobs:
            return 200, {"Content-Type": "application/octet-stream"}, self.blobs[m.group(1)]
        return _error(404, "NAME_UNKNOWN", "repository name not known to registry")

    def _manifest(self, seen: Seen, ref: str) -> Answer:
        by_digest = ref.startswith("sha256:")
        if seen.method == "DELETE":
            if not self.delete_enabled:
                return _error(405, "UNSUPPORTED", "The operation is unsupported.")
            if by_digest:
                if ref not in self.manifests:
                    return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                del self.manifests[ref]
                if self.half_deletes:
                    self.half_deletes -= 1
                    return _error(500, "UNKNOWN", "unknown error")
                self.tags = {t: d for t, d in self.tags.items() if d != ref}
                return 202, {}, b""
            if ref not in self.tags:
                return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            del self.tags[ref]  # v3: only the tag goes
            return 202, {}, b""
        if seen.method == "PUT":
            digest = "sha256:" + __import__("hashlib").sha256(seen.body).hexdigest()
            self.manifests[digest] = (seen.body, seen.headers.get("content-type", ""))
            if not by_digest:
                self.tags[ref] = digest
            return 201, {"Docker-Content-Digest": digest}, b""
        digest = ref if by_digest else self.tags.get(ref, "")
        if digest not in self.manifests:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        raw, media_type = self.manifests[digest]
        return 200, {"Content-Type": media_type, "Docker-Content-Digest": digest}, raw


@pytest.fixture
def fake_v3() -> Iterator[tuple[FakeV3, FakeServer]]:
    registry = FakeV3()
    with serve(registry.route) as server:
        yield registry, server


def client(server: FakeServer) -> RegistryClient:
    return RegistryClient(server.host, retry=RetryPolicy(attempts=1), jobs=4)


def _plan(c: RegistryClient, repo: str, keep: int) -> PrunePlan:
    fetched = fetch_repository(c, repo)
    return plan_prune(
        list(fetched.tags), PrunePolicy(keep=keep), datetime.now(UTC), repository=repo
    )


def test_tag_delete_removes_only_the_tag(rig_factory, repo_prefix: str) -> None:  # type: ignore[no-untyped-def]
    """On a real registry:3 (it was a scripted fake before): prune removes a tag whose
    manifest stays with one tag DELETE each, and writes nothing (no throw-away manifest)."""
    rig: Rig = rig_factory("basic", version="3")
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = [f"{i:07x}" for i in range(5)]
    images = pusher.push_images(repo, shas, "oci", start=T0)
    digests = [img.digest for img in images]
    # edge/stable, not latest/v1.0.0: no built-in rule protects them (they stay because the
    # default pattern does not match them), so the SHA tags on their digests go alone
    pusher.tag(images[0], ["edge"])
    pusher.tag(images[1], ["stable"])
    rig.mark()
    with client_for(rig, retry=RetryPolicy(attempts=1), jobs=4) as c:
        plan = _plan(c, repo, 2)
        assert {e.tag: e.action for e in plan.removed} == {
            "0000000": UNTAG,
            "0000001": UNTAG,
            "0000002": DELETE_MANIFEST,
        }
        result = execute_plan(c, plan)
    assert result.complete
    after = {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)}
    assert after == {
        "edge": digests[0],
        "stable": digests[1],
        "0000003": digests[3],
        "0000004": digests[4],
    }
    assert pusher.manifest_status(repo, digests[2]) == 404
    deletes = [r for r in rig.requests() if r.method == "DELETE"]
    assert sorted((r.path.rsplit("/", 1)[1], r.status) for r in deletes) == sorted(
        [("0000000", 202), ("0000001", 202), (digests[2], 202)]
    )
    assert not [r for r in rig.requests() if r.method in ("PUT", "POST", "PATCH")]
    assert c.tag_delete_supported is True  # learned by this client, not a module global
    assert {o.tag: o.detail for o in result.outcomes}["0000000"] == "deleted by tag"


def test_deletion_disabled_changes_nothing_and_says_so(rig_factory, repo_prefix: str) -> None:  # type: ignore[no-untyped-def]
    """A real registry:3 with ``storage.delete.enabled: false`` refuses both deletes (405
    UNSUPPORTED; 3.1.1 and later also for tags, CVE-2026-41888): nothing changes, and each
    failure says the registry does not support it."""
    rig: Rig = rig_factory("basic", version="3", delete_enabled=False)
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    images = pusher.push_images(repo, [f"{i:07x}" for i in range(4)], "oci", start=T0)
    pusher.tag(images[0], ["latest"])
    before = {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)}
    rig.mark()
    with client_for(rig, retry=RetryPolicy(attempts=1), jobs=4) as c:
        result = execute_plan(c, _plan(c, repo, 1))
    assert not result.complete
    assert {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)} == before
    writes = [r for r in rig.requests() if r.method not in ("GET", "HEAD")]
    assert writes and {(r.method, r.status) for r in writes} == {("DELETE", 405)}
    failed = [o for o in result.outcomes if o.status == "failed"]
    assert failed and all("does not support" in o.detail for o in failed)


def test_tags_left_dangling_by_a_failed_delete_are_finished(
    fake_v3: tuple[FakeV3, FakeServer],
) -> None:
    """The registry deletes the manifest, fails on its tags (500); the retried DELETE answers
    404. The tags now point at nothing: the check after the run removes them by name."""
    registry, server = fake_v3
    digests = [registry.push([f"{i:07x}"], T0 + timedelta(hours=i)) for i in range(3)]
    registry.tags["aaaaaaa"] = digests[0]
    registry.half_deletes = 1
    with RegistryClient(server.host, retry=RetryPolicy(attempts=2, base_delay=0.01), jobs=1) as c:
        fetched = fetch_repository(c, REPO)
        plan = plan_prune(
            list(fetched.tags), PrunePolicy(keep=1), datetime.now(UTC), repository=REPO
        )
        assert plan.delete_digests == (min(digests[0], digests[1]), max(digests[0], digests[1]))
        result = execute_plan(c, plan)
    assert result.complete
    assert registry.tags == {"0000002": digests[2]}
    finished = [o for o in result.outcomes if o.detail.endswith("finished alone")]
    assert len(finished) >= 1
