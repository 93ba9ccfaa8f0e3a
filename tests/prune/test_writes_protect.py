"""Protections that must never be lost silently (issue 12 §2): a deploy-history entry that is
not an image block is refused, naming it; only the exact throw-away shape counts as a prune's
leftover, on the real registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from regkit.errors import UsageError
from regkit.ops.prune import (
    DELETE_MANIFEST,
    KEEP,
    PrunePolicy,
    fetch_repository,
    plan_prune,
    throwaway_manifest,
)
from regkit.ops.prune.fetch import THROWAWAY_KEY
from regkit.ops.prune.protect import parse_deploy_info
from regkit.registry import RegistryClient
from regkit.registry.manifest import OCI_MANIFEST, sha256_digest
from tests.rig import Rig

DIGEST = "sha256:" + "ab" * 32
GOOD = f"- image:\n    tag: 0123456\n    digest: {DIGEST}\n"


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ("- image: registry.example/app:0aaaaaa\n", "entry 2"),
        ("- deployed: 0aaaaaa\n  when: today\n", "entry 2"),
        ("- {}\n", "entry 2"),
        ("- null\n", "entry 2"),
        ("- image:\n    repo: registry.example/app\n", "entry 2"),
        ("- 0aaaaaa\n", "entry 2"),
    ],
)
def test_history_entry_that_is_not_an_image_block_is_refused(entry: str, shown: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_deploy_info(GOOD + entry, "deploy-history.yml")
    message = caught.value.message
    assert message.startswith(f"deploy-history.yml: {shown} ")
    assert "refusing to prune" in message


def test_history_of_image_blocks_still_reads() -> None:
    text = GOOD + "- image:\n    tag: 1e10000\n- tag: 2bbbbbb\n  digest: " + DIGEST + "\n"
    prot = parse_deploy_info(text, "deploy-history.yml")
    assert prot.tags == {"0123456", "1e10000", "2bbbbbb"}
    assert prot.digests == {DIGEST}


def test_only_the_exact_throwaway_shape_is_a_leftover(
    rig: Rig, repo_prefix: str, client_for: Callable[..., RegistryClient]
) -> None:
    """A user's image carrying the marker key (with layers), an empty image whose marker names
    another tag, and one whose config lacks the label: all kept with their tags. The genuine
    leftover is still deleted."""
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    user = pusher.push_image(repo, ["stable"], "oci")
    doc = json.loads(user.raw)
    doc["annotations"] = {THROWAWAY_KEY: f"{repo}:stable 0123456789abcdef"}
    raw = json.dumps(doc).encode()
    annotated = pusher.put_manifest(repo, "stable", raw, OCI_MANIFEST)
    pusher.put_manifest(repo, "v9.9.9", raw, OCI_MANIFEST)
    with client_for(rig) as client:
        # an empty image whose marker names another tag
        config, other = throwaway_manifest(repo, "aaaaaaa")
        client.upload_bytes(repo, config)
        other_digest = client.put_manifest(repo, "bbbbbbb", other, OCI_MANIFEST)
        # the right marker for its tag, but the config carries no label
        bare_config = (
            b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        )
        client.upload_bytes(repo, bare_config)
        no_label = json.loads(throwaway_manifest(repo, "ccccccc", "0123456789abcdef")[1])
        no_label["config"]["digest"] = sha256_digest(bare_config)
        no_label["config"]["size"] = len(bare_config)
        client.put_manifest(repo, "ccccccc", json.dumps(no_label).encode(), OCI_MANIFEST)
        # the genuine leftover of an interrupted prune
        config, real = throwaway_manifest(repo, "ddddddd")
        client.upload_bytes(repo, config)
        leftover = client.put_manifest(repo, "ddddddd", real, OCI_MANIFEST)

        fetched = fetch_repository(client, repo)
        plan = plan_prune(
            list(fetched.tags), PrunePolicy(keep=10), datetime.now(UTC), repository=repo
        )
    actions = {e.tag: e.action for e in plan.entries}
    assert actions == {
        "stable": KEEP,
        "v9.9.9": KEEP,
        "bbbbbbb": KEEP,
        "ccccccc": KEEP,
        "ddddddd": DELETE_MANIFEST,
    }, plan.entries
    assert plan.delete_digests == (leftover,)
    assert annotated not in plan.delete_digests and other_digest not in plan.delete_digests
