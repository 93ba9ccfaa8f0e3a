"""``record=`` is checked before anything is planned, in a dry run too (issue 20 §3: a dry run
passed with /proc/nope/x.jsonl and the real run failed)."""

from __future__ import annotations

import pytest

from regkit import api
from regkit.errors import UsageError


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_a_record_path_that_cannot_be_written_is_refused_before_planning(dry_run: bool) -> None:
    # 127.0.0.1:9 (discard) is never contacted: the refusal comes first
    with (
        api.connect("127.0.0.1:9", username="u", password="p") as reg,
        pytest.raises(UsageError, match="record") as caught,
    ):
        api.prune(reg, ["team/app"], keep=3, record="/proc/nope/x.jsonl", dry_run=dry_run)
    assert "nothing was deleted" in str(caught.value)
