"""Reference parsing: the distribution grammar, and errors that name the wrong part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regkit.errors import InvalidReferenceError, RegkitError
from regkit.reference import (
    Reference,
    host_is_loopback,
    parse_reference,
    parse_repository,
    validate_tag,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reg.example.com/team/app:1a2b3c4", Reference("reg.example.com", "team/app", "1a2b3c4")),
        ("reg.example.com:5000/app", Reference("reg.example.com:5000", "app")),
        ("localhost/a/b/c:v1.2.3", Reference("localhost", "a/b/c", "v1.2.3")),
        ("127.0.0.1:5001/x@" + DIGEST, Reference("127.0.0.1:5001", "x", None, DIGEST)),
        (
            "r.io/x:t@" + DIGEST,
            Reference("r.io", "x", "t", DIGEST),
        ),
        ("r.io/a__b/c-d/e.f--g:T_9", Reference("r.io", "a__b/c-d/e.f--g", "T_9")),
        ("[::1]:5000/app:latest", Reference("[::1]:5000", "app", "latest")),
    ],
)
def test_parses_valid_references(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected
    assert str(parse_reference(text)) == text


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("", "empty"),
        ("r.io/Team/app:1", "'Team'"),
        ("r.io/app:" + "a" * 129, "129 characters"),
        ("r.io/app:latest; rm -rf /", "white space"),
        ("r.io/app:latest;rm", "invalid tag 'latest;rm'"),
        ("r.io/app@sha256:abc", "invalid digest"),
        ("r.io/app@md5:" + "a" * 32, "invalid digest"),
        ("r.io/app:.hidden", "must not start with . or -"),
        ("r.io//app", "path component ''"),
        ("r.io/app-:x", "'app-'"),
        ("team/app:1", "no registry host"),
        ("r.io:5000", "looks like a registry host"),
        ("r.io/app\n::set-output name=x::y", "white space"),
    ],
)
def test_invalid_references_name_the_wrong_part(text: str, part: str) -> None:
    with pytest.raises(InvalidReferenceError) as err:
        parse_reference(text)
    assert part in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_default_registry_and_tag() -> None:
    assert parse_reference("team/app", default_registry="r.io", default_tag="latest") == Reference(
        "r.io", "team/app", "latest"
    )
    with pytest.raises(InvalidReferenceError, match="add :TAG"):
        parse_reference("r.io/app", require_identifier=True)


def test_repository_refuses_tags() -> None:
    assert parse_repository("r.io/team/app").repository == "team/app"
    with pytest.raises(InvalidReferenceError):
        parse_repository("r.io/team/app:1")


def test_tag_lengths() -> None:
    assert validate_tag("a" * 128) == "a" * 128
    with pytest.raises(InvalidReferenceError, match="at most 128"):
        validate_tag("a" * 129)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.9.9", True),
        ("[::1]:5000", True),
        ("registry.example.com", False),
        ("10.0.0.1:5000", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert host_is_loopback(host) is loopback


@given(st.text(max_size=300))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        ref = parse_reference(text, default_registry="r.io")
    except RegkitError as err:
        assert "\n" not in str(err)
        return
    # A parsed reference always re-parses to itself, and holds only grammar-valid parts.
    assert ref.repository.islower() or not any(c.isalpha() for c in ref.repository)
    assert parse_reference(str(ref)) == ref


@given(
    st.from_regex(r"\A[a-z0-9]+(?:[._-][a-z0-9]+){0,2}(?:/[a-z0-9]+){0,2}\Z"),
    st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z"),
)
def test_round_trip(repo: str, tag: str) -> None:
    ref = parse_reference(f"r.io/{repo}:{tag}")
    assert (ref.repository, ref.tag) == (repo, tag)
