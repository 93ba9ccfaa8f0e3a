"""Prune against other writers (issue 12 §2), on the real registry (distribution 2.8) behind the
fault proxy, which holds a manifest DELETE while crane, an independent client, writes:

- a rollback points ``edge`` at the manifest being deleted: the tag is put back, and said;
  on the 2.8 throw-away path, a rollback that copies the doomed tag gets the real image back;
- Ctrl-C (a real SIGINT) while a DELETE is held: the deletion in flight finishes, nothing more
  starts, the output says what was deleted and what was not, exit 130; a rerun finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.faultproxy import Fault, Gate, Request, fault_proxy, hold
from tests.rig import PushedImage, Rig, crane, short_sha_tags

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Setup:
    rig: Rig
    repo: str
    images: list[PushedImage]  # oldest first, one SHA tag each
    env: dict[str, str]

    def state(self) -> dict[str, str]:
        pusher = self.rig.pusher()
        return {t: pusher.get_manifest(self.repo, t)[2] for t in pusher.tags(self.repo)}


@pytest.fixture
def eight(rig_basic: Rig, repo_prefix: str) -> Iterator[Setup]:
    """8 SHA tags an hour apart, ``edge`` on the newest."""
    rig = rig_basic
    rig.ensure_running()
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    tags = short_sha_tags(8, seed=sum(map(ord, repo)))
    images = pusher.push_images(repo, tags, "oci", start=T0, step=timedelta(hours=1))
    # edge, not latest: no built-in rule protects it (it stays because the default pattern
    # does not match it), so the newest SHA tag still counts in --keep and the rollbacks
    # below move a tag that only the race guard puts back
    pusher.tag(images[-1], ["edge"])
    env = dict(os.environ)
    env.update(
        REGISTRY_USERNAME=rig.username,
        REGISTRY_PASSWORD=rig.password,
        DOCKER_CONFIG="/nonexistent",
        PYTHONUNBUFFERED="1",
    )
    yield Setup(rig, repo, images, env)


def _hold_first_manifest_delete(gate: Gate) -> object:
    def plan(req: Request) -> Fault | None:
        if (
            req.method == "DELETE"
            and "/manifests/sha256:" in req.path
            and not gate.arrived.is_set()
        ):
            return hold(gate)
        return None

    return plan


def _prune(host: str, setup: Setup, *extra: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "regkit", "prune", f"{host}/{setup.repo}", "--yes", *extra]
    return subprocess.Popen(
        args,
        env=setup.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def test_prune_racing_a_rollback_puts_the_tag_back(eight: Setup) -> None:
    """--keep 7 deletes the oldest manifest; while its DELETE is held, crane points edge at
    it (a rollback). The DELETE takes edge with it: regkit puts edge back from the deleted
    manifest's bytes and says so."""
    rig, repo, oldest = eight.rig, eight.repo, eight.images[0]
    before = eight.state()
    gate = Gate()
    with fault_proxy(rig.host, _hold_first_manifest_delete(gate)) as proxy:  # type: ignore[arg-type]
        proc = _prune(proxy.host, eight, "--keep", "7")
        try:
            assert gate.arrived.wait(60), "the manifest DELETE reached the proxy"
            crane(rig, "tag", rig.ref(repo, oldest.digest), "edge")
            gate.release.set()
            out, err = proc.communicate(timeout=120)
        finally:
            gate.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, stderr
    expected = {t: d for t, d in before.items() if t != oldest.tags[0]}
    expected["edge"] = oldest.digest
    assert eight.state() == expected  # edge is there, on the rollback's digest
    host_repo = f"{proxy.host}/{repo}"
    assert f"{host_repo}: deleted 1 tag (1 manifest by digest, since put back for 1 tag);" in stdout
    assert f"  edge: put back on {oldest.digest}" in stdout
    assert f"{repo}:edge pointed at {oldest.digest} when it was deleted" in stderr


def test_rollback_copying_a_tag_on_the_throwaway_path_gets_the_real_image(
    eight: Setup,
) -> None:
    """Distribution 2.8, throw-away path: the oldest SHA tag shares its manifest with
    ``stable``, so it is removed alone (pointed at a throw-away, which is then deleted). While
    that DELETE is held, a rollback copies the SHA tag to ``edge`` with crane (by name: it
    gets the throw-away). The DELETE takes edge with it: regkit puts edge back on the image
    the SHA tag named, not on the empty throw-away."""
    rig, repo, oldest = eight.rig, eight.repo, eight.images[0]
    sha = oldest.tags[0]
    rig.pusher().tag(oldest, ["stable"])
    before = eight.state()
    gate = Gate()
    with fault_proxy(rig.host, _hold_first_manifest_delete(gate)) as proxy:  # type: ignore[arg-type]
        proc = _prune(proxy.host, eight, "--keep", "7")
        try:
            assert gate.arrived.wait(60), "the throw-away DELETE reached the proxy"
            assert crane(rig, "digest", rig.ref(repo, sha)).stdout.decode().strip() != oldest.digest
            crane(rig, "tag", rig.ref(repo, sha), "edge")
            gate.release.set()
            out, err = proc.communicate(timeout=120)
        finally:
            gate.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, stderr
    expected = {t: d for t, d in before.items() if t != sha}
    expected["edge"] = oldest.digest
    assert eight.state() == expected
    assert f"  edge: put back on {oldest.digest}" in stdout
    assert f"{repo}:edge pointed at the throw-away manifest standing in for {sha}" in stderr


def test_a_tag_that_cannot_be_attributed_fails_the_prune_with_the_fix(eight: Setup) -> None:
    """--keep 6 deletes two manifests at once; both DELETEs are held while crane points edge
    at one of them. The tag went with one of two concurrent DELETEs: regkit does not guess,
    it exits 1 naming the tag, with the commands that put it back on either digest."""
    rig, repo = eight.rig, eight.repo
    doomed = eight.images[:2]
    gate = Gate()

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and "/manifests/sha256:" in req.path:
            return hold(gate)
        return None

    with fault_proxy(rig.host, plan) as proxy:
        proc = _prune(proxy.host, eight, "--keep", "6")
        try:
            for _ in range(1200):  # both DELETEs reach the proxy
                if sum(1 for _r, f in proxy.seen if f is not None and f.kind == "hold") == 2:
                    break
                threading.Event().wait(0.05)
            held = sum(1 for _r, f in proxy.seen if f is not None and f.kind == "hold")
            assert held == 2, proxy.seen
            crane(rig, "tag", rig.ref(repo, doomed[1].digest), "edge")
            gate.release.set()
            out, err = proc.communicate(timeout=120)
        finally:
            gate.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 1, stderr
    assert "edge" not in eight.state()  # gone, and said so: not put back on a guess
    a, b = sorted(i.digest for i in doomed)
    assert f"{repo}:edge vanished while {a}, {b} were being deleted" in stderr
    assert f"'regkit tag REGISTRY/{repo}@DIGEST edge'" in stderr
    assert stderr.rstrip().endswith(
        f"1 tag went with a DELETE and could not be put back: {proxy.host}/{repo}:edge; put "
        "them back with the 'regkit tag' commands in the warnings above before garbage "
        "collection runs"
    ), stderr
    assert "  edge: went with a DELETE of this prune and was not put back\n" in stdout


def _collect(stream: object, sink: list[str]) -> threading.Thread:
    """Collect ``stream`` lines into ``sink`` on a thread."""

    def pump() -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            sink.append(raw.decode())

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_ctrl_c_during_prune_reports_and_exits_130(eight: Setup, fmt: str) -> None:
    """--keep 5 deletes 3 manifests (one at a time with -j 1). SIGINT while the first DELETE is
    held: that deletion finishes, the other two do not start; the report names both sides and
    says a rerun finishes; exit 130. With -o json, stdout is still the JSON document: the
    deleted tag, and the two not deleted with no result. The rerun deletes the rest."""
    rig, repo = eight.rig, eight.repo
    doomed = [i.tags[0] for i in eight.images[:3]]
    before = eight.state()
    gate = Gate()
    errors: list[str] = []
    with fault_proxy(rig.host, _hold_first_manifest_delete(gate)) as proxy:  # type: ignore[arg-type]
        proc = _prune(proxy.host, eight, "--keep", "5", "--jobs", "1", "-o", fmt)
        pump = _collect(proc.stderr, errors)
        try:
            assert gate.arrived.wait(60), "the manifest DELETE reached the proxy"
            proc.send_signal(signal.SIGINT)
            for _ in range(600):  # the interrupt is acknowledged before the DELETE is released
                if any("finishing" in line for line in errors):
                    break
                threading.Event().wait(0.05)
            assert any("finishing" in line for line in errors), "".join(errors)
            gate.release.set()
            out = proc.stdout.read().decode()  # type: ignore[union-attr]
            proc.wait(timeout=120)
        finally:
            gate.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        pump.join(10)
        host_repo = f"{proxy.host}/{repo}"
    stderr = "".join(errors)
    assert proc.returncode == 130, stderr
    after = eight.state()
    gone = [t for t in doomed if t not in after]
    assert len(gone) == 1, (after, stderr)  # the deletion in flight, and only that one
    assert {t: d for t, d in before.items() if t not in gone} == after
    stays = sorted(t for t in doomed if t not in gone)
    assert f"regkit: interrupted: deleted 1 tag: {host_repo}:{gone[0]}\n" in stderr
    # issue 20 §3: the tags not deleted, one per line under a heading (one 5 KB line before)
    listed = "".join(f"  {host_repo}:{t}\n" for t in stays)
    assert f"regkit: interrupted: not deleted ({len(stays)} tags):\n{listed}" in stderr
    assert stderr.endswith(
        "regkit: interrupted: the registry is consistent; run the same command again to finish\n"
    ), stderr
    assert "Traceback" not in stderr
    if fmt == "table":
        assert f"{host_repo}\n" in out  # the plan was printed before the deletes
    else:
        doc = json.loads(out)
        assert doc["registry"] == proxy.host and doc["dry_run"] is False
        assert doc["deleted"] == [f"{host_repo}:{gone[0]}"]
        (only,) = doc["repositories"]
        removed = {e["tag"] for e in only["plan"]["tags"] if e["action"] != "keep"}
        assert removed == set(doomed)
        statuses = {o["tag"]: o["status"] for o in only["result"]["outcomes"]}
        assert statuses[gone[0]] == "deleted"
        assert all(statuses.get(t, "not-run") != "deleted" for t in stays), statuses

    rerun = subprocess.run(
        [sys.executable, "-m", "regkit", "prune", rig.ref(repo), "--keep", "5", "--yes"],
        env=eight.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert eight.state() == {t: d for t, d in before.items() if t not in doomed}
