"""The prune scenarios of issue 24: buildx images, the team's daily ``--all-repos`` job, and the
``--jobs`` sweep at 1,000 tags (``benchmarks/run --scenario buildx --scenario daily``,
``--scenario prune-big --jobs-sweep 8,16,32``).

Each measures ``regkit prune --keep 6`` beside ``regkit overview`` of the same registry in the
same run (the goal is a ratio of the two), with the peers that have an equivalent: the team's
crane loops (``today/``), regctl's loop for the overview.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tests.ghcr_images import push_build
from tests.rig import short_sha_tags

if TYPE_CHECKING:
    from benchmarks.harness import RunResult
    from benchmarks.run import Bench, Scenario, Tool

KEEP = 6
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Seeded:
    """What a scenario pushed, per repository: every manifest's bytes (children first, the
    index last under its tag), to put back what a prune removed."""

    builds: dict[str, list[tuple[str, list[tuple[str, bytes, str]]]]] = field(
        default_factory=dict
    )  # repo -> [(tag, [(ref, raw, media type), ...])]

    def tags(self, repo: str) -> list[str]:
        return [tag for tag, _ in self.builds.get(repo, [])]


def _remember(bench: Bench, repo: str, tag: str, children: tuple[str, ...]) -> tuple[str, Any]:
    parts = []
    for digest in children:
        raw, media_type, _ = bench.pusher.get_manifest(repo, digest)
        parts.append((digest, raw, media_type))
    raw, media_type, _ = bench.pusher.get_manifest(repo, tag)
    parts.append((tag, raw, media_type))
    return tag, parts


def seed_buildx(bench: Bench, seeded: Seeded, repo: str, n: int, seed: int) -> None:
    """``n`` buildx builds (index + 2 platform manifests + 2 provenance attestations, as
    ``docker buildx build --provenance`` pushes them), short-SHA tags an hour apart."""
    tags = short_sha_tags(n, seed=seed)

    def one(i_tag: tuple[int, str]) -> tuple[str, Any]:
        i, tag = i_tag
        build = push_build(bench.pusher, repo, tag, T0 + timedelta(hours=i), seed=seed * 10_000 + i)
        return _remember(bench, repo, tag, build.children)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        seeded.builds[repo] = list(pool.map(one, enumerate(tags)))


def seed_multiarch(bench: Bench, seeded: Seeded, repo: str, n: int, seed: int) -> None:
    """``n`` multi-arch images of the team's shape (``benchmarks/run``'s SHA-tag images)."""
    images = bench.seed_sha_tags(repo, n, seed=seed)
    seeded.builds[repo] = [
        (
            img.tags[0],
            [(m.digest, m.raw, m.media_type) for m in img.manifests]
            + [(img.tags[0], img.raw, img.media_type)],
        )
        for img in images
    ]


def put_back(bench: Bench, seeded: Seeded) -> None:
    """Every build a prune removed, back: children by digest, then the index by tag."""
    todo: list[tuple[str, list[tuple[str, bytes, str]]]] = []
    for repo, builds in seeded.builds.items():
        present = set(bench.pusher.tags(repo))
        todo += [(repo, parts) for tag, parts in builds if tag not in present]

    def put(item: tuple[str, list[tuple[str, bytes, str]]]) -> None:
        repo, parts = item
        for ref, raw, media_type in parts:
            bench.pusher.put_manifest(repo, ref, raw, media_type)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(put, todo))


def _verify_pruned(bench: Bench, seeded: Seeded, repos: list[str]) -> str | None:
    for repo in repos:
        left = sorted(bench.pusher.tags(repo))
        newest = sorted(seeded.tags(repo)[-KEEP:])
        if left != newest:
            return f"{repo}: {len(left)} tags left, expected the {KEEP} newest"
    return None


def _verify_listed(seeded: Seeded, repos: list[str], result: RunResult) -> str | None:
    out = result.stdout.decode(errors="replace")
    missing = [t for repo in repos for t in seeded.tags(repo) if t not in out]
    return f"{len(missing)} tags missing from the output (e.g. {missing[0]})" if missing else None


def _pair_tools(
    bench: Bench,
    seeded: Seeded,
    prune_args: list[str],
    repos: list[str],
    jobs: int,
    tool_cls: type[Tool],
    peers: list[Tool],
) -> tuple[list[Tool], Callable[[Tool, int, RunResult], str | None]]:
    tools = [
        tool_cls(
            "regkit prune",
            lambda _i: bench.regkit("prune", *prune_args, "--keep", str(KEEP), "--yes", "-q"),
            jobs,
            "regkit",
        ),
        tool_cls(
            "regkit overview (same registry)",
            lambda _i: bench.regkit("overview", bench.host),
            jobs,
            "regkit",
            env=bench.cold_cache,
        ),
        *peers,
    ]

    def verify(tool: Tool, _i: int, result: RunResult) -> str | None:
        if "prune" in tool.name:
            return _verify_pruned(bench, seeded, repos)
        return _verify_listed(seeded, repos, result)

    return tools, verify


def buildx_scenario(bench: Bench, n: int, *, repeat: int | None, peers: bool) -> Scenario:
    from benchmarks.run import DEFAULT_JOBS, PEERS, TODAY, Scenario, Tool

    repo = "rednaw/buildx-app"
    seeded = Seeded()
    jobs = bench.jobs or DEFAULT_JOBS
    extra: list[Tool] = []
    if peers:
        extra = [
            Tool(
                "today: prune flow (crane)",
                lambda _i: ["bash", str(TODAY / "prune.sh"), f"{bench.host}/{repo}", str(KEEP)],
                1,
                "crane",
            ),
            Tool(
                f"crane overview loop, {jobs} in parallel",
                lambda _i: [
                    "bash",
                    str(PEERS / "crane-overview-parallel.sh"),
                    bench.host,
                    str(jobs),
                ],
                jobs,
                "crane",
            ),
        ]
    tools, verify = _pair_tools(bench, seeded, [f"{bench.host}/{repo}"], [repo], jobs, Tool, extra)

    def setup() -> None:
        bench.fresh()
        seed_buildx(bench, seeded, repo, n, seed=n)

    return Scenario(
        key=f"buildx-{n}",
        title=f"buildx images: {n} (index + 2 platforms + 2 attestations), keep {KEEP}",
        target="prune <= 2x overview of the same repository",
        setup=setup,
        tools=tools,
        verify=verify,
        reset=lambda: put_back(bench, seeded),
        repeat=repeat,
        tags=None,
    )


def daily_scenario(
    bench: Bench, repos: int, tags: int, *, repeat: int | None, peers: bool
) -> Scenario:
    from benchmarks.run import DEFAULT_JOBS, TODAY, Scenario, Tool

    names = [f"team/app-{i:02d}" for i in range(repos)]
    seeded = Seeded()
    jobs = bench.jobs or DEFAULT_JOBS
    extra: list[Tool] = []
    if peers:
        extra = [
            Tool(
                "today: Taskfile overview loop (crane)",
                lambda _i: ["bash", str(TODAY / "overview.sh"), bench.host],
                1,
                "crane",
            )
        ]
    tools, verify = _pair_tools(
        bench, seeded, ["--all-repos", bench.host], names, jobs, Tool, extra
    )

    def setup() -> None:
        bench.fresh()
        for i, name in enumerate(names):
            seed_multiarch(bench, seeded, name, tags, seed=1000 + i)

    return Scenario(
        key=f"daily-{repos}x{tags}",
        title=f"daily job: prune --all-repos, {repos} repos x {tags} tags, keep {KEEP}",
        target="prune <= 1.5x overview of the same registry",
        setup=setup,
        tools=tools,
        verify=verify,
        reset=lambda: put_back(bench, seeded),
        repeat=repeat,
        tags=None,
    )


def jobs_tools(bench: Bench, ref: str, sweep: list[int]) -> list[Tool]:
    """``regkit prune`` once per ``--jobs`` value (the 1,000-tag sweep)."""
    from benchmarks.run import REGKIT, Tool

    def argv(jobs: int) -> Callable[[int], list[str]]:
        return lambda _i: [
            str(REGKIT),
            "prune",
            ref,
            "--keep",
            str(KEEP),
            "--yes",
            "-q",
            "--jobs",
            str(jobs),
        ]

    return [Tool(f"regkit prune --jobs {j}", argv(j), j, "regkit") for j in sweep]


def pair_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """buildx and daily: prune median against the overview median of the same run."""
    out: list[dict[str, Any]] = []
    for r in results:
        key = r["key"]
        limit = 2.0 if key.startswith("buildx-") else 1.5 if key.startswith("daily-") else None
        if limit is None:
            continue
        rows = {row["tool"]: row for row in r["rows"]}
        prune, overview = rows.get("regkit prune"), rows.get("regkit overview (same registry)")
        if not prune or not overview or prune["median"] is None or overview["median"] is None:
            out.append({"scenario": key, "target": "", "measured": "not run", "met": None})
            continue
        ratio = prune["median"] / overview["median"]
        cpu = prune.get("cpu") or {}
        reg = cpu.get("registry")
        per = (
            f"; registry CPU {1000 * reg / prune['requests']:.1f} ms/request"
            if reg and prune["requests"]
            else ""
        )
        out.append(
            {
                "scenario": key,
                "target": f"prune <= {limit}x overview",
                "measured": (
                    f"prune {prune['median']:.2f} s ({prune['requests']} requests, floor "
                    f"{prune['lower_bound']:.2f} s) / overview {overview['median']:.2f} s "
                    f"({overview['requests']} requests) = {ratio:.2f}x{per}"
                ),
                "met": ratio <= limit,
            }
        )
    return out


def big_targets(results: list[dict[str, Any]], limit: float = 20.0) -> list[dict[str, Any]]:
    """prune of 1,000 multi-arch tags under ``limit`` seconds, each row (a --jobs sweep has
    one per value), with its floor: requests x round trip / concurrency, and the registry's
    CPU per request."""
    out: list[dict[str, Any]] = []
    for r in results:
        if not r["key"].startswith("prune-") or (r.get("tags") or 0) < 1000:
            continue
        for row in r["rows"]:
            if row["median"] is None:
                continue
            cpu = row.get("cpu") or {}
            reg = cpu.get("registry")
            per = (
                f"; registry CPU {reg:.1f} s = {1000 * reg / row['requests']:.1f} ms/request"
                if reg and row["requests"]
                else ""
            )
            out.append(
                {
                    "scenario": f"{r['key']} ({row['tool']})",
                    "target": f"< {limit:g} s",
                    "measured": (
                        f"{row['median']:.2f} s, {row['requests']} requests, floor "
                        f"{row['lower_bound']:.2f} s at {row['concurrency']} in flight; CPU s "
                        f"tool {cpu.get('tool') or 0:.1f} / server {cpu.get('server') or 0:.1f}"
                        f"{per}"
                    ),
                    "met": row["median"] < limit,
                }
            )
    return out
