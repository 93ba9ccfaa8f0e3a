"""The demo behind ``scripts/demo``: regkit used as a person would, step by step.

The registry, its TLS CA, the SOPS file and the sample images are made with the test suite's
own helpers (``tests/rig``, ``tests/sops_helpers.py``): the same real parts the tests use.
Each regkit step runs as a separate ``regkit`` process and is printed with its output; the
demo checks the results (digests, tags) and exits non-zero if anything is not as promised.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.rig import registry_binary, start_rig, tools_dir  # noqa: E402
from tests.rig.images import Pusher, short_sha_tags  # noqa: E402
from tests.sops_helpers import make_team_secrets  # noqa: E402

REPO = "rednaw/hello-world"
LATER = datetime(2026, 2, 1, tzinfo=UTC)
BOLD, DIM, GREEN, RED, RESET = (
    ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("",) * 5
)


def step(title: str) -> None:
    print(f"\n{BOLD}== {title}{RESET}", flush=True)


def show(args: list[str], out: subprocess.CompletedProcess[str]) -> None:
    print(f"{DIM}${RESET} {shlex.join(args)}", flush=True)
    for stream in (out.stdout, out.stderr):
        if stream:
            print("  " + stream.rstrip("\n").replace("\n", "\n  "), flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"{RED}demo failed: {what}{RESET}", file=sys.stderr)
        raise SystemExit(1)
    print(f"  {GREEN}ok{RESET}: {what}", flush=True)


class Demo:
    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env

    def regkit(self, *args: str, stdin: str | None = None, expect: int = 0) -> str:
        argv = ["regkit", *args]
        out = subprocess.run(
            argv, env=self.env, input=stdin, capture_output=True, text=True, check=False
        )
        show(argv, out)
        if out.returncode != expect:
            print(f"{RED}exit code {out.returncode}, expected {expect}{RESET}", file=sys.stderr)
            raise SystemExit(1)
        return out.stdout


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="regkit-demo-") as tmp:
        work = Path(tmp)
        version = "3" if registry_binary("3") else "2.8"
        if version != "3":
            print(
                f"registry:3 is not built ({tools_dir()}/bin/registry missing: Go >= 1.26 needed "
                "by scripts/install-system-deps): the demo runs on distribution 2.8",
                flush=True,
            )
        name = "registry:3" if version == "3" else "distribution 2.8"
        step(f"Start a registry in the production shape ({name} + nginx TLS + basic auth)")
        rig = start_rig("tls", work / "rig", username="ci-bot", version=version)
        try:
            host = rig.host
            print(f"  registry https://{host} (CA {rig.ca_file}), user ci-bot")
            run(work, rig, host)
        finally:
            rig.close()
            print(f"\n{DIM}stopped the registry and nginx{RESET}")
    print(f"\n{GREEN}{BOLD}demo passed{RESET} in {time.monotonic() - started:.1f} s")
    return 0


def run(work: Path, rig, host: str) -> None:  # type: ignore[no-untyped-def]
    step("Create an age key and a SOPS secrets file like secrets/infrastructure-secrets.yml")
    secrets_path, age_identity, recipients = make_team_secrets(
        work,
        username=rig.username,
        password=rig.password,
        domain="example.test",
        registry_domain=host,
    )
    print(
        f"  {secrets_path.relative_to(work)}: encrypted by sops "
        f"for {len(recipients)} age recipients"
    )
    print("  CI holds one age identity, passed as SOPS_AGE_KEY (not shown)")
    docker_config = work / "docker"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work / "home"),
        "SOPS_AGE_KEY": age_identity,
        "DOCKER_CONFIG": str(docker_config),
        "SSL_CERT_FILE": str(rig.ca_file),
        "LANG": "C.UTF-8",
    }
    demo = Demo(work, env)
    os.chdir(work)

    step(
        "regkit login: decrypt the SOPS file natively, verify against /v2/, write the Docker config"
    )
    demo.regkit("login", "--secrets-file", str(secrets_path.relative_to(work)))
    config = json.loads((docker_config / "config.json").read_text())
    check(host in config.get("auths", {}), f"{docker_config}/config.json has an entry for {host}")
    mode = (docker_config / "config.json").stat().st_mode & 0o777
    check(mode == 0o600, f"config.json is private (mode {mode:o})")
    everything = " ".join(v for v in (json.dumps(config),))
    check(rig.password not in everything, "the password is not stored in clear text")

    step("CI builds and pushes images tagged with the commit's short SHA (multi-arch among them)")
    shas = short_sha_tags(8, seed=7)
    with Pusher.for_rig(rig) as pusher:
        images = pusher.push_images(REPO, shas[:5], "oci", label_format="team")
        images += pusher.push_images(REPO, shas[5:], "oci-index", label_format="team", start=LATER)
    for image in images:
        kind = "multi-arch " + ",".join(image.platforms) if image.is_index else "single-platform"
        print(f"  pushed {host}/{REPO}:{image.tags[0]}  {image.digest[:19]}  {kind}")
    demo.regkit("ls", f"{host}/{REPO}")

    release = images[6]  # a multi-arch image: promotion must keep both platforms
    step(
        f"regkit promote {release.tags[0]} -> v1.0.0 and latest, by digest "
        "(no pull, no layer pushed)"
    )
    demo.regkit("promote", f"{host}/{REPO}:{release.tags[0]}", "v1.0.0", "latest")
    for tag in ("v1.0.0", "latest"):
        digest = demo.regkit("digest", f"{host}/{REPO}:{tag}").strip()
        check(digest == release.digest, f"{tag} has the tested digest {digest[:19]}, all platforms")
    demo.regkit("promote", f"{host}/{REPO}:{release.tags[0]}", "v1.0.0", "latest")
    print("  (a rerun writes nothing: every target is unchanged)")
    old = images[1]  # an old release: v0.9.0 and its SHA tag must survive the prune
    demo.regkit("promote", f"{host}/{REPO}:{old.tags[0]}", "v0.9.0")

    step("regkit prune --dry-run: the plan, nothing deleted")
    before = sorted(demo.regkit("ls", f"{host}/{REPO}").split())
    demo.regkit("prune", f"{host}/{REPO}", "--keep", "3", "--dry-run")
    check(sorted(demo.regkit("ls", f"{host}/{REPO}").split()) == before, "dry run changed nothing")

    step(
        "regkit prune --keep 3 --yes: old SHA tags go; latest, v1.0.0, v0.9.0 and the SHA tags "
        "on their digests stay"
    )
    demo.regkit("prune", f"{host}/{REPO}", "--keep", "3", "--yes")
    after = set(demo.regkit("ls", f"{host}/{REPO}").split())
    same_image = {release.tags[0], old.tags[0]}  # protected: same image as v1.0.0 / v0.9.0
    others = [t for t in shas if t not in same_image]  # oldest first
    newest = set(others[-3:])
    check(newest <= after, f"the 3 newest other SHA tags stay: {', '.join(sorted(newest))}")
    check({"latest", "v1.0.0", "v0.9.0"} <= after, "latest, v1.0.0 and v0.9.0 are still there")
    check(same_image <= after, f"{', '.join(sorted(same_image))} stay: same images as the releases")
    gone = set(others[:-3])
    check(not (gone & after), f"the {len(gone)} old SHA tags are gone")
    for tag, image in (("v1.0.0", release), ("latest", release), ("v0.9.0", old)):
        digest = demo.regkit("digest", f"{host}/{REPO}:{tag}").strip()
        check(digest == image.digest, f"{tag} still resolves to {digest[:19]}")
    print(
        f"  ({old.tags[0]} shares its digest with v0.9.0: it stays, and so does the image; "
        "no --match selects a protected tag)"
    )

    step("regkit overview: every repository's tags, newest first")
    demo.regkit("overview", host)

    step("The operator reclaims space: registry garbage-collect (registry stopped), restart")
    blobs = rig.storage_dir / "docker" / "registry" / "v2" / "blobs"
    before = len(list(blobs.glob("sha256/*/*/data")))
    rig.registry.stop()
    try:
        gc = rig.registry.garbage_collect(delete_untagged=rig.version == "3")
    finally:
        rig.registry.start()
    flag = " --delete-untagged" if rig.version == "3" else ""
    print(f"{DIM}${RESET} {Path(rig.registry.binary).name} garbage-collect{flag} config.yml")
    print(f"  {len(gc.stdout.splitlines())} lines of output; blob files {before} -> ", end="")
    after = len(list(blobs.glob("sha256/*/*/data")))
    print(after)
    check(after < before, "the pruned images' blobs are gone from disk")
    for tag, image in (("latest", release), ("v0.9.0", old)):
        digest = demo.regkit("digest", f"{host}/{REPO}:{tag}").strip()
        check(digest == image.digest, f"{tag} still resolves to {digest[:19]} after GC")


if __name__ == "__main__":
    raise SystemExit(main())
