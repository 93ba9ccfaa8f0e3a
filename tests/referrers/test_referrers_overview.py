"""overview and check see an image's referrers (issue 23): attachments per image, not rows.

On distribution 2.8, registry:3 and crane's registry, an image signed with the real cosign
(``sha256-<hex>.sig``), attested (``.att``) and with an SBOM attached by the real oras (the
referrers tag schema's ``sha256-<hex>`` index):

- ``regkit overview`` shows per image what is attached (``attached`` counts in ``-o json``),
  never the referrer tags as rows; a referrer tag whose image is gone is shown as orphaned;
- on an unsigned repository it sends exactly the requests it sent before (no lookup of
  referrers where no referrer tag says there is one);
- ``regkit check`` reports a referrer whose image is gone (exit 1, table and json).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.rig import Rig
from tests.rig.cosign import KeyPair, attest, generate_key_pair, require_cosign, sign
from tests.rig.cranereg import CraneRig
from tests.rig.oras import attach, require_oras
from tests.schemas import check_schema

AnyRig = Rig | CraneRig

RIGS = {"2.8": "rig_basic", "3": "rig_basic_v3", "crane": "rig_crane"}


@pytest.fixture(params=list(RIGS), ids=["v2.8", "v3", "crane"])
def signed_rig(request: pytest.FixtureRequest) -> AnyRig:
    rig: AnyRig = request.getfixturevalue(RIGS[request.param])
    rig.ensure_running()
    return rig


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    require_cosign()
    require_oras()
    yield generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


def _sbom(tmp_path: Path) -> Path:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "regkit-test"}))
    return path


def _signed_repository(rig: AnyRig, repo: str, keys: KeyPair, tmp_path: Path) -> dict[str, str]:
    """v1: signed, attested, with an SBOM; v2: nothing attached; a third image signed and then
    deleted (its signature left behind: an orphan). Digests by name (v1, v2, gone)."""
    pusher = rig.pusher()
    v1 = pusher.push_image(repo, ["v1"], layer_size=64).digest
    v2 = pusher.push_image(repo, ["v2"], layer_size=64).digest
    gone = pusher.push_image(repo, ["v3"], layer_size=64).digest
    for digest in (v1, gone):
        sign(rig, keys, rig.ref(repo, digest))
    attest(rig, keys, rig.ref(repo, v1), _sbom(tmp_path))
    attach(rig, rig.ref(repo, v1), _sbom(tmp_path))
    out = regkit("delete", "--yes", rig.ref(repo, gone), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    return {"v1": v1, "v2": v2, "gone": gone}


def test_overview_shows_what_is_attached_not_referrer_rows(
    signed_rig: AnyRig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    rig = signed_rig
    repo = f"{repo_prefix}/app"
    digests = _signed_repository(rig, repo, keys, tmp_path)
    orphan_tag = "sha256-" + digests["gone"].removeprefix("sha256:") + ".sig"

    out = regkit("overview", "-o", "json", "--no-cache", rig.ref(repo), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    check_schema("overview", doc)
    (shown,) = doc["repositories"]
    rows = {row["tag"]: row for row in shown["tags"]}
    assert sorted(rows) == ["v1", "v2"]  # no sha256-<hex>, sha256-<hex>.sig ... rows
    assert rows["v1"]["attached"] == {"signature": 1, "attestation": 1, "sbom": 1, "other": 0}
    assert "attached" not in rows["v2"]  # nothing attached: the row as it always was
    assert shown["orphaned_referrers"] == [
        {"tag": orphan_tag, "subject": digests["gone"], "kind": "signature"}
    ]

    table = regkit("overview", "--no-trunc", "--no-cache", rig.ref(repo), env=rig.env())
    assert table.returncode == 0, table.stderr.decode()
    text = table.stdout.decode()
    assert "sha256-" not in "".join(
        line for line in text.splitlines() if not line.startswith("  orphaned")
    ), text
    (v1,) = [line for line in text.splitlines() if line.split()[:1] == ["v1"]]
    assert "signed" in v1 and "1 attestation" in v1 and "1 SBOM" in v1, v1
    (orphaned,) = [line for line in text.splitlines() if "orphaned" in line]
    assert orphan_tag in orphaned and digests["gone"] in orphaned, orphaned

    md = regkit("overview", "-o", "markdown", "--no-cache", rig.ref(repo), env=rig.env())
    assert md.returncode == 0, md.stderr.decode()
    assert "1 SBOM" in md.stdout.decode()


def test_overview_of_an_unsigned_repository_sends_no_more_requests(
    basic_rig: Rig, repo_prefix: str
) -> None:
    rig = basic_rig
    repo = f"{repo_prefix}/plain"
    rig.pusher().push_image(repo, ["a", "b", "c"], layer_size=32)
    rig.pusher().push_image(repo, ["d"], layer_size=32)
    rig.mark()
    out = regkit("overview", "-o", "json", "--no-cache", rig.ref(repo), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    sent = [r for r in rig.requests() if r.status != 401 and r.path != "/v2/"]
    # as before referrers: the tag list, each tag's manifest, each distinct config
    assert len(sent) == 1 + 4 + 2, sent
    assert not any("/referrers/" in r.path or "sha256-" in r.path for r in sent), sent
    (shown,) = json.loads(out.stdout)["repositories"]
    assert "orphaned_referrers" not in shown
    assert all("attached" not in row for row in shown["tags"])


def test_check_reports_referrers_whose_image_is_gone(
    signed_rig: AnyRig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    rig = signed_rig
    repo = f"{repo_prefix}/app"
    digests = _signed_repository(rig, repo, keys, tmp_path)
    orphan_tag = "sha256-" + digests["gone"].removeprefix("sha256:") + ".sig"

    out = regkit("check", rig.ref(repo), env=rig.env())
    assert out.returncode == 1, (out.stdout.decode(), out.stderr.decode())
    text = out.stdout.decode()
    (line,) = [line for line in text.splitlines() if line.startswith("ORPHANED")]
    assert orphan_tag in line and digests["gone"] in line, line
    assert "1 orphaned referrer" in text.splitlines()[-1]
    assert "orphaned referrer" in out.stderr.decode()

    js = regkit("check", "-o", "json", rig.ref(repo), env=rig.env())
    assert js.returncode == 1
    doc = json.loads(js.stdout)
    check_schema("check", doc)
    assert doc["ok"] is False
    assert doc["broken"] == []
    assert doc["orphaned_referrers"] == [
        {
            "repository": repo,
            "tag": orphan_tag,
            "subject": digests["gone"],
            "kind": "signature",
        }
    ]

    # once the orphan is gone, the repository is whole again
    out = regkit("delete", "--yes", rig.ref(repo, orphan_tag), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    again = regkit("check", "-o", "json", rig.ref(repo), env=rig.env())
    assert again.returncode == 0, again.stderr.decode()
    assert json.loads(again.stdout)["orphaned_referrers"] == []
