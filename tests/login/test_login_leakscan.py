"""The leak scanner itself: it must find every form of a leaked secret, and only leaks."""

from __future__ import annotations

import base64
import json

import pytest

from tests.leakscan import assert_masked_first, assert_no_secrets, find_leaks, forms

SECRET = "pw-Xy7+/secret"


@pytest.mark.parametrize(
    "leak",
    [
        SECRET,
        f"password is {SECRET}!",
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(f"user:{SECRET}".encode()).decode(),  # inside a longer encoding
        base64.b64encode(f"ab:{SECRET}".encode()).decode(),
        base64.b64encode(f"abc:{SECRET}:tail".encode()).decode(),
        base64.urlsafe_b64encode(f"u:{SECRET}".encode()).decode(),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        json.dumps({"p": 'quote"' + SECRET}),
        SECRET.encode().hex(),
    ],
)
def test_every_form_is_found(leak: str) -> None:
    with pytest.raises(AssertionError, match=r"stdout line 2"):
        assert_no_secrets({"stdout": f"fine\n{leak}\n"}, [SECRET])


def test_json_escaped_form_is_found() -> None:
    secret = 'a"b\\c-long'
    assert find_leaks({"f": json.dumps({"x": secret})}, [secret]) == [
        "f line 1: json-escaped of secret #1"
    ]


def test_mask_lines_are_allowed_and_clean_text_passes() -> None:
    text = f"::add-mask::{SECRET}\n::add-mask::{base64.b64encode(SECRET.encode()).decode()}\nok\n"
    assert_no_secrets({"stdout": text, "GITHUB_OUTPUT": "registry<<x\nhost\nx\n"}, [SECRET])


def test_a_line_of_a_multi_line_secret_is_found() -> None:
    key = "# created: 2024\n# public key: age1xyz\nAGE-SECRET-KEY-1ABCDEFGH\n"
    with pytest.raises(AssertionError, match="line 3 of secret #1"):
        assert_no_secrets({"stderr": "bad key AGE-SECRET-KEY-1ABCDEFGH here"}, [key])


def test_report_never_contains_the_secret() -> None:
    with pytest.raises(AssertionError) as info:
        assert_no_secrets({"stdout": SECRET}, [SECRET])
    assert SECRET not in str(info.value)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be scanned"):
        forms("abc")


def test_masked_first() -> None:
    assert_masked_first(f"::add-mask::{SECRET}\n::group::x\n", [SECRET])
    with pytest.raises(AssertionError, match="secret #1"):
        assert_masked_first(f"::group::x\n::add-mask::{SECRET}\n", [SECRET])
    with pytest.raises(AssertionError, match="secret #2"):
        assert_masked_first(f"::add-mask::{SECRET}\nhello\n", [SECRET, "other-secret"])
    # escaped as the toolkit writes it (a multi-line value)
    assert_masked_first("::add-mask::a%0Ab-long\n", ["a\nb-long"])
