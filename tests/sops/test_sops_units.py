"""Pure functions of regkit.sops: Go number formats, yaml.v3 scalar rules, Shamir, metadata."""

from __future__ import annotations

import math

import pytest

from regkit.sops import SopsError
from regkit.sops.metadata import parse_metadata
from regkit.sops.shamir import combine
from regkit.sops.tree import go_format_f, go_format_g, go_json_float, parse_timestamp
from regkit.sops.yamlio import resolve_plain


@pytest.mark.parametrize(
    ("value", "f", "g", "js"),
    [
        (1.0, "1", "1", "1"),
        (0.1, "0.1", "0.1", "0.1"),
        (-0.0, "-0", "-0", "-0"),
        (1e-5, "0.00001", "1e-05", "0.00001"),
        (1.5e-7, "0.00000015", "1.5e-07", "1.5e-7"),
        (1e20, "100000000000000000000", "1e+20", "100000000000000000000"),
        (1e21, "1000000000000000000000", "1e+21", "1e+21"),
        (123456789.123, "123456789.123", "1.23456789123e+08", "123456789.123"),
        (100000.0, "100000", "100000", "100000"),
        (math.inf, "+Inf", "+Inf", None),
    ],
)
def test_go_float_formats(value: float, f: str, g: str, js: str | None) -> None:
    assert go_format_f(value) == f
    assert go_format_g(value) == g
    if js is not None:
        assert go_json_float(value) == js


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"), ("on", "on"), ("True", True), ("FALSE", False), ("~", None), ("", None),
        ("0x1F", 31), ("0o17", 15), ("0777", 511), ("08", 8.0), ("1_000", 1000), ("0b101", 5),
        ("+5", 5), ("-0b11", -3), ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0), ("1e400", "1e400"),
        ("12:30", "12:30"), ("9223372036854775808", 9223372036854775808), ("abc", "abc"),
    ],
)  # fmt: skip
def test_yaml_v3_plain_scalars(text: str, expected: object) -> None:
    value = resolve_plain(text)
    assert value == expected and type(value) is type(expected)


def test_yaml_special_floats() -> None:
    assert math.isnan(resolve_plain(".nan"))
    assert resolve_plain("-.Inf") == -math.inf


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("2024-01-02", "2024-01-02T00:00:00Z"),
        ("2024-1-2 3:04:05.50", "2024-01-02T03:04:05.5Z"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14T21:59:43.1-05:00"),
        ("2024-01-02T03:04:05.123456789+00:00", "2024-01-02T03:04:05.123456789Z"),
    ],
)
def test_yaml_timestamps(text: str, rendered: str) -> None:
    stamp = parse_timestamp(text, yaml_forms=True)
    assert stamp is not None and stamp.text == rendered


def test_space_separated_timestamp_with_zone_is_a_string() -> None:
    assert resolve_plain("2001-12-14 21:59:43.10 -5") == "2001-12-14 21:59:43.10 -5"


def _split(secret: bytes, xs: list[int], coefficients: list[list[int]]) -> list[bytes]:
    """Shares of a degree-1 polynomial per byte, evaluated with the same field (test helper)."""
    from regkit.sops.shamir import _mul

    shares = []
    for x in xs:
        ys = bytes(s ^ _mul(c[0], x) for s, c in zip(secret, coefficients, strict=True))
        shares.append(ys + bytes([x]))
    return shares


def test_shamir_any_two_of_three_recover_the_secret() -> None:
    secret = bytes(range(32))
    coefficients = [[(7 * i + 3) % 256 or 1] for i in range(32)]
    shares = _split(secret, [1, 2, 3], coefficients)
    for pair in ([0, 1], [1, 2], [0, 2]):
        assert combine([shares[i] for i in pair]) == secret
    assert combine(shares) == secret


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([b"\x01\x02"], "less than two"),
        ([b"\x01\x02", b"\x03\x02"], "duplicate"),
        ([b"\x01\x02", b"\x03\x04\x05"], "same length"),
    ],
)
def test_shamir_errors(parts: list[bytes], message: str) -> None:
    with pytest.raises(SopsError, match=message):
        combine(parts)


def test_metadata_is_read_loosely() -> None:
    meta = parse_metadata(
        {
            "lastmodified": "2024-01-02T03:04:05+01:00",
            "shamir_threshold": "2",
            "age": None,
            "key_groups": [{"age": [{"recipient": "age1x", "enc": "E"}]}, {"pgp": [{"fp": "F"}]}],
            "mac_only_encrypted": "true",
            "encrypted_regex": "^data$",
        }
    )
    assert meta.threshold == 2 and meta.mac_only_encrypted
    assert meta.rule == ("encrypted_regex", "^data$")
    assert meta.groups[1].describe() == "1 pgp key"
    assert meta.mac_aad() == "2024-01-02T03:04:05+01:00"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "not a SOPS-encrypted file"),
        ({"age": []}, "lastmodified is missing"),
        ({"lastmodified": "2024-01-01T00:00:00Z"}, "No keys found"),
        (
            {"lastmodified": "2024-01-01T00:00:00Z", "age": [{"recipient": "r", "enc": "e"}],
             "encrypted_regex": "a", "unencrypted_suffix": "b"},
            "more than one",
        ),
    ],
)  # fmt: skip
def test_metadata_errors(raw: object, message: str) -> None:
    with pytest.raises(SopsError, match=message):
        parse_metadata(raw)
