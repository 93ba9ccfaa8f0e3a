"""The JSON Schemas of regkit's JSON output (src/regkit/schemas), checked with jsonschema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("regkit.schemas").joinpath(f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def check_schema(name: str, document: Any) -> None:
    """Raise unless ``document`` follows ``src/regkit/schemas/NAME.schema.json``."""
    jsonschema.Draft202012Validator(load_schema(name)).validate(document)
