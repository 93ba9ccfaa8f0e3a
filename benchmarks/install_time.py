"""How long the composite actions take to install regkit, and how long `regkit --version` takes.

Each scenario runs `actions/install.py` (what every composite action runs first) into an empty
virtualenv and then `regkit --version`, with private, warm package caches (a first run warms
them and is not counted):

- uv-on-path:  uv already on PATH (a runner image or a job that installed it);
- uv-bootstrap: no uv on PATH: install.py installs the pinned uv with pip first (once per job);
- pip:          pip only;
- reuse:        a second action in the same job (same lock, same source): nothing installed;
- startup:      `regkit --version` alone, in the installed virtualenv.

Usage: python benchmarks/install_time.py [--runs N] [--json]
Caches and virtualenvs live in benchmarks/.work/install (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "install"
SNAPSHOT = WORK / "checkout"  # a frozen copy: edits in the work tree do not change the key
INSTALL = SNAPSHOT / "actions" / "install.py"


def snapshot() -> None:
    """Copy what install.py reads (as an action checkout holds it) into SNAPSHOT."""
    if SNAPSHOT.exists():
        shutil.rmtree(SNAPSHOT)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", SNAPSHOT / "src", ignore=ignore)
    (SNAPSHOT / "actions").mkdir(parents=True)
    shutil.copy2(ROOT / "actions" / "install.py", INSTALL)
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, SNAPSHOT / name)


def python3() -> str:
    """The interpreter a runner would use: python3 on PATH outside any virtualenv."""
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    found = shutil.which("python3", path=path)
    return found or sys.executable


def path_without_uv() -> str:
    parts = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(p for p in parts if p and not Path(p, "uv").exists())


def uv_dir() -> Path:
    """A directory holding only a `uv` link (to the project's uv)."""
    uv = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")
    if not Path(uv).exists():
        raise SystemExit("uv not found: run scripts/setup first")
    d = WORK / "uvbin"
    d.mkdir(parents=True, exist_ok=True)
    link = d / "uv"
    if not link.exists():
        link.symlink_to(uv)
    return d


def env_for(scenario: str, runner_temp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PIP_"))}
    env.pop("RUNNER_TOOL_CACHE", None)
    env["RUNNER_TEMP"] = str(runner_temp)
    env["UV_CACHE_DIR"] = str(WORK / "cache" / "uv")
    env["PIP_CACHE_DIR"] = str(WORK / "cache" / "pip")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PATH"] = path_without_uv()
    if scenario == "uv-on-path":
        env["PATH"] = str(uv_dir()) + os.pathsep + env["PATH"]
    return env


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, list[float]] = {}


def install_once(scenario: str, fresh: Path) -> float:
    """Seconds from an empty directory to a working `regkit --version` (CPU seconds of the
    child processes are recorded in CPU[scenario]: less sensitive to a busy machine)."""
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir(parents=True)
    installer = "pip" if scenario == "pip" else "uv"
    env = env_for(scenario, fresh)
    cpu = child_cpu()
    started = time.perf_counter()
    subprocess.run(
        [python3(), str(INSTALL), "--installer", installer],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    venv = the_venv(fresh)
    out = subprocess.run(
        [str(venv / "bin" / "regkit"), "--version"], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - started
    CPU.setdefault(scenario, []).append(child_cpu() - cpu)
    assert out.stdout.startswith("regkit "), out.stdout
    return elapsed


def the_venv(directory: Path) -> Path:
    (venv,) = directory.glob("regkit-????????????????")
    return venv


def reuse_once(fresh: Path) -> float:
    env = env_for("uv-on-path", fresh)
    started = time.perf_counter()
    subprocess.run([python3(), str(INSTALL)], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def startup_once(regkit: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(regkit), "--version"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per scenario")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    snapshot()
    results: dict[str, dict[str, float | int | list[float] | None]] = {}

    def record(name: str, samples: list[float]) -> None:
        cpu = CPU.get(name, [])[-len(samples) :]
        results[name] = {
            "cpu_median_s": round(statistics.median(cpu), 3) if cpu else None,
            "median_s": round(statistics.median(samples), 3),
            "min_s": round(min(samples), 3),
            "max_s": round(max(samples), 3),
            "runs": len(samples),
            "samples_s": [round(s, 3) for s in samples],
        }
        if not args.json:
            r = results[name]
            print(
                f"{name:14} median {r['median_s']:7.3f} s  "
                f"(min {r['min_s']:.3f}, max {r['max_s']:.3f}, n={len(samples)})"
                + (f"  cpu {r['cpu_median_s']:.2f} s" if r["cpu_median_s"] is not None else ""),
                flush=True,
            )

    for scenario in ("uv-on-path", "uv-bootstrap", "pip"):
        fresh = WORK / f"run-{scenario}"
        install_once(scenario, fresh)  # warm the caches, not counted
        record(scenario, [install_once(scenario, fresh) for _ in range(args.runs)])

    fresh = WORK / "run-uv-on-path"
    record("reuse", [reuse_once(fresh) for _ in range(max(args.runs, 5))])
    venv = the_venv(fresh)
    regkit = venv / "bin" / "regkit"
    startup_once(regkit)
    record("startup", [startup_once(regkit) for _ in range(max(args.runs, 10))])

    load = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps({"load_average_at_end": load, "results": results}, indent=2))
    else:
        print(f"load average at the end: {load} (on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
