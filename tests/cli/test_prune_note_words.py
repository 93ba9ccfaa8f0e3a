"""The CLI's words stay the CLI's (issue 22: the shared code names parameters as ``Param``; the
CLI says ``--flag``): a prune's warning, an orphan's reason and the counts line print the same
bytes as before the other adapters got their own words. Real registry:3; the one fault (the
referrers of the deleted image cannot be deleted) is injected."""

from __future__ import annotations

import pytest

from regkit.cli import main
from regkit.errors import RegistryError
from tests.rig import Rig

ORPHAN = f"sha256-{'9' * 64}.sig"


def test_the_cli_says_its_flags_in_warnings_and_notes(
    rig_basic_v3: Rig,
    repo_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rig, repo = rig_basic_v3, f"{repo_prefix}/app"
    pusher = rig.pusher()
    pusher.push_images(repo, ["aaaaaaa", "bbbbbbb"])
    pusher.push_image(repo, [ORPHAN], layer_size=32, seed=2)
    for name, value in rig.env().items():
        monkeypatch.setenv(name, value)

    def refused(*_args: object, **_kwargs: object) -> tuple[str, ...]:
        raise RegistryError("DELETE refused (HTTP 405)")

    monkeypatch.setattr("regkit.ops.prune.children.delete_referrers", refused)
    assert main(["prune", rig.ref(repo), "--keep", "1", "--yes", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "which no longer exists (orphan); --delete-orphans removes it\n" in out, out
    assert "1 orphan kept (--delete-orphans removes them);" in out, out
    assert (
        f"regkit: warning: {repo}: referrers of deleted images left (DELETE refused (HTTP 405)); "
        "the next prune reports them as orphans and removes them with --delete-orphans\n"
    ) in err, err
