"""One -o/--output table|json|markdown on every verb that prints data, --json and --format as
aliases, snake_case keys everywhere, every JSON shape checked against its JSON Schema
(src/regkit/schemas, shipped as package data)."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.schemas import check_schema, load_schema

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def _keys(value: Any) -> set[str]:
    """Every key of every object in ``value``, except label maps (their keys are data)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found.add(k)
            if k != "labels":
                found |= _keys(v)
    elif isinstance(value, list):
        for item in value:
            found |= _keys(item)
    return found


def test_every_schema_is_a_valid_schema_and_shipped() -> None:
    names = sorted(
        p.name.removesuffix(".schema.json")
        for p in resources.files("regkit.schemas").iterdir()
        if p.name.endswith(".schema.json")
    )
    assert names == [
        "catalog",
        "check",
        "delete",
        "inspect",
        "ls",
        "overview",
        "promote",
        "prune",
        "sync",
    ]
    for name in names:
        load_schema(name)


@rig_shapes(PRODUCTION)
def test_json_of_every_data_verb_follows_its_schema(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    pusher.push_image(repo, ["1a2b3c4", "latest"], "oci-index")
    pusher.push_image(repo, ["0000001"])
    ref = rig.ref(repo, "1a2b3c4")
    documents = {
        "catalog": ("catalog", rig.host),
        "ls": ("ls", rig.ref(repo)),
        "inspect": ("inspect", ref),
        "overview": ("overview", rig.ref(repo)),
        "promote": ("promote", ref, "v1"),
        "sync": ("sync", rig.ref(repo), rig.ref(f"{repo_prefix}/mirror")),
        "prune": ("prune", rig.ref(repo), "--keep", "1", "--dry-run"),
    }
    for name, args in documents.items():
        out = regkit(*args, "-o", "json", env=rig.env())
        assert out.returncode == 0, (name, out.stderr.decode())
        doc = json.loads(out.stdout)
        check_schema(name, doc)
        assert all(SNAKE.match(k) for k in _keys(doc)), (name, _keys(doc))


@pytest.mark.parametrize(
    "verb",
    [("ls",), ("overview",), ("inspect",), ("prune", "--keep", "1", "--dry-run")],
)
@rig_shapes(PRODUCTION)
def test_json_and_format_are_aliases_of_output(
    rig: Rig, repo_prefix: str, verb: tuple[str, ...]
) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, ["1a2b3c4", "0000001"])
    target = rig.ref(repo, "1a2b3c4") if verb[0] == "inspect" else rig.ref(repo)
    runs = [
        regkit(verb[0], target, *verb[1:], *flags, env=rig.env())
        for flags in (("-o", "json"), ("--output", "json"), ("--json",), ("--format", "json"))
    ]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert len({r.stdout for r in runs}) == 1
    md = regkit(verb[0], target, *verb[1:], "-o", "markdown", env=rig.env())
    assert md.returncode == 0, md.stderr
    assert b"| " in md.stdout or md.stdout.startswith(b"- `")


@rig_shapes(PRODUCTION)
def test_promote_json_is_snake_case_without_redundant_keys(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    image = rig.pusher().push_image(repo, ["1a2b3c4"])
    out = regkit("promote", rig.ref(repo, "1a2b3c4"), "v1", "-o", "json", env=rig.env())
    doc = json.loads(out.stdout)
    assert doc["targets"] == [
        {"reference": rig.ref(repo, "v1"), "action": "create", "old_digest": None}
    ]
    assert doc["digest"] == image.digest
    assert (doc["dry_run"], doc["promoted"]) == (False, True)


@rig_shapes(PRODUCTION)
def test_delete_json(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    image = rig.pusher().push_image(repo, ["1a2b3c4", "latest"])
    dry = regkit("delete", rig.ref(repo, image.digest), "--dry-run", "-o", "json", env=rig.env())
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    check_schema("delete", doc)
    assert (doc["kind"], doc["digest"], sorted(doc["tags"])) == (
        "manifest",
        image.digest,
        ["1a2b3c4", "latest"],
    )
    assert (doc["dry_run"], doc["deleted"]) == (True, False)
    env = rig.env(REGKIT_REGISTRY=rig.host)
    out = regkit("delete", f"{repo}:1a2b3c4", "--json", env=env)  # REGKIT_REGISTRY serves it
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    check_schema("delete", doc)
    assert (doc["kind"], doc["tags"], doc["deleted"]) == ("tag", ["1a2b3c4"], True)
    assert regkit("ls", rig.ref(repo), env=rig.env()).stdout == b"latest\n"
