"""The release (.github/workflows/release.yml, scripts/release.py) as far as it goes without
publishing: a copy of this tree in a fresh git repository tagged v9.9.9 is built with the
build backend of requirements-build.lock (hash-checked, no build isolation), the wheel is
installed into a fresh virtualenv with requirements.lock, and `regkit version` prints 9.9.9: the
version comes from the tag alone. Then the release commit's rewrites (action.yml by digest,
pyproject.toml's fallback version) and the release notes from CHANGELOG.md.

Network: PyPI only (the build backend and the runtime lock, from the local caches after the
first run).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regkit_release", ROOT / "scripts/release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = _load()


def _uv() -> str | None:
    local = Path(sys.executable).parent / "uv"
    return str(local) if local.exists() else shutil.which("uv")


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _tagged_copy(target: Path, tag: str) -> Path:
    """This working tree (tracked and new files, as they are now) committed in a fresh
    repository and tagged ``tag``, like the clean clone the release workflow builds in."""
    listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git(target, "init", "--quiet", "--initial-branch=main")
    _git(target, "add", "--all")
    _git(target, "commit", "--quiet", "--no-gpg-sign", "-m", "release candidate")
    _git(target, "tag", tag)
    return target


def _build_python(directory: Path) -> str:
    """A fresh virtualenv with requirements-build.lock, hash-checked: the release's backend."""
    lock = str(ROOT / "requirements-build.lock")
    python = str(directory / "bin" / "python")
    uv = _uv()
    if uv:
        cmds = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(directory)],
            [uv, "pip", "install", "--quiet", "--python", python, "--require-hashes", "-r", lock],
        ]
    else:
        cmds = [
            [sys.executable, "-m", "venv", str(directory)],
            [python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock],
        ]
    for cmd in cmds:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            pytest.skip("cannot install requirements-build.lock: " + out.stderr[-300:])
    return python


def test_the_wheel_built_at_a_tag_says_the_tags_version(tmp_path: Path) -> None:
    project = _tagged_copy(tmp_path / "clone", "v9.9.9")
    python = _build_python(tmp_path / "build-venv")
    sdist, wheel = release.build(project, tmp_path / "dist", python=python)
    assert sdist.name == "regkit-9.9.9.tar.gz"
    assert wheel.name == "regkit-9.9.9-py3-none-any.whl"
    assert release.check_wheel(wheel, "9.9.9", uv=_uv()) == "regkit 9.9.9"
    # the check refuses a wheel that says another version
    with pytest.raises(release.ReleaseError, match=r"expected 'regkit 9\.9\.8'"):
        release.check_wheel(wheel, "9.9.8", uv=_uv())
    # one commit later the version is a development release of the next patch, not 9.9.9; the
    # moving major tag (v1) on that commit is never taken for a version
    (project / "NOTE").write_text("x")
    _git(project, "add", "NOTE")
    _git(project, "commit", "--quiet", "--no-gpg-sign", "-m", "after the release")
    _git(project, "tag", "v1")
    _, later = release.build(project, tmp_path / "dist2", python=python)
    assert later.name.startswith("regkit-9.9.10.dev1+g"), later.name
    # without git metadata (a Docker build context, an action's tarball): the fallback version,
    # which the release commit sets to the release's (release.py pin)
    shutil.rmtree(project / ".git")
    (project / "pyproject.toml").write_text(
        release.pin_version((project / "pyproject.toml").read_text(), "9.9.9")
    )
    _, plain = release.build(project, tmp_path / "dist3", python=python)
    assert plain.name == "regkit-9.9.9-py3-none-any.whl"


def test_release_tags() -> None:
    assert release.parse_tag("v1.2.3") == ("1.2.3", "v1")
    assert release.parse_tag("v10.0.0rc2") == ("10.0.0rc2", "v10")
    for bad in ("v1", "v1.2", "1.2.3", "v1.2.3-beta", "v01.2.3", "v1.2.3\n", "v1.2.3 x"):
        with pytest.raises(release.ReleaseError):
            release.parse_tag(bad)


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def test_the_release_commit_runs_the_image_by_digest() -> None:
    text = (ROOT / "action.yml").read_text()
    assert _yaml(text)["runs"]["image"] == "Dockerfile"  # main builds the Dockerfile
    pinned = release.pin_action(text, "ghcr.io/owner/regkit", DIGEST)
    doc = _yaml(pinned)
    assert doc["runs"]["image"] == f"docker://ghcr.io/owner/regkit@{DIGEST}"
    assert {**doc["runs"], "image": "Dockerfile"} == _yaml(text)["runs"]
    assert {k: v for k, v in doc.items() if k != "runs"} == {
        k: v for k, v in _yaml(text).items() if k != "runs"
    }
    # only that line changed
    changed = [
        (a, b) for a, b in zip(text.splitlines(), pinned.splitlines(), strict=True) if a != b
    ]
    assert changed == [("  image: Dockerfile", f"  image: docker://ghcr.io/owner/regkit@{DIGEST}")]


@pytest.mark.parametrize(
    ("image", "digest"),
    [
        ("ghcr.io/Owner/regkit", DIGEST),  # upper case
        ("ghcr.io/owner/regkit:v1", DIGEST),  # a tag, not a digest, is what moves
        ("regkit", DIGEST),  # no registry
        ("ghcr.io/owner/regkit\n  x: y", DIGEST),  # YAML injection
        ("ghcr.io/owner/regkit", "sha256:abc"),
        ("ghcr.io/owner/regkit", "latest"),
    ],
)
def test_pinning_refuses_what_is_not_an_image_by_digest(image: str, digest: str) -> None:
    with pytest.raises(release.ReleaseError):
        release.pin_action((ROOT / "action.yml").read_text(), image, digest)


def test_pinning_twice_or_a_changed_action_is_an_error() -> None:
    pinned = release.pin_action((ROOT / "action.yml").read_text(), "ghcr.io/o/regkit", DIGEST)
    with pytest.raises(release.ReleaseError, match="0 'image: Dockerfile'"):
        release.pin_action(pinned, "ghcr.io/o/regkit", DIGEST)


def test_the_release_commit_knows_its_version_without_git() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'fallback_version = "0+unknown"' in text
    pinned = release.pin_version(text, "1.4.0")
    assert 'fallback_version = "1.4.0"' in pinned
    assert pinned.replace('"1.4.0"', '"0+unknown"') == text
    with pytest.raises(release.ReleaseError):
        release.pin_version(text, '1.4.0"\nx = "y')


def test_the_main_script_pins_the_files_of_a_tree(tmp_path: Path) -> None:
    """``release.py pin`` as the workflow runs it, in a copy: both files rewritten, exit 0."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy2(ROOT / "scripts" / "release.py", scripts)
    for name in ("action.yml", "pyproject.toml", "CHANGELOG.md"):
        shutil.copy2(ROOT / name, tmp_path)
    run = [sys.executable, str(scripts / "release.py")]
    out = subprocess.run([*run, "pin", "ghcr.io/o/regkit", DIGEST, "2.0.0"], capture_output=True)
    assert out.returncode == 0, out.stderr
    assert _yaml((tmp_path / "action.yml").read_text())["runs"]["image"].endswith(DIGEST)
    assert 'fallback_version = "2.0.0"' in (tmp_path / "pyproject.toml").read_text()
    again = subprocess.run([*run, "pin", "ghcr.io/o/regkit", DIGEST, "2.0.0"], capture_output=True)
    assert again.returncode == 1
    assert again.stderr.decode().startswith("::error::action.yml has 0")
    out = subprocess.run([*run, "version", "v2.0.0"], capture_output=True, text=True)
    assert out.stdout == "version=2.0.0\nmajor=v2\n"


def test_release_notes_come_from_the_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    notes = release.release_notes(changelog, "0.1.0")
    assert notes.startswith("The first version")
    assert not [line for line in notes.splitlines() if line.startswith("## ")]
    assert "[Unreleased]:" not in notes
    assert "### Added" in notes
    assert "issue 20" in release.release_notes(changelog, "Unreleased")
    with pytest.raises(release.ReleaseError, match=r"no section '## \[9.9.9\]'"):
        release.release_notes(changelog, "9.9.9")


def test_the_changelog_keeps_a_changelog() -> None:
    lines = (ROOT / "CHANGELOG.md").read_text().splitlines()
    assert lines[0] == "# Changelog"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## [Unreleased]"
    assert all(h == "## [Unreleased]" or " - 20" in h for h in headings)
    kinds = {line[4:] for line in lines if line.startswith("### ")}
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    for h in headings:  # every version heading has its link
        name = h[4:].split("]")[0]
        assert any(line.startswith(f"[{name}]: ") for line in lines), name


def test_the_version_costs_no_importlib_metadata() -> None:
    """The version is read when asked (``regkit version``, ``--version``, ``__version__``), not
    at import, and from the dist-info's METADATA directly: importlib.metadata's own imports cost
    tens of milliseconds, more than the rest of ``regkit version``. It says what
    importlib.metadata says."""
    code = (
        "import sys, regkit, regkit.cli; regkit.cli.build_parser()\n"
        "from regkit._version import version as v\n"
        "assert v.cache_info().misses == 0, 'read at import'\n"
        "assert regkit.cli.main(['version']) == 0\n"
        "assert 'importlib.metadata' not in sys.modules, 'importlib.metadata imported'\n"
        "from importlib.metadata import version\n"
        "assert regkit.__version__ == version('regkit'), regkit.__version__\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("regkit ")


def test_the_pinned_action_passes_the_schema_and_zizmor(tmp_path: Path) -> None:
    """What the release commit's action.yml will be is a valid Docker action, and zizmor finds
    nothing in it (an image by digest is pinned)."""
    pinned = tmp_path / "action.yml"
    pinned.write_text(
        release.pin_action((ROOT / "action.yml").read_text(), "ghcr.io/o/regkit", DIGEST)
    )
    tools = Path(sys.executable).parent
    schema, zizmor = tools / "check-jsonschema", tools / "zizmor"
    if not (schema.exists() and zizmor.exists()):
        pytest.skip("check-jsonschema and zizmor come with requirements-dev.lock")
    out = subprocess.run(
        [str(schema), "--builtin-schema", "vendor.github-actions", str(pinned)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run(
        [str(zizmor), "--offline", "--no-config", "--persona", "auditor", str(pinned)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
