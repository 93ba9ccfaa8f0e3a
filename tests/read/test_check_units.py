"""check's pure parts: judging fetched content, orphans, the text, without a server."""

from __future__ import annotations

import json

from regkit.ops.check import CheckReport, Damage, ImageCheck, Orphan, find_orphans, judge_image
from regkit.registry import Manifest
from regkit.registry.manifest import OCI_INDEX, OCI_MANIFEST, sha256_digest


def digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def image(config_size: int = 10, layers: tuple[int, ...] = (100,)) -> Manifest:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "x", "digest": digest(1), "size": config_size},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(10 + i),
                    "size": s,
                }
                for i, s in enumerate(layers)
            ]
            + [
                {
                    "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                    "digest": digest(99),
                    "size": 5,
                }
            ],
        }
    ).encode()
    return Manifest(raw, OCI_MANIFEST, sha256_digest(raw))


def index(*children: tuple[Manifest, str]) -> Manifest:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": m.digest,
                    "size": len(m.raw),
                    "platform": {"os": "linux", "architecture": arch},
                }
                for m, arch in children
            ],
        }
    ).encode()
    return Manifest(raw, OCI_INDEX, sha256_digest(raw))


def test_judge_whole_image_and_each_damage() -> None:
    m = image(layers=(100, 200))
    sizes: dict[str, int | str | None] = {digest(1): 10, digest(10): 100, digest(11): 200}
    assert judge_image(m, {}, sizes) == ()  # the foreign layer is not asked about
    assert judge_image(m, {}, {**sizes, digest(11): None}) == (
        Damage("layer", digest(11), "missing"),
    )
    assert judge_image(m, {}, {**sizes, digest(1): 7}) == (
        Damage("config", digest(1), "size 7, the manifest says 10"),
    )
    assert judge_image("missing", {}, {}) == (Damage("manifest", "", "missing"),)


def test_judge_index_children() -> None:
    amd, arm = image(), image(config_size=11)
    top = index((amd, "amd64"), (arm, "arm64"))
    sizes: dict[str, int | str | None] = {digest(1): 10, digest(10): 100}
    got = judge_image(top, {amd.digest: amd, arm.digest: "missing"}, sizes)
    assert got == (Damage("platform manifest", arm.digest, "missing", "linux/arm64"),)
    got = judge_image(top, {amd.digest: amd, arm.digest: arm}, sizes)
    assert got == (Damage("config", digest(1), "size 10, the manifest says 11", "linux/arm64"),)


def test_orphans_are_untagged_image_manifests_no_index_lists() -> None:
    a, b, c = image(layers=(1,)), image(layers=(2,)), image(layers=(3,))
    tagged_index = index((a, "amd64"))
    untagged_index = index((b, "amd64"))
    stored = {m.digest: m for m in (a, b, c, tagged_index, untagged_index)}
    assert find_orphans("r", stored, [tagged_index]) == (Orphan("r", c.digest, OCI_MANIFEST),)
    assert find_orphans("r", stored, [tagged_index, c]) == ()


def test_text_escapes_registry_text() -> None:
    report = CheckReport(
        "reg.example",
        (
            ImageCheck(
                "team/app",
                "v1",
                "",
                (Damage("manifest", "", "unreadable: \x1b[31mred\r::error::x"),),
            ),
        ),
        None,
        ("team/app",),
    )
    from regkit.ops.check import render_text

    text = render_text(report)
    assert "\x1b" not in text and "\r" not in text
    assert (
        "BROKEN reg.example/team/app:v1: manifest: unreadable: \\x1b[31mred\\r::error::x\n" in text
    )
