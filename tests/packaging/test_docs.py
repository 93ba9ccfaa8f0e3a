"""The documentation stays true to the code: the generated reference (docs/reference/, written
by scripts/gen-docs from argparse, action.yml and regkit.api's docstrings) is current, every
command and action has its page, the README stays a front page (at most 250 lines), and no
relative link in README.md or docs/ points at a missing file."""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
GEN_DOCS = ROOT / "scripts" / "gen-docs"
README_MAX_LINES = 250


def _generate(out: Path) -> Path:
    env = {**os.environ, "REGKIT_GEN_DOCS_NO_VENV": "1", "COLUMNS": "37", "LINES": "5"}
    subprocess.run(
        [sys.executable, str(GEN_DOCS), "--out", str(out)],
        check=True,
        env=env,
        cwd="/",  # the pages must not depend on where it runs, nor on the terminal's width
        capture_output=True,
    )
    return out


def _files(top: Path) -> set[str]:
    return {p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file()}


def test_the_generated_reference_is_current(tmp_path: Path) -> None:
    fresh = _generate(tmp_path / "reference")
    want, have = _files(fresh), _files(REFERENCE) if REFERENCE.exists() else set()
    missing = sorted(want - have)
    extra = sorted(have - want)
    changed = sorted(
        n for n in want & have if not filecmp.cmp(fresh / n, REFERENCE / n, shallow=False)
    )
    assert not (missing or extra or changed), (
        f"docs/reference/ is stale (missing: {missing}, no longer generated: {extra}, "
        f"changed: {changed}); run scripts/gen-docs and commit the result"
    )


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    one = _generate(tmp_path / "one")
    two = _generate(tmp_path / "two")
    assert _files(one) == _files(two)
    for name in _files(one):
        text = (one / name).read_text(encoding="utf-8")
        assert text == (two / name).read_text(encoding="utf-8"), name
        assert str(ROOT) not in text and str(tmp_path) not in text, name
        assert not re.search(r" at 0x[0-9a-f]{6,}", text), name


def _verbs() -> list[str]:
    from regkit.cli import build_parser
    from regkit.cli.common import HIDDEN_VERBS

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [v for v in action.choices if v not in HIDDEN_VERBS]
    raise AssertionError("regkit's parser has no commands")


@pytest.mark.parametrize("verb", _verbs())
def test_every_command_has_a_page_with_usage_and_exit_codes(verb: str) -> None:
    page = REFERENCE / "cli" / f"regkit_{verb}.md"
    assert page.is_file(), f"{page.relative_to(ROOT)} missing; run scripts/gen-docs"
    text = page.read_text(encoding="utf-8")
    assert f"usage: regkit {verb}" in text
    assert "## Exit codes" in text and "| 130 |" in text


@pytest.mark.parametrize(
    "action",
    [p.parent.name for p in sorted(ROOT.glob("actions/*/action.yml"))] + ["docker-action"],
)
def test_every_action_has_a_page_with_inputs_outputs_and_an_example(action: str) -> None:
    page = REFERENCE / "actions" / f"{action}.md"
    assert page.is_file(), f"{page.relative_to(ROOT)} missing; run scripts/gen-docs"
    text = page.read_text(encoding="utf-8")
    assert "| input | default | description |" in text
    assert "| output | description |" in text
    assert "- uses: OWNER/regkit" in text


def test_the_api_page_documents_every_public_name() -> None:
    from regkit import api

    text = (REFERENCE / "api.md").read_text(encoding="utf-8")
    for name in api.__all__:
        assert f"### `{name}`" in text, name


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines, at most {README_MAX_LINES}: move detail into docs/"
    )
    text = "\n".join(lines)
    for command in ("./scripts/demo", "./scripts/test"):
        assert command in text, command


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_relative_link_points_at_a_file() -> None:
    broken = []
    for page in _pages():
        if not page.exists():
            continue
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "links to missing files: " + ", ".join(broken)
