"""regkit.ghcr.rest against the local GHCR's REST server: owners, URL-encoded names,
pagination, rate-limit waits (announced), refusals as one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import regkit.ghcr.rest as packages
from regkit.errors import AuthenticationError, NotFoundError, RegkitError
from regkit.ghcr.rest import (
    PackagesAPI,
    PermissionDeniedError,
    RateLimitedError,
    rate_limit_wait,
)
from tests.ghcr_fixtures import READER, TOKEN, ghcr, pusher
from tests.ghcr_images import push_history
from tests.ghcrfake import FakeGHCR
from tests.rig.images import Pusher

__all__ = ["ghcr", "pusher"]


def api(fake: FakeGHCR, token: str = TOKEN, **kwargs: object) -> tuple[PackagesAPI, list[str]]:
    said: list[str] = []
    slept: list[float] = []
    client = PackagesAPI(
        token,
        base_url=fake.api_url,
        notify=said.append,
        sleep=slept.append,
        write_interval=0,
        **kwargs,  # type: ignore[arg-type]
    )
    client.slept = slept  # type: ignore[attr-defined]
    return client, said


def test_versions_of_an_org_package_with_a_slash_in_its_name(
    ghcr: FakeGHCR, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = push_history(pusher, "acme/tools/runner", ["aaaaaaa", "bbbbbbb"])
    monkeypatch.setattr(packages, "PER_PAGE", 3)  # 10 versions: 4 pages
    client, _ = api(ghcr)
    versions = client.list_versions("acme/tools/runner")
    assert {v.digest for v in versions} == {d for b in builds for d in b.manifests}
    assert len(versions) == 10
    assert [v.tags for v in versions if v.tags] == [("bbbbbbb",), ("aaaaaaa",)]  # newest first
    paths = [r.path for r in ghcr.api_requests if "/versions" in r.path]
    assert paths[0] == "/orgs/acme/packages/container/tools%2Frunner/versions?per_page=3"
    assert len(paths) == 4


def test_user_owner_and_delete(ghcr: FakeGHCR, pusher: Pusher) -> None:
    builds = push_history(pusher, "bob/app", ["aaaaaaa"])
    client, _ = api(ghcr)
    ids = ghcr.version_ids("bob/app")
    assert client.delete_version("bob/app", ids[builds[0].attestations[0]]) is True
    assert builds[0].attestations[0] not in ghcr.version_ids("bob/app")
    assert client.delete_version("bob/app", ids[builds[0].attestations[0]]) is False  # gone
    assert any(r.path.startswith("/users/bob/packages/container/app/") for r in ghcr.api_requests)
    assert [p.name for p in client.list_packages("bob")] == ["app"]


def test_overview_lists_packages_of_an_org(ghcr: FakeGHCR, pusher: Pusher) -> None:
    push_history(pusher, "acme/one", ["aaaaaaa"])
    push_history(pusher, "acme/two/deep", ["aaaaaaa"])
    push_history(pusher, "bob/other", ["aaaaaaa"])
    client, _ = api(ghcr)
    assert [(p.name, p.version_count) for p in client.list_packages("acme")] == [
        ("one", 5),
        ("two/deep", 5),
    ]


def test_secondary_and_primary_limits_are_waited_out_and_said(
    ghcr: FakeGHCR, pusher: Pusher
) -> None:
    push_history(pusher, "acme/app", ["aaaaaaa"])
    ghcr.rate_limit(1, kind="secondary", status=429, seconds=7)
    ghcr.rate_limit(1, kind="primary", status=403, seconds=30)
    client, said = api(ghcr)
    assert len(client.list_versions("acme/app")) == 5
    assert said[0].startswith("GitHub API rate limit (HTTP 429) while looking up acme")
    assert "waiting 7 s as GitHub asks (retry-after)" in said[0]
    assert "(HTTP 403)" in said[1] and "(x-ratelimit-reset)" in said[1]
    assert client.slept[0] == 7  # type: ignore[attr-defined]
    assert 29 <= client.slept[1] <= 32  # type: ignore[attr-defined]


def test_a_limit_longer_than_max_wait_is_an_error_saying_when(
    ghcr: FakeGHCR, pusher: Pusher
) -> None:
    push_history(pusher, "acme/app", ["aaaaaaa"])
    ghcr.rate_limit(1, kind="primary", status=403, seconds=3600)
    client, said = api(ghcr, max_wait=60)
    with pytest.raises(RateLimitedError) as err:
        client.list_versions("acme/app")
    assert "resets at" in err.value.message and "run again then" in err.value.message
    assert said == []


def test_delete_without_admin_names_the_permission(ghcr: FakeGHCR, pusher: Pusher) -> None:
    builds = push_history(pusher, "acme/app", ["aaaaaaa"])
    client, _ = api(ghcr, READER)
    assert len(client.list_versions("acme/app")) == 5  # reading is allowed
    with pytest.raises(PermissionDeniedError) as err:
        client.delete_version("acme/app", ghcr.version_ids("acme/app")[builds[0].index])
    message = err.value.message
    assert "\n" not in message
    assert message.startswith("GitHub API refused deleting version")
    assert "Admin role" in message and "packages: write" in message
    assert READER not in message


def test_github_token_cannot_list_user_packages(ghcr: FakeGHCR) -> None:
    client, _ = api(ghcr, READER)
    with pytest.raises(PermissionDeniedError, match="Resource not accessible by integration"):
        client._request("GET", "/user/packages?package_type=container", "listing")


def test_bad_token_and_unknown_package(ghcr: FakeGHCR, pusher: Pusher) -> None:
    push_history(pusher, "acme/app", ["aaaaaaa"])
    client, _ = api(ghcr, "ghp_wrong")
    with pytest.raises(AuthenticationError, match="401 Bad credentials"):
        client.list_versions("acme/app")
    client, _ = api(ghcr)
    with pytest.raises(NotFoundError, match="package acme/nothing not found on GitHub"):
        client.list_versions("acme/nothing")
    with pytest.raises(NotFoundError, match="no user or organisation 'nobody'"):
        client.list_versions("nobody/app")


def test_rate_limit_wait_is_pure() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert rate_limit_wait(200, {}, now) is None
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "12"}, now) is None  # a refusal
    assert rate_limit_wait(403, {"Retry-After": "5"}, now) == 5
    assert rate_limit_wait(429, {}, now) == 60
    assert (
        rate_limit_wait(
            403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 100)}, now
        )
        == 101
    )


def test_cli_overview_of_a_ghcr_owner_lists_its_packages(
    ghcr: FakeGHCR, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    from regkit.cli import main

    push_history(pusher, "acme/one", ["aaaaaaa"])
    push_history(pusher, "acme/two/deep", ["bbbbbbb"])
    push_history(pusher, "bob/other", ["ccccccc"])
    assert main(["overview", f"{ghcr.host}/acme", "--format", "json", "--no-cache"]) == 0
    out, _ = capsys.readouterr()
    assert "_catalog" not in str(ghcr.registry_requests)
    assert "ccccccc" not in out and "aaaaaaa" in out and "bbbbbbb" in out
    # HOST/REPO is one repository, on GHCR as on any registry (issue 15)
    assert main(["overview", f"{ghcr.host}/acme/one", "-o", "json", "--no-cache"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)["repositories"]]
    assert names == ["acme/one"]
    # HOST/REPO (main's overview): that one package only
    assert main(["overview", f"{ghcr.host}/acme/one", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "aaaaaaa" in out and "bbbbbbb" not in out


def test_next_link_stays_on_the_api_origin() -> None:
    # issue 21: a next page elsewhere was the quiet end of the list; it is an error now (a
    # partial list is not safe to prune from), and the token never goes there
    from regkit.ghcr.rest import next_page_url

    base = "https://api.github.com"
    here = f"{base}/orgs/a/packages"
    ok = '<https://api.github.com/orgs/a/packages?page=2>; rel="next", <x>; rel="last"'
    assert next_page_url(ok, here, base, "a") == "https://api.github.com/orgs/a/packages?page=2"
    away = '<https://evil.example/orgs/a/packages?page=2>; rel="next"'
    with pytest.raises(RegkitError, match="not safe"):
        next_page_url(away, here, base, "a")
    downgrade = '<http://api.github.com/orgs/a/packages?page=2>; rel="next"'
    with pytest.raises(RegkitError, match="not safe"):
        next_page_url(downgrade, here, base, "a")
    assert next_page_url('<https://api.github.com/x>; rel="last"', here, base, "a") is None


def test_a_bare_secondary_limit_waits_a_minute_and_server_errors_are_retried(
    ghcr: FakeGHCR, pusher: Pusher
) -> None:
    builds = push_history(pusher, "acme/app", ["aaaaaaa"])
    ghcr.rate_limit(1, kind="secondary-bare", status=403)
    ghcr.rate_limit(2, kind="server", status=502)
    client, said = api(ghcr)
    assert len(client.list_versions("acme/app")) == 5
    assert "(HTTP 403)" in said[0] and "waiting 60 s" in said[0]
    assert "(no time given: one minute)" in said[0]
    assert said[1:] == [
        "GitHub API answered 502 while looking up acme: retrying in 1 s",
        "GitHub API answered 502 while looking up acme: retrying in 2 s",
    ]
    assert client.slept == [60, 1, 2]  # type: ignore[attr-defined]
    ghcr.rate_limit(3, kind="server", status=503, methods=("DELETE",))
    with pytest.raises(packages.GitHubPackagesError, match="failed \\(503 Server Error\\)"):
        client.delete_version("acme/app", ghcr.version_ids("acme/app")[builds[0].index])
    found = client.find_version("acme/app", builds[0].index)
    assert found is not None and found.tags == ("aaaaaaa",)
