"""The prune-tags action and referrers (issue 23): the job summary says, on each image's row,
what goes (dry run) or went with it: its cosign signature and its oras SBOM, found by the real
tools on the production shape (registry:3 behind nginx with TLS), through the composite action
in the runner emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.actions.test_gha import split_row, unescape_markdown
from tests.rig import PRODUCTION, Rig, crane, rig_shapes
from tests.rig.cosign import KeyPair, generate_key_pair, require_cosign, sign, verify
from tests.rig.oras import attach, require_oras
from tests.runner import StepResult, run_composite

pytest_plugins = ("tests.runner",)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    require_cosign()
    require_oras()
    return generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


def _run(tmp_path: Path, installed: Path, rig: Rig, **inputs: str) -> StepResult:
    given = {k.replace("_", "-"): v for k, v in inputs.items()}
    if rig.ca_file:
        given["ca-file"] = str(rig.ca_file)
    return run_composite(tmp_path, "prune-tags", given, rig.env({}), installed).main


def _rows(summary: str) -> dict[str, list[str]]:
    rows = [split_row(line) for line in summary.splitlines() if line.startswith("| ")]
    return {unescape_markdown(r[0]): [unescape_markdown(c) for c in r] for r in rows[2:]}


@rig_shapes(PRODUCTION)
def test_the_summary_says_what_went_with_each_image(
    rig: Rig, repo_prefix: str, tmp_path: Path, installed: Path, keys: KeyPair
) -> None:
    repo = f"{repo_prefix}/app"
    images = rig.pusher().push_images(repo, ["aaaaaaa", "bbbbbbb", "ccccccc"])
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "regkit-test"}))
    for img in images:
        sign(rig, keys, rig.ref(repo, img.digest))
        attach(rig, rig.ref(repo, img.digest), sbom)

    dry = _run(tmp_path / "dry", installed, rig, registry=rig.host, images=repo, keep="1")
    assert dry.exit_code == 0, dry.raw_stderr.decode()
    rows = _rows(dry.summary or "")
    for tag in ("aaaaaaa", "bbbbbbb"):
        assert rows[tag][3:5] == ["delete-manifest", "would go with it: 1 signature, 1 SBOM"]
    assert rows["ccccccc"][3:5] == ["keep", ""]

    step = _run(
        tmp_path / "real", installed, rig, registry=rig.host, images=repo, keep="1", dry_run="false"
    )
    assert step.exit_code == 0, step.raw_stderr.decode()
    summary = step.summary or ""
    lines = summary.splitlines()
    (old,) = [line for line in lines if line.startswith("| aaaaaaa |")]
    cells = split_row(old)
    assert cells[4] == "deleted; removed with it: 1 signature, 1 SBOM", old
    assert old.startswith(f"| aaaaaaa | {images[0].digest[:19]} | "), old
    assert old.endswith(
        " | delete-manifest | deleted; removed with it: 1 signature, 1 SBOM | older than the 1 "
        "newest |"
    ), old
    rows = _rows(summary)
    assert rows["bbbbbbb"][4] == "deleted; removed with it: 1 signature, 1 SBOM"
    assert rows["ccccccc"][3:5] == ["keep", ""]
    left = set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split())
    hexpart = images[2].digest.removeprefix("sha256:")
    assert left == {"ccccccc", f"sha256-{hexpart}", f"sha256-{hexpart}.sig"}
    verify(rig, keys, rig.ref(repo, "ccccccc"))
