"""Start-up, paired in one call (issue 25 §3): ``benchmarks/run --scenario startup
[--startup-repeat N]``.

Three scenarios, each a set of commands run alternately ``--startup-repeat`` times (default 21)
on loopback, without the latency proxy: the rig's nginx directly (TLS, HTTP/2, basic auth; the
same CA file and Docker config for regkit and crane, so both do the same TLS handshake and send
the same credentials):

- ``startup-version``: ``regkit version`` against ``python -c pass`` (the same interpreter, the
  runtime venv's: the floor of any Python program), ``python -c "import httpx"`` (the floor of a
  Python CLI on httpx, the design's HTTP client) and ``crane version``;
- ``startup-digest``: ``regkit digest HOST/REPO:TAG`` against ``crane digest``;
- ``startup-ls``: ``regkit ls HOST/REPO`` against ``crane ls``.

Goals (``startup_targets``): ``regkit version`` within 4x ``python -c pass``; ``regkit digest``
and ``regkit ls`` within 10x crane's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.harness import RunResult
    from benchmarks.run import Bench, Scenario, Tool

REPO = "rednaw/hello-world"
VERSION_LIMIT = 4.0  # regkit version / python -c pass
CLIENT_LIMIT = 10.0  # regkit digest, ls / crane's
PY_PASS = "python -c pass"
PY_HTTPX = 'python -c "import httpx"'


def startup_scenarios(bench: Bench, tags: int, *, repeat: int) -> list[Scenario]:
    """``startup-version``, ``startup-digest`` and ``startup-ls`` (see the module docstring)."""
    from benchmarks.run import REGKIT, Scenario, Tool

    python = str(REGKIT.parent / "python")
    host = bench.rig.host  # nginx itself: no latency proxy
    repo_ref = f"{host}/{REPO}"
    state: dict[str, str] = {}

    def direct(_i: int) -> dict[str, str]:
        # the rig's own Docker config (credentials for its host:port), not the proxy's
        return {"DOCKER_CONFIG": str(bench.rig.docker_config)}

    def tool(name: str, argv: list[str], startup: str) -> Tool:
        return Tool(name, lambda _i: argv, 1, startup, env=direct)

    def image_ref() -> str:
        return f"{repo_ref}:{state['tag']}"

    def lazy(name: str, head: list[str], startup: str) -> Tool:
        # the tag is known after seeding
        return Tool(name, lambda _i: [*head, image_ref()], 1, startup, env=direct)

    def setup() -> None:
        bench.ensure_sha_tags(REPO, tags)
        newest = bench.images[REPO][-1]
        state["tag"] = newest.tags[0]
        state["digest"] = newest.digest

    def verify_version(tool: Tool, _i: int, result: RunResult) -> str | None:
        if tool.name.startswith("regkit") and not result.stdout.strip():
            return "printed no version"
        return None

    def verify_digest(_tool: Tool, _i: int, result: RunResult) -> str | None:
        got = result.stdout.decode(errors="replace").strip()
        return None if got == state["digest"] else f"printed {got[:80]!r}, not the digest"

    def verify_ls(_tool: Tool, _i: int, result: RunResult) -> str | None:
        listed = set(result.stdout.decode(errors="replace").split())
        want = {img.tags[0] for img in bench.images[REPO]}
        return None if listed == want else f"listed {len(listed)} tags, expected {len(want)}"

    title = "start-up on loopback (nginx TLS + basic auth, no proxy)"
    return [
        Scenario(
            key="startup-version",
            title=f"{title}: version",
            target=f"regkit version <= {VERSION_LIMIT:g}x python -c pass",
            setup=setup,
            tools=[
                tool("regkit version", [str(REGKIT), "version"], "regkit"),
                tool(PY_PASS, [python, "-c", "pass"], ""),
                tool(PY_HTTPX, [python, "-c", "import httpx"], ""),
                tool("crane version", [bench.crane, "version"], "crane"),
            ],
            verify=verify_version,
            repeat=repeat,
            rtt=0.0,
        ),
        Scenario(
            key="startup-digest",
            title=f"{title}: digest of a multi-arch tag",
            target=f"regkit digest <= {CLIENT_LIMIT:g}x crane digest",
            setup=setup,
            tools=[
                lazy("regkit digest", [str(REGKIT), "digest"], "regkit"),
                lazy("crane digest", [bench.crane, "digest"], "crane"),
            ],
            verify=verify_digest,
            repeat=repeat,
            rtt=0.0,
        ),
        Scenario(
            key="startup-ls",
            title=f"{title}: ls of {tags} tags",
            target=f"regkit ls <= {CLIENT_LIMIT:g}x crane ls",
            setup=setup,
            tools=[
                tool("regkit ls", [str(REGKIT), "ls", repo_ref], "regkit"),
                tool("crane ls", [bench.crane, "ls", repo_ref], "crane"),
            ],
            verify=verify_ls,
            repeat=repeat,
            rtt=0.0,
        ),
    ]


def _row(results: list[dict[str, Any]], key: str, tool: str) -> dict[str, Any] | None:
    for r in results:
        if r["key"] != key:
            continue
        for row in r["rows"]:
            if row["tool"] == tool and row["median"] is not None:
                found: dict[str, Any] = row
                return found
    return None


def _ms(row: dict[str, Any]) -> str:
    return f"{row['median'] * 1000:.0f} ms"


def startup_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``regkit version`` against ``python -c pass`` (<= 4x), ``regkit digest`` and ``regkit ls``
    against crane's (<= 10x); each says the floor of a Python CLI on httpx on this machine
    (``python -c "import httpx"``)."""
    keys = {r["key"] for r in results}
    out: list[dict[str, Any]] = []
    base = _row(results, "startup-version", PY_PASS)
    floor = _row(results, "startup-version", PY_HTTPX)
    floor_text = (
        f"; floor of a Python CLI on httpx (`{PY_HTTPX}`): {_ms(floor)}"
        + (f" = {floor['median'] / base['median']:.1f}x python -c pass" if base else "")
        if floor
        else ""
    )
    checks = [
        ("startup-version", "regkit version", PY_PASS, VERSION_LIMIT),
        ("startup-digest", "regkit digest", "crane digest", CLIENT_LIMIT),
        ("startup-ls", "regkit ls", "crane ls", CLIENT_LIMIT),
    ]
    for key, mine, theirs, limit in checks:
        if key not in keys:
            continue
        target = f"{mine} <= {limit:g}x {theirs}"
        row = _row(results, key, mine)
        other = base if key == "startup-version" else _row(results, key, theirs)
        if row is None or other is None:
            out.append({"scenario": key, "target": target, "measured": "not run", "met": None})
            continue
        ratio = row["median"] / other["median"]
        out.append(
            {
                "scenario": key,
                "target": target,
                "measured": (
                    f"{mine} {_ms(row)} / {theirs} {_ms(other)} = {ratio:.1f}x "
                    f"(median of {row['runs']}){floor_text}"
                ),
                "met": ratio <= limit,
            }
        )
    return out


__all__ = ["startup_scenarios", "startup_targets"]
