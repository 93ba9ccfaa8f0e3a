"""Each GHCR registry is tied to its own GitHub; no token crosses from one GitHub to another.

- ghcr.io <-> https://api.github.com; a GitHub Enterprise Server container registry
  ``containers.HOST`` <-> ``https://HOST/api/v3``; any other host: refused (cannot tell).
- The Packages REST API of a registry is always its own GitHub's. ``GITHUB_API_URL`` only says
  which GitHub GITHUB_TOKEN / GH_TOKEN / github-token belong to (default github.com): such a
  token is used for a registry of that GitHub only, and as its registry password only then.
- HTTPS only. Test setting: a loopback GHCR (REGKIT_GHCR_HOST on 127.0.0.1) pairs with a
  loopback GITHUB_API_URL (http allowed there), and only with one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regkit.dockerconfig import Credentials
from regkit.errors import RegkitError
from regkit.ghcr.hosts import packages_api, token_login
from regkit.ghcr.rest import PackagesAPI
from regkit.ops import ConnectOptions
from regkit.registry import RegistryClient
from tests.fakeserver import FakeServer, Seen, serve

PAT = "ghp_githubDotComPersonalToken0123456789ab"  # a github.com token, the ghcr.io login
GHES_TOKEN = "ghs_enterpriseRunnerToken0123456789abcd"  # an Enterprise runner's GITHUB_TOKEN
GHES_API = "https://ghes.example.test/api/v3"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITHUB_API_URL",
        "REGKIT_GHCR_HOST",
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))


@pytest.fixture
def fake_enterprise() -> Iterator[FakeServer]:
    """A plain-HTTP "GitHub Enterprise" API on loopback that records what it is sent."""

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path.startswith("/users/"):
            return 200, {"Content-Type": "application/json"}, b'{"login":"acme","type":"User"}'
        return 200, {"Content-Type": "application/json"}, b"[]"

    with serve(answer) as fake:
        yield fake


def test_each_registry_has_its_own_github(monkeypatch: pytest.MonkeyPatch) -> None:
    from regkit.ghcr.hosts import github_of

    assert github_of("ghcr.io") == "https://api.github.com"
    assert github_of("GHCR.IO") == "https://api.github.com"
    assert github_of("containers.ghes.example.test") == GHES_API
    with pytest.raises(RegkitError, match="cannot tell which GitHub"):
        github_of("registry.example.test")
    # GITHUB_API_URL never changes which GitHub ghcr.io belongs to.
    monkeypatch.setenv("GITHUB_API_URL", GHES_API)
    assert github_of("ghcr.io") == "https://api.github.com"


def test_a_ghcr_login_password_never_goes_to_another_github(
    monkeypatch: pytest.MonkeyPatch, fake_enterprise: FakeServer
) -> None:
    """GITHUB_API_URL on a plain-HTTP "Enterprise" API, no GITHUB_TOKEN, the ghcr.io login a
    github.com PAT: the PAT goes nowhere but github.com."""
    monkeypatch.setenv("GITHUB_API_URL", fake_enterprise.url)
    with RegistryClient("ghcr.io", credentials=Credentials("me", PAT)) as client:
        try:
            with packages_api(client) as api:
                if api.base_url == "https://api.github.com":  # its own GitHub: fine
                    assert api.secrets() == [PAT]
                else:  # elsewhere: what does it send there?
                    api.list_versions("acme/app")
        except RegkitError as err:  # refused: fine too, as long as nothing was sent
            assert "\n" not in str(err) and PAT not in str(err)
    sent = [s for s in fake_enterprise.seen if any(PAT in v for v in s.headers.values())]
    assert not sent, "the ghcr.io login's token reached another GitHub"


def test_the_login_password_is_used_on_its_own_github_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On an Enterprise runner (GITHUB_API_URL, GITHUB_TOKEN of that GitHub), pruning ghcr.io
    with a ghcr.io login: the REST API is github.com's, the token the login's."""
    monkeypatch.setenv("GITHUB_API_URL", GHES_API)
    monkeypatch.setenv("GITHUB_TOKEN", GHES_TOKEN)
    with RegistryClient("ghcr.io", credentials=Credentials("me", PAT)) as client:
        with packages_api(client) as api:
            assert api.base_url == "https://api.github.com"
            assert api.secrets() == [PAT]  # never the Enterprise token
        with packages_api(client, token=GHES_TOKEN) as api:  # the action's github-token
            assert api.secrets() == [PAT]


def test_another_githubs_token_without_a_login_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", GHES_API)
    monkeypatch.setenv("GITHUB_TOKEN", GHES_TOKEN)
    with RegistryClient("ghcr.io") as client, pytest.raises(RegkitError) as caught:
        packages_api(client)
    message = str(caught.value)
    assert "\n" not in message and GHES_TOKEN not in message
    assert "ghcr.io" in message and "https://api.github.com" in message and GHES_API in message


def test_another_githubs_token_is_never_the_ghcr_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", GHES_API)
    with pytest.raises(RegkitError) as caught:
        token_login(ConnectOptions(), "ghcr.io", GHES_TOKEN)
    message = str(caught.value)
    assert "\n" not in message and GHES_TOKEN not in message
    assert "ghcr.io" in message and GHES_API in message and "https://api.github.com" in message
    # Its own GitHub's token: used as before.
    monkeypatch.setenv("GITHUB_API_URL", "https://api.github.com/")
    logged = token_login(ConnectOptions(), "ghcr.io", PAT)
    assert logged.password == PAT


def test_an_enterprise_registry_pairs_with_its_enterprise_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGKIT_GHCR_HOST", "containers.ghes.example.test")
    monkeypatch.setenv("GITHUB_API_URL", GHES_API)
    monkeypatch.setenv("GITHUB_TOKEN", GHES_TOKEN)
    with RegistryClient("containers.ghes.example.test") as client, packages_api(client) as api:
        assert api.base_url == GHES_API and api.secrets() == [GHES_TOKEN]
    logged = token_login(ConnectOptions(), "containers.ghes.example.test", GHES_TOKEN)
    assert logged.password == GHES_TOKEN
    # github.com's token (GITHUB_API_URL unset: github.com) is not the Enterprise's.
    monkeypatch.delenv("GITHUB_API_URL")
    with RegistryClient("containers.ghes.example.test") as client, pytest.raises(RegkitError):
        packages_api(client)


@pytest.mark.parametrize(
    "url", ["http://api.github.com", "http://ghes.example.test/api/v3", "ftp://x/api/v3"]
)
def test_plain_http_github_api_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("GITHUB_API_URL", url)
    monkeypatch.setenv("GITHUB_TOKEN", PAT)
    with RegistryClient("ghcr.io") as client, pytest.raises(RegkitError, match="https"):
        packages_api(client)
    with pytest.raises(RegkitError, match="https"):
        PackagesAPI(PAT, base_url=url)


def test_loopback_ghcr_pairs_with_a_loopback_api_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test setting: a local GHCR on loopback and its fake REST API on loopback."""
    monkeypatch.setenv("REGKIT_GHCR_HOST", "127.0.0.1:5999")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:6001")
    monkeypatch.setenv("GITHUB_TOKEN", PAT)
    with RegistryClient("127.0.0.1:5999") as client, packages_api(client) as api:
        assert api.base_url == "http://127.0.0.1:6001"
    monkeypatch.setenv("GITHUB_API_URL", "https://api.github.com")
    with RegistryClient("127.0.0.1:5999") as client, pytest.raises(RegkitError, match="loopback"):
        packages_api(client)
    # ghcr.io never pairs with a loopback API.
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:6001")
    with RegistryClient("ghcr.io") as client, pytest.raises(RegkitError):
        packages_api(client)


# -- pagination of the Packages API: a list is whole, or an error ------------------------------


def _version(n: int) -> dict[str, object]:
    return {"id": n, "name": f"sha256:{n:064x}", "metadata": {"container": {"tags": [f"t{n}"]}}}


@pytest.fixture
def paged_api() -> Iterator[tuple[FakeServer, dict[str, object]]]:
    """A GitHub API on loopback whose version pages link as ``plan['link'](page, url)`` says."""
    plan: dict[str, object] = {}

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        import json

        headers = {"Content-Type": "application/json"}
        if seen.path == "/users/acme":
            return 200, headers, b'{"login":"acme","type":"User"}'
        page = int((seen.query.get("page") or ["1"])[0])
        link = plan["link"](page, fake.url)  # type: ignore[operator]
        if link:
            headers["Link"] = f'<{link}>; rel="next"'
        return 200, headers, json.dumps([_version(page)]).encode()

    with serve(answer) as fake:
        yield fake, plan


def _versions_url(base: str, page: int) -> str:
    return f"{base}/users/acme/packages/container/app/versions?per_page=100&page={page}"


def test_a_next_page_on_another_origin_is_an_error_not_the_end(
    paged_api: tuple[FakeServer, dict[str, object]],
) -> None:
    from regkit.ghcr.rest import GitHubPackagesError

    fake, plan = paged_api
    plan["link"] = lambda page, base: (
        _versions_url(base.replace("127.0.0.1", "127.0.0.2"), 2) if page == 1 else None
    )
    with PackagesAPI(PAT, base_url=fake.url) as api:
        with pytest.raises(GitHubPackagesError) as caught:
            api.list_versions("acme/app")
        message = str(caught.value)
        assert "\n" not in message and "127.0.0.2" in message and "partial" in message
        with pytest.raises(GitHubPackagesError):
            api.find_version("acme/app", "sha256:" + "f" * 64)  # not on page 1: page 2 needed
    assert all(s.headers.get("host", "").startswith("127.0.0.1") for s in fake.seen)


def test_a_plain_http_next_page_from_an_https_api_is_refused() -> None:
    from regkit.ghcr.rest import GitHubPackagesError, next_page_url

    base = "https://api.github.com"
    current = f"{base}/users/acme/packages/container/app/versions?per_page=100"
    with pytest.raises(GitHubPackagesError, match="partial"):
        next_page_url(
            '<http://api.github.com/x?page=2>; rel="next"', current, base, "listing versions"
        )
    assert (
        next_page_url(f'<{base}/x?page=2>; rel="next"', current, base, "listing versions")
        == f"{base}/x?page=2"
    )
    assert next_page_url(f'<{base}/x?page=9>; rel="last"', current, base, "listing") is None
    assert next_page_url(None, current, base, "listing") is None


def test_a_page_loop_is_an_error(paged_api: tuple[FakeServer, dict[str, object]]) -> None:
    from regkit.ghcr.rest import GitHubPackagesError

    fake, plan = paged_api
    plan["link"] = lambda page, base: _versions_url(base, 2) if len(fake.seen) < 40 else None
    with PackagesAPI(PAT, base_url=fake.url) as api, pytest.raises(GitHubPackagesError) as caught:
        api.list_versions("acme/app")
    assert "\n" not in str(caught.value) and "again" in str(caught.value)
    assert len(fake.seen) <= 4


def test_pages_are_capped(
    paged_api: tuple[FakeServer, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from regkit import defaults
    from regkit.errors import LimitExceededError

    fake, plan = paged_api
    monkeypatch.setattr(defaults, "MAX_PAGES", 5)
    plan["link"] = lambda page, base: _versions_url(base, page + 1) if page < 30 else None
    with PackagesAPI(PAT, base_url=fake.url) as api, pytest.raises(LimitExceededError) as caught:
        api.list_versions("acme/app")
    assert "5 pages" in str(caught.value) and "\n" not in str(caught.value)
    assert len(fake.seen) <= 7  # /users/acme and 5 pages (one more asked at most)
    # A whole list under the cap is read whole.
    plan["link"] = lambda page, base: _versions_url(base, page + 1) if page < 4 else None
    with PackagesAPI(PAT, base_url=fake.url) as api:
        assert [v.id for v in api.list_versions("acme/app")] == [1, 2, 3, 4]


# -- actions/wait-for-runs.py: the job's token stays on the GitHub API -------------------------

WAIT_TOKEN = "ghs_waitForRunsToken0123456789abcdef"
RUNS = "/repos/acme/hello-world/actions/workflows/prune-tags.yml/runs"


def _wait_module() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "actions" / "wait-for-runs.py"
    spec = importlib.util.spec_from_file_location("wait_for_runs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wait(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    module = _wait_module()
    monkeypatch.setattr(module.time, "sleep", lambda _s: None)
    monkeypatch.setenv("GITHUB_API_URL", api)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/hello-world")
    monkeypatch.setenv("GITHUB_RUN_ID", "13000000100")
    monkeypatch.setenv("GH_TOKEN", WAIT_TOKEN)
    code = module.main(["--workflow", "prune-tags.yml", "--timeout-minutes", "0"])
    out = capsys.readouterr().out
    return code, out


def _runs_body() -> bytes:
    return (
        Path(__file__).parents[1] / "fixtures/github/workflow-runs-prune-done.json"
    ).read_bytes()


def test_wait_for_runs_drops_the_token_on_a_redirect_to_another_origin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    json_headers = {"Content-Type": "application/json"}
    with serve(lambda _s: (200, json_headers, _runs_body()), bind="127.0.0.2") as elsewhere:

        def redirect(seen: Seen) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": f"{elsewhere.url}{seen.path}"}, b""

        with serve(redirect) as api:
            code, out = _wait(api.url, monkeypatch, capsys)
    assert api.seen and WAIT_TOKEN in api.seen[0].headers.get("authorization", "")
    carried = [s for s in elsewhere.seen if "authorization" in s.headers]
    assert not carried, "the token followed a redirect to another origin"
    assert WAIT_TOKEN not in out
    assert code in (0, 1)


def test_wait_for_runs_is_https_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _wait("http://api.github.invalid", monkeypatch, capsys)
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and "https" in errors[0]
    assert "actions: read" not in errors[0]


def test_wait_for_runs_retries_a_server_error_and_hints_only_on_403_404(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    json_headers = {"Content-Type": "application/json"}
    answers: list[int] = [502, 503]

    def flaky(_seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if answers:
            return answers.pop(0), json_headers, b'{"message":"Server Error"}'
        return 200, json_headers, _runs_body()

    with serve(flaky) as api:
        code, out = _wait(api.url, monkeypatch, capsys)
        assert code == 0, out
        assert len(api.seen) == 3

    with serve(lambda _s: (500, json_headers, b'{"message":"boom"}')) as api:
        code, out = _wait(api.url, monkeypatch, capsys)
        assert code == 1
        assert 2 <= len(api.seen) <= 5  # retried, a bounded number of times
    errors = [line for line in out.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and "500" in errors[0] and "actions: read" not in errors[0]

    for status in (403, 404):
        with serve(lambda _s, st=status: (st, json_headers, b'{"message":"no"}')) as api:
            code, out = _wait(api.url, monkeypatch, capsys)
            assert code == 1 and len(api.seen) == 1  # a refusal is not retried
        errors = [line for line in out.splitlines() if line.startswith("::error::")]
        assert len(errors) == 1 and "give the job 'actions: read'" in errors[0]


@pytest.mark.parametrize("url", ["http://api.github.com", "http://ghes.example.test/api/v3"])
def test_the_releases_and_checks_client_is_https_only(url: str) -> None:
    from regkit.github import GitHubAPI

    with pytest.raises(RegkitError, match="https"):
        GitHubAPI(PAT, "acme/hello-world", base_url=url)
    GitHubAPI(PAT, "acme/hello-world", base_url="http://127.0.0.1:9").close()  # tests' fake
