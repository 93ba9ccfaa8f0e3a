"""The overview and prune scenarios with signed images (issue 23): ``benchmarks/run --scenario
signed [--signed-images N]``.

A repository of N multi-arch images of the team's shape, each signed with the real cosign
(``cosign sign --key``, a key pair made once for the run, ``--tlog-upload=false``, an empty
``COSIGN_PASSWORD``: cosign's tag scheme, ``sha256-<hex>.sig``) and given an SBOM with the real
oras (``oras attach --artifact-type application/spdx+json``: a manifest with ``subject``, and the
referrers tag schema's index ``sha256-<hex>``, since registry:3 serves no referrers API). So 3
tags per image and 2 referrer manifests beside each image's index and platform manifests.

Two scenarios share one seeding (cosign and oras run once per image, at the first of them):

- ``signed-overview-N``: ``regkit overview HOST`` (attachments shown per image, not as rows) and
  the team's crane loops, which list every referrer tag as a row of its own;
- ``signed-prune-N``: ``regkit prune HOST/REPO --keep 6 --yes`` (each deleted image's signature,
  SBOM and referrers index go with it) and the team's crane prune flow (``today/prune.sh``), which
  knows nothing of referrers: it deletes the old images and leaves their signatures and SBOMs
  behind (its row says so, and the verification checks that it does).

Between runs everything a prune removed is put back with the registry API from the raw bytes
stored at seeding (platform manifests by digest, the index by tag, the SBOM by digest, the
referrers index and the signature by tag), not by running cosign again. After each prune run:
the newest 6 images stay with exactly their signature and referrers index tags, no referrer of a
deleted image remains (tags and SBOM manifests), and once per scenario ``cosign verify --key``
of a staying image passes.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.rig import tool_path

from benchmarks.scenarios_prune import Seeded, put_back

if TYPE_CHECKING:
    from benchmarks.harness import RunResult
    from benchmarks.run import Bench, Scenario, Tool

KEEP = 6
REPO = "rednaw/signed-app"
SBOM_TYPE = "application/spdx+json"
TOOL_TIMEOUT = 600.0


@dataclass
class SignedImage:
    tag: str
    digest: str
    sbom: str  # digest of the SBOM manifest oras attached

    @property
    def referrer_tags(self) -> tuple[str, str]:
        """The referrers index (tag schema) and the cosign signature tag."""
        hexpart = self.digest.removeprefix("sha256:")
        return f"sha256-{hexpart}", f"sha256-{hexpart}.sig"


@dataclass
class SignedState:
    """What the signed scenarios seeded: images oldest first, their manifests' bytes, the key."""

    n: int
    seeded: Seeded = field(default_factory=Seeded)
    images: list[SignedImage] = field(default_factory=list)
    keydir: Path | None = None
    verified: bool = False  # cosign verify passed once after a prune run
    ready: bool = False

    @property
    def staying(self) -> list[SignedImage]:
        return self.images[-KEEP:]

    @property
    def going(self) -> list[SignedImage]:
        return self.images[:-KEEP]


def missing_tools() -> str | None:
    """Why the scenarios cannot run (cosign or oras not built), or None."""
    gone = [name for name in ("cosign", "oras") if tool_path(name) is None]
    if not gone:
        return None
    return f"not run: {' and '.join(gone)} not built (scripts/install-system-deps)"


# -- seeding ------------------------------------------------------------------------------------
def _run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> bytes:
    cp = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, timeout=TOOL_TIMEOUT, check=False
    )
    if cp.returncode != 0:
        tail = " | ".join(cp.stderr.decode(errors="replace").strip().splitlines()[-3:])
        raise RuntimeError(f"{Path(argv[0]).name} {argv[1]} exited {cp.returncode}: {tail}")
    return cp.stdout


def _cosign_env(bench: Bench) -> dict[str, str]:
    """Straight to nginx (the rig's own Docker config and CA), nothing written to ``~``."""
    home = bench.workdir / "cosign-home"
    home.mkdir(parents=True, exist_ok=True)
    return bench.rig.env(
        HOME=str(home), TUF_ROOT=str(home / "tuf"), COSIGN_PASSWORD="", COSIGN_YES="true"
    )


def make_keys(bench: Bench) -> Path:
    """``cosign generate-key-pair`` once for the run (empty password)."""
    keydir = bench.workdir / "cosign-keys"
    if not (keydir / "cosign.key").exists():
        keydir.mkdir(parents=True, exist_ok=True)
        _run([_tool("cosign"), "generate-key-pair"], _cosign_env(bench), cwd=keydir)
    return keydir


def _tool(name: str) -> str:
    path = tool_path(name)
    if path is None:
        raise RuntimeError(f"{name} not built (scripts/install-system-deps)")
    return path


def seed_signed(bench: Bench, state: SignedState) -> None:
    """An empty registry, then N signed images with an SBOM each; every manifest's bytes kept."""
    bench.fresh()
    images = bench.seed_sha_tags(REPO, state.n, seed=state.n + 23)
    state.keydir = make_keys(bench)
    host = bench.rig.host
    refs = [f"{host}/{REPO}@{img.digest}" for img in images]
    env = _cosign_env(bench)
    key = str(state.keydir / "cosign.key")
    # cosign signs every reference it is given with one key decryption: a few batches at once
    batches = [refs[i : i + 10] for i in range(0, len(refs), 10)]

    def sign(batch: list[str]) -> None:
        _run([_tool("cosign"), "sign", "--key", key, "--tlog-upload=false", "--yes", *batch], env)

    sbom = bench.workdir / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "regkit-bench"}))
    oras_env = bench.rig.env(HOME=str(bench.workdir / "oras-home"))
    config = str(Path(bench.rig.docker_config) / "config.json")

    def attach(ref: str) -> str:
        out = _run(
            [
                _tool("oras"),
                "attach",
                "--registry-config",
                config,
                "--artifact-type",
                SBOM_TYPE,
                "--format",
                "json",
                ref,
                f"{sbom.name}:{SBOM_TYPE}",
            ],
            oras_env,
            cwd=sbom.parent,  # oras refuses absolute paths to push
        )
        return str(json.loads(out)["digest"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(sign, batches))
        sboms = list(pool.map(attach, refs))
    state.images = [
        SignedImage(img.tags[0], img.digest, sbom_digest)
        for img, sbom_digest in zip(images, sboms, strict=True)
    ]

    def remember(item: tuple[Any, SignedImage]) -> tuple[str, list[tuple[str, bytes, str]]]:
        pushed, signed = item
        parts = [(m.digest, m.raw, m.media_type) for m in pushed.manifests]
        parts.append((signed.tag, pushed.raw, pushed.media_type))
        index_tag, sig_tag = signed.referrer_tags
        # the SBOM before the referrers index that lists it; then the signature
        for ref in (signed.sbom, index_tag, sig_tag):
            raw, media_type, _ = bench.pusher.get_manifest(REPO, ref)
            parts.append((ref, raw, media_type))
        return signed.tag, parts

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        state.seeded.builds[REPO] = list(pool.map(remember, zip(images, state.images, strict=True)))
    state.ready = True


def ensure_signed(bench: Bench, state: SignedState) -> None:
    """Seed at the first scenario; at the next, put back what a prune removed (the registry
    still holds the seeding when no other scenario wiped it in between)."""
    if state.ready and REPO in bench.images:
        put_back(bench, state.seeded)
        return
    seed_signed(bench, state)


# -- verification -------------------------------------------------------------------------------
def verify_pruned(bench: Bench, state: SignedState) -> str | None:
    """regkit prune: the newest KEEP images with exactly their referrer tags; no tag and no SBOM
    manifest of a deleted image left; once per scenario ``cosign verify`` of a staying image."""
    left = set(bench.pusher.tags(REPO))
    want = {img.tag for img in state.staying}
    for img in state.staying:
        want |= set(img.referrer_tags)
    if left != want:
        extra, lost = sorted(left - want), sorted(want - left)
        return f"tags: {len(extra)} left that should go {extra[:2]}, {len(lost)} lost {lost[:2]}"
    for img in state.going:
        if bench.pusher.manifest_status(REPO, img.sbom) != 404:
            return f"the SBOM of deleted {img.tag} is still there ({img.sbom[:19]})"
    for img in state.staying:
        if bench.pusher.manifest_status(REPO, img.sbom) != 200:
            return f"the SBOM of staying {img.tag} is gone"
    if not state.verified:
        problem = cosign_verify(bench, state, state.staying[0].tag)
        if problem:
            return problem
        state.verified = True
    return None


def verify_left_behind(bench: Bench, state: SignedState) -> str | None:
    """The crane prune flow: the newest KEEP images stay, and (what its row says) every
    signature and referrers index of a deleted image is still there."""
    left = set(bench.pusher.tags(REPO))
    images = {img.tag for img in state.images} & left
    if images != {img.tag for img in state.staying}:
        return f"{len(images)} image tags left, expected the {KEEP} newest"
    behind = [t for img in state.going for t in img.referrer_tags if t in left]
    if len(behind) != 2 * len(state.going):
        return f"left {len(behind)} referrer tags behind, expected {2 * len(state.going)}"
    return None


def cosign_verify(bench: Bench, state: SignedState, tag: str) -> str | None:
    """``cosign verify --key`` of ``REPO:tag``, straight to nginx; None when it passes."""
    assert state.keydir is not None
    argv = [
        _tool("cosign"),
        "verify",
        "--key",
        str(state.keydir / "cosign.pub"),
        "--insecure-ignore-tlog=true",
        f"{bench.rig.host}/{REPO}:{tag}",
    ]
    try:
        _run(argv, _cosign_env(bench))
    except RuntimeError as exc:
        return f"cosign verify of staying {tag} failed: {exc}"
    return None


def verify_listed(state: SignedState, tool: Tool, result: RunResult) -> str | None:
    """Every image's tag in the output; regkit shows no referrer tag as a row of its own."""
    out = result.stdout.decode(errors="replace")
    missing = [img.tag for img in state.images if img.tag not in out]
    if missing:
        return f"{len(missing)} tags missing from the output (e.g. {missing[0]})"
    if tool.name.startswith("regkit") and ".sig" in out:
        return "a signature tag listed as a row (attachments belong under their image)"
    return None


# -- the scenarios ------------------------------------------------------------------------------
def signed_scenarios(
    bench: Bench, n: int, *, peers: bool, repeat: int | None, have_prune: bool
) -> list[Scenario]:
    """``signed-overview-N`` and ``signed-prune-N`` on one seeding."""
    from benchmarks.run import (
        DEFAULT_JOBS,
        NOT_RUN_MISSING,
        TODAY,
        Scenario,
        Tool,
        crane_overview_tools,
    )

    if n <= KEEP:
        raise ValueError(f"--signed-images must be above {KEEP} (the prune keeps {KEEP})")
    state = SignedState(n)
    jobs = bench.jobs or DEFAULT_JOBS
    ref = f"{bench.host}/{REPO}"
    no_tools = missing_tools()
    referrers = 2 * n

    overview_tools = [
        Tool(
            "regkit overview",
            lambda _i: bench.regkit("overview", bench.host),
            jobs,
            "regkit",
            skip=no_tools,
            env=bench.cold_cache,
        )
    ]
    prune_tools = [
        Tool(
            "regkit prune",
            lambda _i: bench.regkit("prune", ref, "--keep", str(KEEP), "--yes"),
            jobs,
            "regkit",
            skip=no_tools or (None if have_prune else NOT_RUN_MISSING),
        )
    ]
    if peers:
        note = f"; lists the {referrers} referrer tags as rows"
        overview_tools += crane_overview_tools(bench, jobs, note=note, skip=no_tools)
        prune_tools.append(
            Tool(
                "today: prune flow (crane; knows no signatures: leaves those of the "
                f"{n - KEEP} deleted images behind)",
                lambda _i: ["bash", str(TODAY / "prune.sh"), ref, str(KEEP)],
                1,
                "crane",
                skip=no_tools,
            )
        )

    def setup() -> None:
        if no_tools is None:
            ensure_signed(bench, state)

    def reset() -> None:
        put_back(bench, state.seeded)

    def verify_prune(tool: Tool, _i: int, _result: RunResult) -> str | None:
        if tool.name.startswith("regkit"):
            return verify_pruned(bench, state)
        return verify_left_behind(bench, state)

    def verify_overview(tool: Tool, _i: int, result: RunResult) -> str | None:
        return verify_listed(state, tool, result)

    what = f"{n} signed images (cosign signature + oras SBOM each)"
    return [
        Scenario(
            key=f"signed-overview-{n}",
            title=f"overview of {what}",
            target="attachments under their image; see Targets",
            setup=setup,
            tools=overview_tools,
            verify=verify_overview,
            reset=reset,
            repeat=repeat,
            tags=None,
        ),
        Scenario(
            key=f"signed-prune-{n}",
            title=f"prune {what}, keep {KEEP}",
            target="no referrer of a deleted image left; staying images verify",
            setup=setup,
            tools=prune_tools,
            verify=verify_prune,
            reset=reset,
            repeat=repeat,
            tags=None,
        ),
    ]


def signed_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per signed prune scenario: correctness (every run verified: no referrer of a
    deleted image left, the staying ones verify with cosign) with the prune's time against the
    overview of the same repository and the crane flow."""
    out: list[dict[str, Any]] = []
    by_key = {r["key"]: r for r in results}
    for r in results:
        if not r["key"].startswith("signed-prune-"):
            continue
        n = r["key"].removeprefix("signed-prune-")
        prune = r["rows"][0]
        target = (
            "after prune no referrer (signature, SBOM, referrers index) of a deleted image "
            f"left, each staying image signed (cosign verify --key); keep {KEEP}"
        )
        if prune["median"] is None:
            measured = prune["skip"] or "every run failed: " + "; ".join(prune["failures"][:1])
            out.append({"scenario": r["key"], "target": target, "measured": measured, "met": None})
            continue
        parts = [f"prune {prune['median']:.2f} s ({prune['requests']} requests)"]
        overview = _first(by_key.get(f"signed-overview-{n}"))
        if overview is not None:
            parts.append(
                f"{prune['median'] / overview['median']:.2f}x regkit overview of the same "
                f"repository ({overview['median']:.2f} s, {overview['requests']} requests)"
            )
        parts += [
            f"{prune['median'] / p['median']:.2f}x {_short(p['tool'])}"
            for p in r["rows"][1:]
            if p["median"] is not None
        ]
        runs = prune["runs"] + len(prune["failures"])
        parts.append(f"{prune['runs']} of {runs} runs verified")
        met = not prune["failures"]
        out.append(
            {"scenario": r["key"], "target": target, "measured": "; ".join(parts), "met": met}
        )
    return out


def _short(tool: str) -> str:
    """A peer's name without its note: "today: prune flow (crane; ...)" -> "... (crane)"."""
    head, sep, _note = tool.partition(";")
    return head + ")" if sep else tool


def _first(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if not result or not result["rows"] or result["rows"][0]["median"] is None:
        return None
    row: dict[str, Any] = result["rows"][0]
    return row


__all__ = [
    "KEEP",
    "REPO",
    "SignedImage",
    "SignedState",
    "missing_tools",
    "signed_scenarios",
    "signed_targets",
]
