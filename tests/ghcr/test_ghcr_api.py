"""regkit.api on the local GHCR: prune_ghcr plans and deletes package versions; the
distribution executor refuses GHCR rather than answering 405s."""

from __future__ import annotations

import pytest

from regkit import api
from regkit.errors import RegkitError, UsageError
from tests.ghcr_fixtures import READER, ghcr, pusher
from tests.ghcr_images import push_history
from tests.ghcrfake import FakeGHCR
from tests.rig.images import Pusher

__all__ = ["ghcr", "pusher"]

TAGS = ["1a2b3c4", "2b3c4d5", "3c4d5e6"]


def test_prune_ghcr_through_the_api(ghcr: FakeGHCR, pusher: Pusher) -> None:
    builds = push_history(pusher, "acme/app", TAGS)
    with api.connect(ghcr.host) as reg:
        [(plan, none)] = api.prune_ghcr(reg, ["acme/app"], keep=2, dry_run=True)
        assert none is None and [d.role for d in plan.deletions] == ["image"] + ["child"] * 4
        assert len(ghcr.versions("acme/app")) == 15
        [(plan, result)] = api.prune_ghcr(reg, ["acme/app"], keep=2)
        assert result is not None and result.complete
        assert {v["name"] for v in ghcr.versions("acme/app")} == {
            d for b in builds[1:] for d in b.manifests
        }
        with pytest.raises(UsageError, match=r"use regkit\.api\.prune_ghcr"):
            api.execute_prune(reg, [plan.plan])


def test_prune_ghcr_without_admin_raises_one_line(ghcr: FakeGHCR, pusher: Pusher) -> None:
    push_history(pusher, "acme/app", TAGS)
    with api.connect(ghcr.host) as reg, pytest.raises(RegkitError) as err:
        api.prune_ghcr(reg, ["acme/app"], keep=1, github_token=READER)
    assert "Admin role" in err.value.message and READER not in err.value.message
    assert len(ghcr.versions("acme/app")) == 15
