"""Property tests: whatever GitHub's Packages API sends (a version page, a ``Link`` header),
the packages client ends in a result or one ``RegkitError``, never another exception."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regkit.errors import RegkitError
from regkit.ghcr.rest import PackageVersion, next_page_url, parse_page

BASE = "https://api.github.com"
CURRENT = f"{BASE}/users/acme/packages/container/app/versions?per_page=100"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
# Versions shaped like GitHub's, with each field replaced by anything at times.
versions = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.integers(), json_values),
        "name": st.one_of(st.text(max_size=80), json_values),
        "created_at": st.one_of(st.just("2025-12-01T10:00:00Z"), st.text(max_size=30), json_values),
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "package_type": st.just("container"),
                    "container": st.one_of(
                        st.fixed_dictionaries(
                            {}, optional={"tags": st.one_of(st.lists(json_values), json_values)}
                        ),
                        json_values,
                    ),
                },
            ),
            json_values,
        ),
    },
)
pages = st.one_of(st.lists(st.one_of(versions, json_values), max_size=5), json_values)


@FUZZ
@given(pages)
def test_a_version_page_is_versions_or_one_error(data: Any) -> None:
    try:
        found = parse_page(data, "listing the versions of acme/app")
    except RegkitError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(found, list) and all(isinstance(v, PackageVersion) for v in found)
    for v in found:
        assert all(isinstance(t, str) for t in v.tags)
        v.to_json()  # what the JSON plan writes never fails either


link_parts = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda url, rel, extra: f"<{url}>; rel={rel}{extra}",
        st.one_of(
            st.just(f"{BASE}/users/acme/packages/container/app/versions?page=2"),
            st.just("http://api.github.com/x?page=2"),
            st.just("/users/acme/packages?page=3"),
            st.just("https://[::1/x"),
            st.just("https://api.github.com:99999/x"),
            st.just("https://evil.example/x"),
            st.text(max_size=60),
        ),
        st.sampled_from(['"next"', "next", '"last"', '"prev next"', '"NEXT"', "", '"']),
        st.text(max_size=10),
    ),
)
links = st.one_of(st.none(), st.lists(link_parts, max_size=4).map(", ".join), st.text())


@FUZZ
@given(links)
def test_a_link_header_is_a_next_url_on_the_api_or_none_or_one_error(link: str | None) -> None:
    try:
        target = next_page_url(link, CURRENT, BASE, "listing the versions of acme/app")
    except RegkitError as err:
        assert "\n" not in str(err)
        return
    if target is not None:  # never anywhere else than the API's origin
        parts = urlsplit(target)
        assert parts.scheme.lower() == "https" and parts.hostname == "api.github.com"
        assert parts.port in (None, 443)


def test_known_shapes() -> None:
    """The examples the property found (kept so they stay fixed)."""
    page = parse_page([{"id": 1, "metadata": {"container": {"tags": 5}}}], "x")
    assert page[0].tags == ()
    for bad in ("https://[::1/x", "https://api.github.com:99999/x", "HTTPS://API.GITHUB.COM:65536"):
        with pytest.raises(RegkitError):
            next_page_url(f"<{bad}>;REL=NEXT", CURRENT, BASE, "x")
