"""Benchmark results as JSON, a markdown table and a PNG bar chart (matplotlib, Agg)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Results = list[dict[str, Any]]


def write_json(path: Path, meta: dict[str, Any], results: Results, targets: Results) -> None:
    path.write_text(
        json.dumps({"meta": meta, "results": results, "targets": targets}, indent=2) + "\n"
    )


def _s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 1024:
        return f"{value} B"
    if value < 1 << 20:
        return f"{value / 1024:.0f} KiB"
    return f"{value / (1 << 20):.1f} MiB"


def _ratio(row: dict[str, Any], first: bool) -> str:
    if first:
        return "1"
    ratio = row.get("ratio")
    if ratio is None:
        return "-"
    if ratio < 1:
        return f"{ratio:.3f} ({1 / ratio:.1f}x faster)"
    return f"{ratio:.2f} ({ratio:.1f}x slower)"


def _crane_version(meta: dict[str, Any]) -> str:
    raw = str(meta["versions"]["crane"])
    if "could not determine" in raw or raw in ("unknown", ""):
        return "(Debian sid package; the binary reports no version)"
    return raw


def _registry_name(meta: dict[str, Any]) -> str:
    """The registry the run measured (runs before registry:3 was measured name no version:
    those were distribution 2.8)."""
    return "registry:3" if meta.get("registry_version") == "3" else "distribution 2.8"


def header_lines(meta: dict[str, Any]) -> list[str]:
    m = meta["machine"]
    v = meta["versions"]
    startup = ", ".join(f"{k} {s * 1000:.0f} ms" for k, s in meta["startup_s"].items())
    connect = (
        "; each new TCP connection also pays one round trip (the handshake)"
        if meta["connect_rtt"]
        else ""
    )
    return [
        f"Measured {meta['date']} by `{meta['command'].strip()}`"
        + (" (**quick smoke run**, not a measurement)" if meta["quick"] else "")
        + ".",
        "",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['kernel']}, Python {m['python']}.",
        f"- Network: registry ({_registry_name(meta)} behind nginx, TLS, HTTP/2, basic auth) "
        f"reached through a userspace latency proxy on loopback, {meta['delay_ms']:g} ms one way "
        f"({meta['rtt_ms']:g} ms round trip){connect}.",
        f"- Median of {meta['repeat']} runs per tool (scaling scenarios: see runs), tools "
        f"alternating; regkit `--jobs {meta['jobs']}`.",
        f"- Versions: {v['regkit']}; crane {_crane_version(meta)}; "
        + (f"regctl {v['regctl']}; " if v.get("regctl") else "")
        + f"{v['skopeo']}; {v['registry']}; {v['nginx']}; {v['jq']}.",
        f"- Process start-up (median of 5: `regkit --version`, `crane version`, "
        f"`skopeo --version`): {startup}.",
        f"- The rig alone (no added latency, 16 requests at once, manifest GETs) answers "
        f"{meta.get('server_rps', '?')} requests/s on this machine; it shares the CPUs with the "
        "client, so CPU seconds are shown per run (tool / registry+nginx / latency proxy).",
        *(
            [
                f"- Load average (1 min) at the start and end of the scenarios: "
                f"{meta['loadavg'][0]:g} / {meta['loadavg'][1]:g} (anything above 0 is other "
                "work sharing the machine)."
            ]
            if meta.get("loadavg")
            else []
        ),
        *(
            [
                f"- Start-up scenarios: the rig's nginx straight on loopback (no latency proxy; "
                f"TLS, HTTP/2, basic auth; the same CA file and Docker config for regkit and "
                f"crane), median of {meta['startup_repeat']} runs per command, commands "
                "alternating; their lower bound is the start-up alone."
            ]
            if meta.get("startup_repeat")
            else []
        ),
        "- Lower bound = requests (nginx access log) x round trip / concurrency + start-up "
        "(concurrency: regkit's jobs; 1 for sequential tools).",
        "- ratio = regkit median / tool median (below 1: regkit is faster). Blob bytes uploaded: "
        "the most of any run (PUT/PATCH bodies to upload sessions); mounts: the median count of "
        "cross-repository mounts that succeeded (201). Peak RSS: the largest of any run "
        "(GNU time; for a shell loop, its largest process).",
    ]


def results_table(results: Results) -> list[str]:
    lines = [
        "| scenario | tool | median s | min-max s | runs | requests | lower bound s "
        "| regkit / tool | peak RSS | blob bytes uploaded | CPU s tool / server / proxy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for i, row in enumerate(r["rows"]):
            if row["skip"] or row["median"] is None:
                why = row["skip"] or ("failed: " + "; ".join(row["failures"][:1]))
                lines.append(f"| {r['title']} | {row['tool']} | {why} | | | | | | | | |")
                continue
            spread = f"{row['min']:.2f}-{row['max']:.2f}"
            rss = "-" if row["peak_rss_kib"] is None else f"{row['peak_rss_kib'] / 1024:.0f} MiB"
            uploaded = _bytes(row["upload_bytes"])
            if row["mounts"]:
                uploaded += f" ({row['mounts']} mounts)"
            cpu = row.get("cpu") or {}
            cpus = " / ".join(_s(cpu.get(k)) for k in ("tool", "server", "proxy"))
            lines.append(
                f"| {r['title']} | {row['tool']} | {_s(row['median'])} | {spread} | {row['runs']} "
                f"| {row['requests']} | {_s(row['lower_bound'])} | {_ratio(row, i == 0)} "
                f"| {rss} | {uploaded} | {cpus} |"
            )
    return lines


def targets_table(targets: Results) -> list[str]:
    lines = ["| scenario | target | measured | met |", "|---|---|---|---|"]
    for t in targets:
        met = {True: "yes", False: "**no**", None: "not run"}[t["met"]]
        lines.append(f"| {t['scenario']} | {t['target']} | {t['measured']} | {met} |")
    return lines


def failure_lines(results: Results) -> list[str]:
    out = []
    for r in results:
        for row in r["rows"]:
            for f in row["failures"]:
                out.append(f"- {r['title']}, {row['tool']}: {f}")
    return out


def write_markdown(path: Path, meta: dict[str, Any], results: Results, targets: Results) -> None:
    lines = ["# regkit benchmarks: latest run", "", *header_lines(meta), ""]
    lines += ["## Results", "", *results_table(results), ""]
    if targets:
        lines += ["## Targets (issue 7)", "", *targets_table(targets), ""]
    failures = failure_lines(results)
    if failures:
        lines += ["## Failed runs (not counted)", "", *failures, ""]
    lines += [f"Whole run: {meta['elapsed_s']:.0f} s of scenarios.", ""]
    path.write_text("\n".join(lines))


def write_chart(path: Path, meta: dict[str, Any], results: Results) -> None:
    """One horizontal bar group per scenario: median seconds per tool (log scale), min-max as
    error bars, regkit's lower bound as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    shown = [r for r in results if any(row["median"] for row in r["rows"])]
    if not shown:
        return
    heights = [max(len(r["rows"]), 1) * 0.45 + 0.8 for r in shown]
    fig, axes = plt.subplots(
        len(shown),
        1,
        figsize=(10, sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, r in zip(axes[:, 0], shown, strict=True):
        rows = [row for row in r["rows"] if row["median"] is not None]
        names = [row["tool"] for row in rows]
        med = [row["median"] for row in rows]
        lo = [row["median"] - row["min"] for row in rows]
        hi = [row["max"] - row["median"] for row in rows]
        colors = ["#2b7bba" if row["tool"].startswith("regkit") else "#b0b0b0" for row in rows]
        y = list(range(len(rows)))
        ax.barh(y, med, xerr=[lo, hi], color=colors, capsize=3)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(r["title"], fontsize=10, loc="left")
        for yi, row in zip(y, rows, strict=True):
            ax.text(row["max"] * 1.1, yi, f"{row['median']:.2f} s", va="center", fontsize=8)
        first = r["rows"][0]
        if first["lower_bound"] and first["median"] is not None:
            ax.axvline(first["lower_bound"], color="#d62728", linestyle="--", linewidth=1, zorder=3)
        floor = min([*med, first["lower_bound"] or min(med)])
        ax.set_xlim(floor / 1.5, max(med) * 3)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[-1, 0].set_xlabel("seconds (median, log scale; red dashed: regkit's lower bound)")
    m = meta["machine"]
    fig.suptitle(
        f"regkit vs crane / skopeo / today's scripts: {meta['delay_ms']:g} ms one way "
        f"({meta['rtt_ms']:g} ms RTT), {m['nproc']} CPUs {m['cpu']}\n"
        f"{meta['versions']['regkit']}, crane {_crane_version(meta)}, "
        f"{meta['versions']['skopeo']}; {m['kernel']}; {meta['date']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["write_chart", "write_json", "write_markdown"]
