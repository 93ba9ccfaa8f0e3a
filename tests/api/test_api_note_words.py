"""The Python API says its keywords where a warning or a log record names one of regkit's
parameters (issue 22): a prune's warning says ``delete_orphans=``, the log record of an
``insecure`` connection ``insecure=``, never the CLI's ``--delete-orphans``/``--insecure``.
``report.to_text()``/``to_json()`` stay the CLI's documented output (its words).

Real registry:3; the one fault (the referrers of the deleted image cannot be deleted) is
injected."""

from __future__ import annotations

import logging

import pytest

from regkit import api
from regkit.errors import RegistryError
from tests.rig import Rig

ORPHAN = f"sha256-{'9' * 64}.sig"


@pytest.fixture
def repo(rig_basic_v3: Rig, repo_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """aaaaaaa (older, goes with keep=1), bbbbbbb, an orphan signature tag; deleting the
    referrers of what goes fails."""
    name = f"{repo_prefix}/app"
    pusher = rig_basic_v3.pusher()
    pusher.push_images(name, ["aaaaaaa", "bbbbbbb"])
    pusher.push_image(name, [ORPHAN], layer_size=32, seed=2)

    def refused(*_args: object, **_kwargs: object) -> tuple[str, ...]:
        raise RegistryError("DELETE refused (HTTP 405)")

    monkeypatch.setattr("regkit.ops.prune.children.delete_referrers", refused)
    return name


def _warning(repo: str, words: str) -> str:
    return (
        f"{repo}: referrers of deleted images left (DELETE refused (HTTP 405)); the next prune "
        f"reports them as orphans and removes them with {words}"
    )


def test_a_prune_warning_says_the_keyword(rig_basic_v3: Rig, repo: str) -> None:
    rig, said = rig_basic_v3, []
    with api.connect(rig.host, username=rig.username, password=rig.password) as reg:
        report = api.prune(reg, [repo], keep=1, warn=said.append)
    assert report.deleted == (f"{rig.host}/{repo}:aaaaaaa",)
    assert said == [_warning(repo, "delete_orphans=")]
    # the CLI's documented output keeps the CLI's words
    assert "(orphan); --delete-orphans removes it" in report.to_text()
    (doc,) = report.to_json()["repositories"]  # type: ignore[misc]
    assert doc["plan"]["referrers"][0]["reason"].endswith("; --delete-orphans removes it")


def test_execute_prune_warns_with_the_keyword(rig_basic_v3: Rig, repo: str) -> None:
    rig, said = rig_basic_v3, []
    with api.connect(rig.host, username=rig.username, password=rig.password) as reg:
        plans = api.plan_prune(reg, [repo], keep=1)
        api.execute_prune(reg, plans, warn=said.append)
    assert said == [_warning(repo, "delete_orphans=")]


def test_the_insecure_log_record_says_the_keyword(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="regkit"):
        api.connect("registry.invalid", insecure=True).close()
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("regkit.ops", logging.WARNING, "insecure=: TLS verification is off for registry.invalid")
    ]
