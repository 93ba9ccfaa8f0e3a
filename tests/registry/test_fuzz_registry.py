"""Property tests of the registry-side parsers (issue 21): whatever a registry sends as a
manifest, an index, a tag list or catalog page, or a sequence of pages, reading it ends in a
result or one ``RegistryError``, within the limits (``regkit.defaults``), never another
exception (no TypeError, KeyError, RecursionError, endless loop)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regkit import defaults
from regkit.errors import RegistryError
from regkit.registry.client import PAGE_SIZE, PageWalk, page_names
from regkit.registry.manifest import (
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    json_depth,
    media_type_of,
    parse_json,
    pick_child,
    platforms_of,
    sha256_digest,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON values, deep and odd enough to reach every branch of the parsers.
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = ["mediaType", "manifests", "layers", "config", "annotations", "digest", "size", "platform"]
descriptor = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": json_values,
        "digest": st.just("sha256:" + "a" * 64) | json_values,
        "size": st.integers(min_value=-5, max_value=10**12) | json_values,
        "platform": st.fixed_dictionaries(
            {}, optional={"os": json_values, "architecture": json_values, "variant": json_values}
        )
        | json_values,
        "annotations": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
    },
)
manifest_docs = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": json_values,
        "mediaType": st.sampled_from([OCI_INDEX, OCI_MANIFEST, ""]) | json_values,
        "manifests": st.lists(descriptor, max_size=3) | json_values,
        "layers": st.lists(descriptor, max_size=3) | json_values,
        "config": descriptor | json_values,
        "annotations": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
    },
)


def _bodies(docs: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON documents, plus broken, deep and non-UTF-8 bytes."""
    return st.one_of(
        docs.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=200),
        st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(min_value=1, max_value=3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def _read_manifest(raw: bytes, media_type: str) -> None:
    manifest = Manifest(raw, media_type, sha256_digest(raw))
    _ = manifest.json, manifest.children, manifest.config, manifest.layers
    _ = manifest.annotations, manifest.image_size, manifest.descriptor()
    platforms_of(manifest)
    pick_child(manifest)
    pick_child(manifest, "linux/arm64")


@FAST
@given(_bodies(manifest_docs), st.sampled_from([OCI_INDEX, OCI_MANIFEST]), st.text(max_size=40))
def test_any_manifest_or_index_reads_or_fails_with_one_registry_error(
    raw: bytes, media_type: str, header: str
) -> None:
    try:
        media_type_of(raw, header or None)
        _read_manifest(raw, media_type)
    except RegistryError:
        pass


@FAST
@given(_bodies(json_values))
def test_parse_json_is_a_value_or_one_registry_error_and_never_too_deep(raw: bytes) -> None:
    try:
        parse_json(raw, "body")
    except RegistryError:
        return
    assert json_depth(raw) <= defaults.MAX_JSON_DEPTH


@FAST
@given(
    _bodies(
        st.fixed_dictionaries(
            {}, optional={"tags": st.lists(st.text(max_size=10)) | json_values, "name": json_values}
        )
    )
)
def test_any_tag_list_page_is_names_or_one_registry_error(raw: bytes) -> None:
    try:
        names = page_names(raw, "tags", "list tags of app: h")
    except RegistryError:
        return
    assert all(isinstance(n, str) for n in names)


# -- the walk over pages -------------------------------------------------------------------

page = st.tuples(
    st.lists(st.sampled_from([f"t{i}" for i in range(30)]), max_size=12),
    st.sampled_from([None, "/v2/app/tags/list?last=x", "/v2/app/tags/list?n=2"]),
)


@FAST
@given(st.lists(page, min_size=1, max_size=40), st.sampled_from([None, 3]))
def test_any_sequence_of_pages_ends_in_names_or_one_registry_error(
    pages: list[tuple[list[str], str | None]], asked: int | None
) -> None:
    walk = PageWalk("/v2/app/tags/list", "tags", "list tags of app", "h")
    walk.asked = asked
    url: str | None = walk.first_url()
    served = 0
    try:
        while url is not None:
            walk.count_page()
            names, link = pages[served % len(pages)]  # a registry that never stops
            served += 1
            url = walk.take(json.dumps({"tags": names}).encode(), link)
    except RegistryError:
        return
    assert len(walk.items) == len(set(walk.items))  # no name twice
    assert served <= defaults.MAX_PAGES
    assert walk.pages == served


@pytest.mark.parametrize("per_page", [1, PAGE_SIZE])
def test_a_walk_that_never_ends_stops_at_a_cap(per_page: int) -> None:
    walk = PageWalk("/v2/app/tags/list", "tags", "list tags of app", "h")
    k = 0
    with pytest.raises(RegistryError, match=r"limit on one list"):
        while True:
            walk.count_page()
            names = [f"p{k}-{i}" for i in range(per_page)]
            k += 1
            walk.take(json.dumps({"tags": names}).encode(), f"/v2/app/tags/list?k={k}")
    assert k <= defaults.MAX_PAGES
    assert len(walk.items) <= defaults.MAX_ITEMS
