"""The prune backend seam (issue 22): the backend is chosen once, from the host; a third registry
kind is one module and one line in ``KINDS``, and the one loop (``prune_targets``) runs it
with no change anywhere else; docs/architecture.md shows the registration as the code has it.
No server: the fake kind plans and deletes in memory."""

from __future__ import annotations

import ast
import re
import sys
import types
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from regkit.errors import UsageError
from regkit.ops.prune import backend as seam
from regkit.ops.prune.backend import Carried, PruneOptions, Work, backend_for
from regkit.ops.prune.distribution import DistributionBackend
from regkit.ops.prune.execute import Outcome, PruneResult
from regkit.ops.prune.plan import DELETE_MANIFEST, KEEP, PrunePlan, PrunePolicy, TagPlan
from regkit.ops.prune.run import Target
from regkit.ops.prune.session import prune_targets

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64


def test_the_backend_is_chosen_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGKIT_GHCR_HOST", raising=False)
    assert backend_for("ghcr.io").name == "ghcr"
    assert backend_for("GHCR.IO").name == "ghcr"
    assert backend_for("registry.example.com").name == "distribution"
    assert backend_for("127.0.0.1:5000").name == "distribution"
    monkeypatch.setenv("REGKIT_GHCR_HOST", "127.0.0.1:5000")  # the tests' local GHCR
    assert backend_for("127.0.0.1:5000").name == "ghcr"


def test_each_kind_refuses_what_it_cannot_do_in_todays_words() -> None:
    with pytest.raises(UsageError, match=r"--delete-untagged is for GHCR \(ghcr.io\)"):
        backend_for("r.test").refuse(Target("r.test", ("a",)), PruneOptions(delete_untagged=True))
    with pytest.raises(UsageError, match="--then and --storage are for a self-hosted registry"):
        backend_for("ghcr.io").refuse(Target("ghcr.io", ("o/a",)), PruneOptions(then=True))
    with pytest.raises(UsageError, match=r"ghcr\.io has no catalog"):
        backend_for("ghcr.io").refuse(Target("ghcr.io", (), True), PruneOptions())


class _FakeKind(DistributionBackend):
    """A registry kind whose tags go through an API of its own (in memory here)."""

    name = "fake"
    deletes_through = "deletes through the fake API"
    after_note = None

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def accepts(self, host: str) -> bool:
        return host.endswith(".fake.test")

    def plan(self, work: Work, target: Target, *args: Any) -> tuple[PrunePlan, ...]:
        entries = (
            TagPlan("new", DIGEST, None, KEEP, "newest"),
            TagPlan("old", DIGEST.replace("a", "b"), None, DELETE_MANIFEST, "older"),
        )
        return tuple(
            PrunePlan(entries, (entries[1].digest,), 0, repository=r) for r in target.repositories
        )

    def execute(self, work: Work, plans: Sequence[PrunePlan]) -> Carried:
        results = []
        for plan in plans:
            outcomes = []
            for e in plan.removed:
                self.deleted.append(f"{plan.repository}:{e.tag}")
                outcomes.append(Outcome(e.tag, e.digest, e.action, "deleted"))
            results.append(PruneResult(plan.repository, tuple(outcomes), (), 0))
        return Carried(tuple(results))


def test_a_third_kind_is_one_module_and_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("regkit_fake_kind")
    module.BACKEND = _FakeKind()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regkit_fake_kind", module)
    monkeypatch.setattr(seam, "KINDS", ("regkit_fake_kind", *seam.KINDS))  # the one line
    asked: list[str] = []
    clients: list[str] = []

    def client_for(host: str) -> Any:
        clients.append(host)
        return object()  # the fake kind never touches the registry API

    run = prune_targets(
        [Target("r.fake.test", ("team/app", "team/web"))],
        PrunePolicy(),
        client_for,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        confirm=lambda question: asked.append(question) or True,
    )
    assert asked == ["Delete 2 tags?"]  # one question, in the backend's words
    assert module.BACKEND.deleted == ["team/app:old", "team/web:old"]  # type: ignore[attr-defined]
    assert run.deleted == ["r.fake.test/team/app:old", "r.fake.test/team/web:old"]
    assert run.complete and run.carried_out and clients == ["r.fake.test"]
    assert [r.backend.name for r in run.registries] == ["fake"]
    assert backend_for("registry.example.com").name == "distribution"  # the others unchanged


def test_the_architecture_doc_registers_kinds_as_the_code_does() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    blocks = re.findall(r"```python\n(KINDS: .*?)\n```", text, re.S)
    assert blocks, "docs/architecture.md shows no KINDS registration"
    first = ast.literal_eval(blocks[0].split("=", 1)[1].strip())
    assert first == seam.KINDS
    third = ast.literal_eval(blocks[-1].split("=", 1)[1].strip())
    assert len(third) == len(seam.KINDS) + 1 and third[-1] == seam.KINDS[-1]
    for module in seam.KINDS:  # every registered kind has the parts the doc's table names
        backend = __import__(module, fromlist=["BACKEND"]).BACKEND
        for part in ("accepts", "refuse", "login", "open", "plan", "work", "question", "execute",
                     "render_plans", "render_results", "document", "tag_plan", "tag_result",
                     "summary_note"):  # fmt: skip
            assert callable(getattr(backend, part)), (module, part)
            assert f"`{part}" in text, part
