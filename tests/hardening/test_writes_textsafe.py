"""Text from the registry reaches a terminal or a log only with its control characters escaped
(issue 12 §3): a label pushed to the real registry with ``\\r::error::x`` and ESC sequences, an
error body with them from a scripted server. JSON output stays exact."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from regkit.cli import main
from regkit.textsafe import escape, is_safe
from tests.actions.test_gha import unescape_markdown
from tests.fakeserver import Seen, serve
from tests.rig import PRODUCTION, Rig, rig_shapes

# C0 (incl. CR, LF, ESC), DEL, C1, U+2028/2029: none of these may reach the terminal raw
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
NASTY = "ok\r::error::x \x1b]0;pwned\x07 \x1b[31mred\x1b[0m \x9b2J \u2028next \x7f end"


def test_escape_replaces_every_control_character() -> None:
    assert escape("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert escape("\x1b[31m") == "\\x1b[31m"
    assert escape("\x00\x7f\x85\x9f") == "\\x00\\x7f\\x85\\x9f"
    assert escape("x\u2028y\u2029z") == "x\\u2028y\\u2029z"
    assert escape("café ✓ 日本") == "café ✓ 日本"  # printable text stays as is
    for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]:
        assert is_safe(escape(chr(code))), hex(code)
        assert not is_safe(chr(code))


@pytest.fixture
def env(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    yield ["--ca-file", str(rig.ca_file)] if rig.ca_file else []


def _no_raw_control(text: str) -> None:
    found = RAW_CONTROL.findall(text)
    assert not found, f"raw control characters reached the output: {found!r}"
    # CR is not in RAW_CONTROL's LF gap: checked on its own
    assert "\r" not in text


@rig_shapes(PRODUCTION)
def test_overview_escapes_a_hostile_label_in_table_and_markdown(
    rig: Rig, repo_prefix: str, env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, ["aaaaaaa"], "oci", description=NASTY)
    for fmt in ("table", "markdown"):
        code = main(["overview", rig.host, "--repo", repo, "--format", fmt, *env])
        out, err = capsys.readouterr()
        assert code == 0, err
        _no_raw_control(out)
        _no_raw_control(err)
        # markdown: as a reader sees it (issue 21: every cell is inert Markdown, \\[ shows [)
        shown = out if fmt == "table" else unescape_markdown(out)
        assert "ok\\r::error::x" in shown.replace("\\\\", "\\")
        assert "\\x1b]0;pwned\\x07" in shown.replace("\\\\", "\\")
        assert not any(line.startswith("::") for line in out.splitlines())
    code = main(["overview", rig.host, "--repo", repo, "--format", "json", *env])
    out, _ = capsys.readouterr()
    assert code == 0
    (row,) = json.loads(out)["repositories"][0]["tags"]
    assert row["description"] == NASTY  # JSON stays exact


def test_error_body_from_the_registry_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    body = json.dumps(
        {"errors": [{"code": "DENIED", "message": "no\r::error::x\x1b[2J\u2028more"}]}
    ).encode()

    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        return 400, {"Content-Type": "application/json"}, body

    with serve(route) as server:
        code = main(["ls", f"{server.host}/app", "--timeout", "5"])
    _, err = capsys.readouterr()
    assert code == 1
    _no_raw_control(err)
    assert err.startswith("regkit: error: ")
    # line breaks were already folded into spaces (one line per error); ESC is escaped
    assert "(no ::error::x\\x1b[2J more)" in err
    assert len(err.splitlines()) == 1
