"""A scheduled job that turns on ``logging.basicConfig(level=INFO)`` sees one line per regkit
operation (regkit's own logger), not one per HTTP request: httpx's request lines for regkit's
requests show only at DEBUG. Other httpx users in the same process keep their INFO lines."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from regkit import api
from tests.rig import Rig, short_sha_tags

T0 = datetime(2026, 3, 1, tzinfo=UTC)

JOB = textwrap.dedent(
    """
    import logging, sys
    from regkit import api
    logging.basicConfig(level=getattr(logging, sys.argv[1]), stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
    host, repo, user, password = sys.argv[2:6]
    with api.connect(host, username=user, password=password) as reg:
        api.overview(reg, [repo])
        api.prune(reg, [repo], match=".*", keep=3)
    """
)


def run_job(rig: Rig, repo: str, level: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", JOB, level, rig.host, repo, rig.username, rig.password],
        capture_output=True,
        text=True,
        env=rig.env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_info_is_one_line_per_operation(basic_rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    tags = short_sha_tags(5, seed=41)
    basic_rig.pusher().push_images(repo, tags, "oci", start=T0, step=timedelta(hours=1))
    lines = run_job(basic_rig, repo, "INFO")
    assert not [x for x in lines if "HTTP Request" in x], lines
    assert lines == [
        f"INFO regkit overview of {basic_rig.host}: 1 repository, 5 tags",
        f"INFO regkit prune of {basic_rig.ref(repo)}: 2 deleted, 3 kept",
    ]


def test_debug_shows_the_requests(basic_rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    basic_rig.pusher().push_images(repo, short_sha_tags(4, seed=42), "oci", start=T0)
    lines = run_job(basic_rig, repo, "DEBUG")
    requests = [x for x in lines if x.startswith("DEBUG httpx HTTP Request:")]
    assert len(requests) > 5
    assert not [x for x in lines if x.startswith("INFO httpx")]
    assert f"INFO regkit prune of {basic_rig.ref(repo)}: 1 deleted, 3 kept" in lines


def test_caplog_dry_run_and_other_httpx_users(
    basic_rig: Rig, repo_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    repo = f"{repo_prefix}/app"
    basic_rig.pusher().push_images(repo, short_sha_tags(4, seed=43), "oci", start=T0)
    caplog.set_level(logging.INFO)
    with api.connect(
        basic_rig.host, username=basic_rig.username, password=basic_rig.password
    ) as reg:
        api.prune(reg, [repo], match=".*", keep=1, dry_run=True)
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("regkit", "INFO", f"prune of {basic_rig.ref(repo)} (dry run): 3 to delete, 1 kept")
    ]
    caplog.clear()
    # an httpx client that is not regkit's still logs its requests at INFO
    with httpx.Client() as other:
        other.get(f"{basic_rig.url}/v2/")
    assert [r.levelname for r in caplog.records if r.name == "httpx"] == ["INFO"]
