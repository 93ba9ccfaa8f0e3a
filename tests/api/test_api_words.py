"""The Python API speaks in its own terms: an error from the shared code that names a CLI flag
names the function's keyword argument instead, and stays the same error (type, exit code).
No server: these errors come before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from regkit import api
from regkit.errors import UsageError


def test_connect_names_its_keywords_not_cli_flags() -> None:
    with pytest.raises(UsageError) as caught:
        api.connect("127.0.0.1:9", username="someone")
    assert "username=" in caught.value.message and "password=" in caught.value.message
    assert "--" not in caught.value.message
    assert caught.value.exit_code == 2


def test_prune_names_its_keywords_not_cli_flags(tmp_path: Path) -> None:
    missing = tmp_path / "deploy"
    with (
        api.connect("127.0.0.1:9", username="u", password="p") as reg,
        pytest.raises(UsageError) as caught,
    ):
        api.plan_prune(reg, ["team/app"], protect_dir=str(missing))
    assert caught.value.message.startswith(f"protect_dir= {missing} is not a directory")
    assert "--" not in caught.value.message
