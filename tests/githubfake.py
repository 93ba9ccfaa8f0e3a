"""A GitHub REST API stand-in on loopback: recorded JSON answers from tests/fixtures/github/.

``github_api({"/repos/acme/hello-world/releases/latest": "release-latest-v1.2.2.json", ...})``
serves each path (query string ignored) with 200 and the file's bytes, or ``(status, file)``;
any other path answers 404 with GitHub's "Not Found" body. ``fake.seen`` records every request
(method, path, query, headers) so tests can assert what was asked and with which token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.fakeserver import Answer, FakeServer, Seen, serve

FIXTURES = Path(__file__).parent / "fixtures" / "github"
REPO = "acme/hello-world"
SHA = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
PROMOTE_RUN_ID = "13000000099"  # the run id of the "promote" job in the recorded check runs
HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "X-GitHub-Media-Type": "github.v3; format=json",
    "X-RateLimit-Limit": "5000",
    "X-RateLimit-Remaining": "4990",
    "X-RateLimit-Reset": "4102444800",
    "X-RateLimit-Resource": "core",
}

Route = str | tuple[int, str]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class RecordedGitHub:
    """One server for many tests: ``use(routes)`` swaps the answers and forgets ``seen``."""

    def __init__(self, fake: FakeServer, routes: dict[str, Route]) -> None:
        self.fake = fake
        self.routes = routes

    @property
    def url(self) -> str:
        return self.fake.url

    @property
    def seen(self) -> list[Seen]:
        return self.fake.seen

    def use(self, routes: Mapping[str, Route]) -> RecordedGitHub:
        self.routes.clear()
        self.routes.update(routes)
        self.fake.seen.clear()
        return self


@contextmanager
def github_api(routes: Mapping[str, Route] | None = None) -> Iterator[RecordedGitHub]:
    table: dict[str, Route] = dict(routes or {})

    def answer(seen: Seen) -> Answer:
        route = table.get(seen.path, (404, "not-found.json"))
        status, name = (200, route) if isinstance(route, str) else route
        return status, dict(HEADERS), fixture(name)

    with serve(answer) as fake:
        yield RecordedGitHub(fake, table)


def repo_path(suffix: str) -> str:
    return f"/repos/{REPO}/{suffix}"
