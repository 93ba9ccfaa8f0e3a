"""Shared pytest fixtures. Add small, self-contained fixtures in their own section."""

from __future__ import annotations

import inspect
import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from regkit.registry import RegistryClient

# Helper modules with assertions that test modules load as plugins (pytest_plugins): rewrite
# their asserts too (registered before anything imports them).
pytest.register_assert_rewrite("tests.runner", "tests.ghcr_fixtures")

from tests.rig import (  # noqa: E402
    RIG_PARAMS,
    CraneRig,
    Rig,
    Shape,
    Version,
    client_for,
    parse_rig_param,
    require_registry,
    start_crane_rig,
    start_rig,
)

# regkit's content cache (regkit.registry.cache) is off in every test and subprocess: a cache
# filled by one test would change the requests another one counts, and nothing may be written
# to the user's home. tests/registry/test_cache.py turns it on with its own directory.
os.environ["REGKIT_CACHE"] = "off"
os.environ.pop("REGKIT_CACHE_DIR", None)

# --- registry rig (tests/rig; owner: test rig) ---------------------------------------------------
# Session rigs are shared by every test of a pytest(-xdist) worker; each worker starts its own
# processes on free ports. Isolation between tests: a unique repository prefix per test
# (``repo_prefix``), not a wipe. Tests that need an empty registry call ``rig.wipe()`` (about
# 0.1 s: stop, delete storage, start on the same port); tests that change configuration or
# break things beyond a stop/start use ``rig_factory``.


def _session_rig(
    shape: Shape, tmp_path_factory: pytest.TempPathFactory, version: Version = "2.8"
) -> Iterator[Rig]:
    require_registry(version)  # registry:3 not built: skip with one reason line
    suffix = "" if version == "2.8" else "-v3"
    r = start_rig(shape, tmp_path_factory.mktemp(f"rig-{shape}{suffix}"), version=version)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="session")
def rig_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """docker-registry 2.8 with htpasswd (bcrypt) auth, plain HTTP on 127.0.0.1."""
    yield from _session_rig("basic", tmp_path_factory)


@pytest.fixture(scope="session")
def rig_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Auth-less docker-registry 2.8 behind nginx (TLS from a trustme CA, HTTP/2, auth_basic)."""
    yield from _session_rig("tls", tmp_path_factory)


@pytest.fixture(scope="session")
def rig_basic_v3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """registry:3 (distribution v3) with htpasswd auth, plain HTTP; skips when not built."""
    yield from _session_rig("basic", tmp_path_factory, "3")


@pytest.fixture(scope="session")
def rig_tls_v3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Auth-less registry:3 behind nginx (TLS, HTTP/2, auth_basic): production's shape."""
    yield from _session_rig("tls", tmp_path_factory, "3")


@pytest.fixture(params=RIG_PARAMS)
def rig(request: pytest.FixtureRequest) -> Rig:
    """Each test runs once per shape and registry version (ids "basic", "tls" on 2.8;
    "basic-v3", "tls-v3" on registry:3, skipped when registry:3 is not built). The rig is
    restarted if a previous test left it stopped, and its request log is marked, so
    ``rig.requests()`` holds only this test's requests."""
    shape, version = parse_rig_param(request.param)
    name = f"rig_{shape}" if version == "2.8" else f"rig_{shape}_v3"
    r: Rig = request.getfixturevalue(name)
    r.ensure_running()
    r.mark()
    return r


def _pinned_shape(request: pytest.FixtureRequest, shape: Shape) -> Rig:
    name = f"rig_{shape}" if request.param == "2.8" else f"rig_{shape}_v3"
    r: Rig = request.getfixturevalue(name)
    r.ensure_running()
    r.mark()
    return r


@pytest.fixture(params=["2.8", "3"], ids=["v2.8", "v3"])
def basic_rig(request: pytest.FixtureRequest) -> Rig:
    """The plain (htpasswd) rig on both registry versions: for a test about one shape that
    still talks to the registry (registry:3 skipped when not built)."""
    return _pinned_shape(request, "basic")


@pytest.fixture(params=["2.8", "3"], ids=["v2.8", "v3"])
def tls_rig(request: pytest.FixtureRequest) -> Rig:
    """The nginx TLS rig on both registry versions (see ``basic_rig``)."""
    return _pinned_shape(request, "tls")


@pytest.fixture(scope="session")
def rig_crane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CraneRig]:
    """go-containerregistry's registry (``crane registry serve``), plain HTTP, no auth: a
    registry that is not distribution (tests/rig/cranereg.py). Skips when crane is not built.
    A test that stops it gets it back empty (``rig_crane.ensure_running()``)."""
    r = start_crane_rig(tmp_path_factory.mktemp("rig-crane"))
    try:
        yield r
    finally:
        r.close()


_repo_counter = itertools.count(1)


@pytest.fixture
def repo_prefix() -> str:
    """A repository name prefix no other test uses, e.g. ``t/gw0-0007-3fa2``; use it as
    ``f"{repo_prefix}/app"``."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"t/{worker}-{next(_repo_counter):04d}-{secrets.token_hex(2)}"


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """``rig_factory(shape="basic", version="2.8", **start_rig_options) -> Rig``: a private rig
    for this test (e.g. ``delete_enabled=False``, ``registry_config={...}``, ``http2=False``;
    ``version="3"`` for registry:3, skipping when it is not built), stopped at teardown."""
    started: list[Rig] = []

    def make(shape: Shape = "basic", version: Version = "2.8", **options: object) -> Rig:
        require_registry(version)
        workdir = tmp_path / f"rig-{shape}-{version}-{len(started)}"
        r = start_rig(shape, workdir, version=version, **options)  # type: ignore[arg-type]
        started.append(r)
        return r

    try:
        yield make
    finally:
        errors: list[BaseException] = []
        for r in started:
            try:
                r.close()
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture(name="client_for")
def client_for_fixture() -> Iterator[Callable[..., RegistryClient]]:
    """``client_for(rig, **options) -> RegistryClient`` (tests.rig.client_for: the rig's host,
    credentials and CA; ``jobs=``, ``retry=``... as ``RegistryClient``'s keywords); every client
    it made is closed at teardown."""
    made: list[RegistryClient] = []

    def make(rig: Rig | CraneRig, **options: Any) -> RegistryClient:
        made.append(client_for(rig, **options))
        return made[-1]

    try:
        yield make
    finally:
        for client in made:
            client.close()


# --- end registry rig ----------------------------------------------------------------------------


# --- the rig marker and the fast lane (issue 22) -------------------------------------------------
# Every test that needs a real registry process (distribution 2.8 or 3, nginx in front, crane's or
# the referrers registry, the fake GHCR's backend registry) or a real install of regkit into a new
# venv (the actions' install.py, uv/pipx, a wheel build) is marked ``rig`` at collection, so
# ``pytest -m "not rig and not slow"`` is the fast lane (``slow``, by hand: tests that wait on
# purpose): pure logic, the in-process fake servers and
# MockTransport, the sops binary, the CLI in-process and as a subprocess. A test is a rig test
# when a fixture it uses (directly or through other fixtures) is one of RIG_FIXTURES, when its own
# source or the source of one of its fixtures starts a registry or an install (RIG_STARTS; also a
# fixture that takes a rig by name with ``request.getfixturevalue`` in a module naming rig
# fixtures), or when it is in RIG_TESTS. In the fast lane a test that starts a registry process
# anyway fails with a message naming this section (the guard below), so a missed case cannot hide.

RIG_FIXTURES = frozenset(
    {
        "rig",
        "basic_rig",
        "tls_rig",
        "rig_basic",
        "rig_tls",
        "rig_basic_v3",
        "rig_tls_v3",
        "rig_crane",
        "rig_factory",
        "rig_referrers_api",
        "ghcr",  # tests/ghcr_fixtures.py: FakeGHCR serves a real registry behind its front
        # a real install of regkit into a new venv (uv or pip, as the actions do): 5-15 s each
        "installed",  # tests/runner.py, once per worker
        "wheelhouse",  # tests/packaging/test_install_runner.py: the locked wheels and their index
        "mirror",
    }
)
# tests that start a registry or run an install without one of the fixtures above
RIG_STARTS = re.compile(
    r"\b(?:start_rig|start_crane_rig|start_referrers_rig|start_fake|RegistryProcess|NginxProcess"
    r"|CraneRegistryProcess|FakeGHCR|build_installed)\(|[\"']rig_(?:basic|tls|crane|referrers_api)\w*[\"']"
)
# tests that build or install regkit in a new venv by hand ("file name::function name")
RIG_TESTS = frozenset(
    {
        "test_install_script.py::test_install_then_run_like_a_composite_action",
        "test_release.py::test_the_wheel_built_at_a_tag_says_the_tags_version",  # 3 builds
    }
)
# a fixture that takes its rig by name (``request.getfixturevalue(RIGS[...])``) in a module
# that names rig fixtures
_GETS_BY_NAME = re.compile(r"\bgetfixturevalue\(")
_starts_cache: dict[Any, bool] = {}


def _starts_a_registry(func: Any) -> bool:
    func = inspect.unwrap(func)
    if func not in _starts_cache:
        try:
            source = inspect.getsource(func)
            module = (
                inspect.getsource(inspect.getmodule(func)) if _GETS_BY_NAME.search(source) else ""
            )
        except (OSError, TypeError):
            source = module = ""
        _starts_cache[func] = bool(RIG_STARTS.search(source) or _names_rig_fixtures(module))
    return _starts_cache[func]


def _names_rig_fixtures(source: str) -> bool:
    return any(f'"{name}"' in source for name in RIG_FIXTURES)


def _needs_rig(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if (
        names & RIG_FIXTURES
        or f"{item.path.name}::{getattr(item, 'originalname', '')}" in RIG_TESTS
    ):
        return True
    function = getattr(item, "function", None)
    if function is not None and _starts_a_registry(function):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for defs in info.name2fixturedefs.values() if info is not None else ():
        if defs and _starts_a_registry(defs[-1].func):  # the definition this test gets
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_rig(item):
            item.add_marker(pytest.mark.rig)


@pytest.fixture(autouse=True)
def _fast_lane_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``-m "not rig"``: starting a registry process fails the test (it must be marked)."""
    marks = request.config.getoption("markexpr") or ""
    if "not rig" not in marks or request.node.get_closest_marker("rig") is not None:
        yield
        return
    from tests.rig import procs

    def refuse(self: procs.ManagedProcess) -> None:
        pytest.fail(
            f"{request.node.nodeid} starts {self.argv[0]} in the fast lane: it needs the rig "
            "marker (tests/conftest.py, RIG_FIXTURES / RIG_STARTS)",
            pytrace=False,
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(procs.ManagedProcess, "start", refuse)
        yield
