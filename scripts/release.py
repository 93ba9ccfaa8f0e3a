#!/usr/bin/env python3
"""The steps of a release (.github/workflows/release.yml), as one script the workflow runs and
tests/packaging/test_release.py exercises without publishing. Standard library only.

    release.py version TAG             the version a release tag names (vX.Y.Z[aN|bN|rcN]), and
                                       its major tag: "version=X.Y.Z" and "major=vX" lines
    release.py build OUT               sdist, then the wheel from that sdist, into OUT, with the
                                       build backend of this Python (requirements-build.lock,
                                       no build isolation: nothing unpinned is downloaded)
    release.py check-wheel WHEEL VERSION
                                       a fresh virtualenv, requirements.lock (--require-hashes),
                                       the wheel; `regkit version` must print "regkit VERSION"
    release.py pin IMAGE DIGEST VERSION
                                       the release commit's files: action.yml runs the pushed
                                       image by digest instead of building the Dockerfile, and
                                       pyproject.toml's fallback_version is VERSION (a tree
                                       without git metadata, as a runner downloads an action,
                                       still knows its version)
    release.py notes VERSION           CHANGELOG.md's section for VERSION (the release's text)

The version comes from the tag alone: setuptools-scm reads it at build time (pyproject.toml).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# PEP 440 final and pre-releases only: what PyPI, the image tag and the action refs all accept.
_N = "(?:0|[1-9][0-9]*)"
TAG_RE = re.compile(rf"v(?P<version>(?P<major>{_N})\.{_N}\.{_N}(?:(?:a|b|rc){_N})?)")
IMAGE_RE = re.compile(  # registry[:port]/path, lower case (the distribution reference grammar)
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
)
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
# action.yml on main: the Docker action builds the Dockerfile (runs.image, two spaces in).
ACTION_IMAGE_RE = re.compile(r"^  image: Dockerfile[ \t]*$", re.MULTILINE)
FALLBACK_RE = re.compile(r'^fallback_version = "[^"\n]*"[ \t]*$', re.MULTILINE)


class ReleaseError(Exception):
    pass


def parse_tag(tag: str) -> tuple[str, str]:
    """(version, major tag) of a release tag: ``v1.2.3`` -> ``("1.2.3", "v1")``."""
    match = TAG_RE.fullmatch(tag)
    if match is None:
        raise ReleaseError(f"tag {tag!r} is not a release tag (vX.Y.Z, optionally aN, bN, rcN)")
    return match["version"], f"v{match['major']}"


def pin_action(text: str, image: str, digest: str) -> str:
    """action.yml with ``runs.image`` set to ``docker://IMAGE@DIGEST``: the release's image,
    pulled by digest, instead of ``Dockerfile`` (built on every run)."""
    if IMAGE_RE.fullmatch(image) is None:
        raise ReleaseError(f"{image!r} is not an image name (lower case, registry/repository)")
    if DIGEST_RE.fullmatch(digest) is None:
        raise ReleaseError(f"{digest!r} is not a sha256 digest")
    new, count = ACTION_IMAGE_RE.subn(f"  image: docker://{image}@{digest}", text)
    if count != 1:
        raise ReleaseError(f"action.yml has {count} 'image: Dockerfile' lines under runs, not 1")
    return new


def pin_version(text: str, version: str) -> str:
    """pyproject.toml with setuptools-scm's ``fallback_version`` set to ``version``."""
    parse_tag("v" + version)
    new, count = FALLBACK_RE.subn(f'fallback_version = "{version}"', text)
    if count != 1:
        raise ReleaseError(f"pyproject.toml has {count} fallback_version lines, not 1")
    return new


def release_notes(changelog: str, version: str) -> str:
    """The body of the ``## [VERSION]`` section of a Keep a Changelog file."""
    heading = re.compile(rf"^## \[{re.escape(version)}\][^\n]*\n", re.MULTILINE)
    match = heading.search(changelog)
    if match is None:
        raise ReleaseError(f"CHANGELOG.md has no section '## [{version}]'")
    end = re.compile(r"^## |^\[[^\]\n]+\]: ", re.MULTILINE).search(changelog, match.end())
    body = changelog[match.end() : end.start() if end else len(changelog)].strip()
    if not body:
        raise ReleaseError(f"CHANGELOG.md's section for {version} is empty")
    return body + "\n"


def _hook(python: str, project: Path, hook: str, out: Path) -> Path:
    code = f"import sys, setuptools.build_meta as b; print(b.{hook}(sys.argv[1]))"
    proc = subprocess.run(
        [python, "-c", code, str(out)], cwd=project, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ReleaseError(f"{hook} failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
    name = proc.stdout.strip().splitlines()[-1]
    return out / name


def build(project: Path, out: Path, python: str = sys.executable) -> tuple[Path, Path]:
    """The sdist of ``project``, then the wheel built from that sdist (as PyPI's users build
    it), with ``python``'s build backend. (sdist, wheel)."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sdist = _hook(python, project, "build_sdist", out)
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(sdist) as archive:
        archive.extractall(tmp, filter="data")
        (unpacked,) = Path(tmp).iterdir()
        wheel = _hook(python, unpacked, "build_wheel", out)
    return sdist, wheel


def check_wheel(
    wheel: Path, version: str, lock: Path = ROOT / "requirements.lock", uv: str | None = None
) -> str:
    """Install ``wheel`` into a fresh virtualenv (its dependencies from ``lock``, hash-checked)
    and return what ``regkit version`` prints; a ReleaseError unless it is the version. With
    pip, or with ``uv`` when given (the tests: the same checks, faster)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = Path(tmp, "venv")
        python = str(env / "bin" / "python")
        if uv:
            subprocess.run(
                [uv, "venv", "--quiet", "--python", sys.executable, str(env)], check=True
            )
            pip = [uv, "pip", "install", "--quiet", "--python", python]
        else:
            venv.create(env, with_pip=True)
            pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        for args in (["--require-hashes", "-r", str(lock)], ["--no-deps", str(wheel)]):
            proc = subprocess.run([*pip, *args], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise ReleaseError(f"pip install {args[-1]} failed:\n{proc.stderr[-4000:]}")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        proc = subprocess.run(
            [str(env / "bin" / "regkit"), "version"],
            cwd=tmp,
            env=clean,
            capture_output=True,
            text=True,
            check=False,
        )
    printed = proc.stdout.strip()
    if proc.returncode != 0 or printed != f"regkit {version}":
        raise ReleaseError(
            f"the installed wheel's 'regkit version' printed {printed!r} (exit "
            f"{proc.returncode}), expected 'regkit {version}' {proc.stderr[-500:]}"
        )
    return printed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("version").add_argument("tag")
    p = sub.add_parser("build")
    p.add_argument("out", type=Path)
    p = sub.add_parser("check-wheel")
    p.add_argument("wheel", type=Path)
    p.add_argument("version")
    p = sub.add_parser("pin")
    p.add_argument("image")
    p.add_argument("digest")
    p.add_argument("version")
    sub.add_parser("notes").add_argument("version")
    args = parser.parse_args(argv)
    try:
        if args.step == "version":
            version, major = parse_tag(args.tag)
            print(f"version={version}\nmajor={major}")
        elif args.step == "build":
            for path in build(ROOT, args.out):
                print(path)
        elif args.step == "check-wheel":
            print(check_wheel(args.wheel, args.version))
        elif args.step == "pin":
            action, pyproject = ROOT / "action.yml", ROOT / "pyproject.toml"
            pinned = pin_action(action.read_text(encoding="utf-8"), args.image, args.digest)
            versioned = pin_version(pyproject.read_text(encoding="utf-8"), args.version)
            action.write_text(pinned, encoding="utf-8")
            pyproject.write_text(versioned, encoding="utf-8")
        elif args.step == "notes":
            text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
            sys.stdout.write(release_notes(text, args.version))
    except ReleaseError as err:
        print(f"::error::{err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
