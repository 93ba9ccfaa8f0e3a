"""The Python API checks its arguments once, at the boundary: what Python lets through (a str
where a list of tags is expected, ``keep="6"``, ``older_than=timedelta(...)``) is a
``UsageError`` naming the keyword, before any request; a ``timedelta`` is a duration. And a
prune's report says what it removed (labels included, dry run too) and prints the CLI's table.

The argument errors need no server: ``127.0.0.1:9`` is never reached (the checks come first;
without them these calls would end in a connection error instead)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from regkit import api
from regkit.errors import UsageError
from tests.clirun import regkit
from tests.rig import Rig, crane, short_sha_tags

NOWHERE = "127.0.0.1:9"  # nothing listens: a request would fail with a connection error


@pytest.fixture
def reg() -> Iterator[api.Registry]:
    with api.connect(NOWHERE, username="u", password="p") as r:
        yield r


def usage(call: Callable[[], object]) -> str:
    with pytest.raises(UsageError) as caught:
        call()
    assert caught.value.exit_code == 2
    return caught.value.message


# -- item 1: a str where a list is expected --------------------------------------------------


def test_protect_tags_as_a_str_is_refused_naming_the_keyword(reg: api.Registry) -> None:
    # Today: the str is iterated, protecting the tags 3, 4, 9, b, f, and the deployed tag
    # b394ff9 is planned for deletion.
    message = usage(lambda: api.plan_prune(reg, ["team/app"], keep=6, protect_tags="b394ff9"))
    assert message == (
        'protect_tags= must be a list of tags, not a str; write protect_tags=["b394ff9"]'
    )


@pytest.mark.parametrize(
    ("function", "keyword", "noun"),
    [
        ("plan_prune", "protect_tags", "tags"),
        ("plan_prune", "protect_digests", "digests"),
        ("plan_prune", "protect_files", "paths"),
        ("plan_prune", "repositories", "repositories"),
        ("prune", "protect_tags", "tags"),
        ("prune", "protect_digests", "digests"),
        ("prune", "protect_files", "paths"),
        ("prune", "repositories", "repositories"),
        ("prune", "unprotect", "tags"),
        ("prune_ghcr", "protect_tags", "tags"),
        ("prune_ghcr", "repositories", "repositories"),
        ("overview", "repositories", "repositories"),
        ("check", "repositories", "repositories"),
        ("promote", "targets", "tags or references"),
    ],
)
def test_every_list_parameter_refuses_a_str(
    reg: api.Registry, function: str, keyword: str, noun: str
) -> None:
    fn = getattr(api, function)
    args: dict[str, Any] = {keyword: "abc1234"}
    if function == "promote":
        message = usage(lambda: fn(reg, "team/app:1a2b3c4", **args))
    elif keyword == "repositories":
        message = usage(lambda: fn(reg, **args))
    else:
        message = usage(lambda: fn(reg, ["team/app"], **args))
    assert message == (
        f'{keyword}= must be a list of {noun}, not a str; write {keyword}=["abc1234"]'
    )


def test_an_item_that_is_not_a_str_is_refused(reg: api.Registry) -> None:
    message = usage(lambda: api.plan_prune(reg, ["team/app"], protect_tags=["v1", 7]))
    assert message.startswith("protect_tags= must be a list of tags (str)")
    assert "int 7" in message


def test_keep_as_a_str_bool_or_negative_is_refused(reg: api.Registry) -> None:
    assert usage(lambda: api.plan_prune(reg, ["team/app"], keep="6")) == (
        "keep= must be an int, not str '6'; write keep=6"
    )
    assert usage(lambda: api.prune(reg, ["team/app"], keep=True)).startswith(
        "keep= must be an int, not bool"
    )
    assert usage(lambda: api.prune(reg, ["team/app"], keep=-1)) == (
        "keep= must be 0 or more, not -1"
    )


def test_connection_numbers_are_checked() -> None:
    assert usage(lambda: api.connect(NOWHERE, jobs=0)) == "jobs= must be 1 or more, not 0"
    assert usage(lambda: api.connect(NOWHERE, jobs="4")).startswith("jobs= must be an int")
    assert usage(lambda: api.connect(NOWHERE, timeout=-1.0)).startswith(
        "timeout= must be more than 0"
    )
    assert usage(lambda: api.connect(NOWHERE, insecure="yes")).startswith(
        "insecure= must be a bool"
    )


def test_other_wrong_types_name_their_keyword(reg: api.Registry) -> None:
    assert usage(lambda: api.plan_prune(reg, ["team/app"], older_than=30)).startswith(
        "older_than= must be a str or a timedelta, not int"
    )
    assert usage(lambda: api.prune(reg, ["team/app"], dry_run="no")).startswith(
        "dry_run= must be a bool"
    )
    assert usage(lambda: api.prune(reg, ["team/app"], warn="print")).startswith(
        "warn= must be callable"
    )
    assert usage(lambda: api.overview("registry.example.com")).startswith(  # type: ignore[arg-type]
        "reg= must be a Registry"
    )
    assert usage(lambda: api.plan_prune(reg, ["team/app"], older_than=timedelta(days=-1))) == (
        "older_than= must not be negative"
    )


def test_an_unknown_keyword_is_a_usage_error(reg: api.Registry) -> None:
    message = usage(lambda: api.prune(reg, ["team/app"], keeep=6))  # type: ignore[call-arg]
    assert "keeep" in message and message.startswith("prune(")


def test_iterables_are_read_once(reg: api.Registry) -> None:
    # a generator is consumed by the check: the function must get the values, not an empty one
    seen = (t for t in ["x y"])  # an invalid tag: build_policy refuses it (no request)
    message = usage(lambda: api.plan_prune(reg, ["team/app"], protect_tags=seen))
    assert "x y" in message


# -- items 1, 2, 5 against a real registry -----------------------------------------------------


T0 = datetime(2026, 3, 1, tzinfo=UTC)
SOURCE = "https://github.com/team/app"


def push(rig: Rig, repo: str, n: int = 5) -> tuple[list[str], list[Any]]:
    tags = short_sha_tags(n, seed=31)
    pusher = rig.pusher()
    images = [
        pusher.push_image(
            repo,
            [tag],
            "oci-index" if i % 2 else "oci",
            created=T0 + timedelta(hours=i),
            description=f"build {i}",
            revision=f"{tag}{'0' * 33}",
            labels={"org.opencontainers.image.source": SOURCE},
        )
        for i, tag in enumerate(tags)
    ]
    return tags, images


def connect(rig: Rig) -> api.Registry:
    return api.connect(
        rig.host,
        username=rig.username,
        password=rig.password,
        ca_file=str(rig.ca_file) if rig.ca_file else None,
    )


def test_timedelta_is_a_duration_and_the_dry_run_lists_what_goes_with_labels(
    basic_rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/app"
    tags, images = push(basic_rig, repo)
    now = T0 + timedelta(days=40)
    with connect(basic_rig) as reg:
        counted = count_requests(reg)
        report = api.prune(
            reg, [repo], match=".*", keep=2, older_than=timedelta(days=30), dry_run=True, now=now
        )
        planned = dict(counted)
        counted.clear()
        api.plan_prune(reg, [repo], match=".*", keep=2, older_than=timedelta(days=30), now=now)
    assert planned == counted  # the labels cost no request beyond planning
    assert report.plans[0].policy.to_json()["older_than"] == "30d"
    assert report.to_json()["repositories"][0]["plan"]["policy"]["older_than"] == "30d"
    assert report.deleted == ()  # nothing went
    assert [p.tag for p in report.pruned] == tags[:3][::-1]  # newest first, as the plan
    by_tag = {p.tag: p for p in report.pruned}
    for i, tag in enumerate(tags[:3]):
        p = by_tag[tag]
        assert p.reference == basic_rig.ref(repo, tag)
        assert p.digest == images[i].digest
        assert p.description == f"build {i}"
        assert p.revision == f"{tag}{'0' * 33}"
        assert p.source == SOURCE
        assert p.created == images[i].label_created
        assert p.labels["org.opencontainers.image.description"] == f"build {i}"
    # nothing was deleted
    assert set(crane(basic_rig, "ls", basic_rig.ref(repo)).stdout.decode().split()) == set(tags)


def test_text_is_the_clis_table(basic_rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    push(basic_rig, repo)
    with connect(basic_rig) as reg:
        report = api.prune(reg, [repo], match=".*", keep=3, dry_run=True)
    cli = regkit(
        "prune", basic_rig.ref(repo), "--match", ".*", "--keep", "3", "--dry-run",
        env=basic_rig.env(),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert report.to_text() == cli.stdout.decode()
    assert "TAG" in report.to_text() and "2 of 5 tags to delete" in report.to_text()


def test_a_real_prune_reports_what_went_with_labels_and_text(
    basic_rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/app"
    tags, _ = push(basic_rig, repo)
    with connect(basic_rig) as reg:
        report = api.prune(reg, [repo], match=".*", keep=3)
    assert sorted(report.deleted) == sorted(basic_rig.ref(repo, t) for t in tags[:2])
    assert sorted(p.tag for p in report.pruned) == sorted(tags[:2])
    assert {p.description for p in report.pruned} == {"build 0", "build 1"}
    assert all(p.source == SOURCE for p in report.pruned)
    text = report.to_text()
    assert f"{basic_rig.ref(repo)}: deleted 2 tags" in text
    assert json.loads(json.dumps(report.to_json()))["deleted"] == list(report.deleted)


def test_unprotect_and_force_reach_the_policy(basic_rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    _, images = push(basic_rig, repo, n=3)
    basic_rig.pusher().tag(images[0], ["latest"])
    with connect(basic_rig) as reg:
        kept = api.prune(reg, [repo], match=".*", keep=0, force=True, dry_run=True)
        assert "latest" not in {p.tag for p in kept.pruned}  # protected by default
        opted = api.prune(
            reg, [repo], match=".*", keep=0, force=True, unprotect=["latest"], dry_run=True
        )
        assert "latest" in {p.tag for p in opted.pruned}


# -- helpers -------------------------------------------------------------------------------------


def count_requests(reg: api.Registry) -> dict[str, int]:
    """Count the manifest and blob reads of ``reg`` (the client's methods, wrapped)."""
    counts: dict[str, int] = {}
    client = reg.client
    for name in ("get_manifest", "get_blob", "tags"):
        original = getattr(client, name)

        def wrapped(*a: Any, _n: str = name, _f: Any = original, **k: Any) -> Any:
            counts[_n] = counts.get(_n, 0) + 1
            return _f(*a, **k)

        setattr(client, name, wrapped)
    return counts


def test_then_is_checked_before_planning_and_runs_after(basic_rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    tags, _ = push(basic_rig, repo)
    with connect(basic_rig) as reg:
        for then in ("no-such-gc-program --now", ["/nonexistent/gc"]):
            with pytest.raises(UsageError) as caught:
                api.prune(reg, [repo], match=".*", keep=3, then=then)
            assert "nothing was deleted" in caught.value.message
            assert "--then" not in caught.value.message  # the API's words: then=
        assert set(crane(basic_rig, "ls", basic_rig.ref(repo)).stdout.decode().split()) == set(tags)
        report = api.prune(reg, [repo], match=".*", keep=3, then=["true"])
    assert report.then is not None and report.then.exit_code == 0
    assert report.check is not None and report.check.ok and len(report.check.images) == 3
    assert report.ok and report.to_json()["then"]["exit_code"] == 0
