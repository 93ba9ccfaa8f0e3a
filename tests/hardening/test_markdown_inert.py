"""Markdown is inert in every ``-o markdown`` output: ``regkit overview -o markdown >>
$GITHUB_STEP_SUMMARY`` must not turn a label (or a tag) into a live link, image, HTML tag or
emphasis. The CLI escapes cells as the actions' summary writer does (one function,
``escape_markdown``)."""

from __future__ import annotations

import re

import pytest

from regkit.ops.overview import Overview, RepositoryOverview, TagRow, render_markdown
from tests.actions.test_gha import split_row, unescape_markdown
from tests.clirun import regkit
from tests.rig import Rig

EVIL = "[click](https://evil.example) <img src=x onerror=alert(1)> **bold** `code` &lt; ~~s~~"
BOLD_TAG = "__bold__"  # a valid tag that GitHub renders as bold "bold"
#: a Markdown/HTML special character not preceded by an escaping backslash
LIVE = re.compile(r"(?<!\\)(?:\\\\)*[\[\]<>*_`&~]")


def _table_rows(text: str) -> list[list[str]]:
    return [split_row(line) for line in text.splitlines() if line.startswith("| ")]


def _assert_inert(text: str) -> None:
    for row in _table_rows(text):
        for cell in row:
            assert not LIVE.search(cell), f"live Markdown in a cell: {cell!r}"


def _cells(text: str) -> list[str]:
    return [unescape_markdown(c) for row in _table_rows(text) for c in row]


def test_overview_markdown_escapes_what_the_summary_writer_escapes() -> None:
    row = TagRow(BOLD_TAG, "sha256:" + "f" * 64, None, ("linux/amd64",), 10, EVIL)
    text = render_markdown(Overview("reg.test", (RepositoryOverview("team/app", (row,)),)))
    _assert_inert(text)
    assert BOLD_TAG in _cells(text) and EVIL in _cells(text)


@pytest.fixture
def hostile(rig_basic: Rig, repo_prefix: str) -> tuple[Rig, str]:
    rig_basic.ensure_running()
    repo = f"{repo_prefix}/app"
    pusher = rig_basic.pusher()
    pusher.push_image(repo, [BOLD_TAG, "1a2b3c4"], "oci", description=EVIL)
    pusher.push_image(repo, ["0000001"], "oci", description="plain")
    return rig_basic, repo


def test_overview_cli_markdown_is_inert(hostile: tuple[Rig, str]) -> None:
    rig, repo = hostile
    out = regkit("overview", rig.host, "--repo", repo, "-o", "markdown", env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    _assert_inert(text)
    assert EVIL in _cells(text) and BOLD_TAG in _cells(text)


def test_inspect_cli_markdown_is_inert(hostile: tuple[Rig, str]) -> None:
    rig, repo = hostile
    out = regkit("inspect", rig.ref(repo, "1a2b3c4"), "-o", "markdown", env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    _assert_inert(text)
    assert EVIL in _cells(text)
    assert any(BOLD_TAG in c for c in _cells(text))  # the tags row


@pytest.mark.parametrize(
    "verb",
    [
        ("prune", "{ref}", "--match", ".*", "--keep", "0", "--dry-run"),
        ("sync", "{ref}", "{ref}-copy", "--dry-run"),
        ("promote", "{ref}:" + BOLD_TAG, "__also_bold__", "--dry-run"),
    ],
    ids=["prune", "sync", "promote"],
)
def test_other_verbs_markdown_is_inert(hostile: tuple[Rig, str], verb: tuple[str, ...]) -> None:
    rig, repo = hostile
    args = [a.format(ref=rig.ref(repo)) for a in verb]
    out = regkit(*args, "-o", "markdown", env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert _table_rows(text), text
    _assert_inert(text)
    shown = "__also_bold__" if verb[0] == "promote" else BOLD_TAG
    assert any(shown in c for c in _cells(text)), text
