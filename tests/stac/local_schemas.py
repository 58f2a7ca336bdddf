"""A URL -> JSON schema map of everything the validators ask for, served from local files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "schemas"
EXTENSIONS = {
    "https://stac-extensions.github.io/projection/v1.2.0/schema.json": "projection/v1.2.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json": "raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json": "eo/v1.1.0/schema.json",
}


def schema_map() -> dict[str, dict[str, Any]]:
    from pystac.validation.local_validator import get_local_schema_cache

    out = dict(get_local_schema_cache())
    for url, path in EXTENSIONS.items():
        out[url] = json.loads((HERE / path).read_text())
    return out


def pystac_validator() -> Any:
    """pystac's JSON-schema validator, with its cache holding every schema (no fetching)."""
    from pystac.validation import JsonSchemaSTACValidator

    validator = JsonSchemaSTACValidator()
    validator.schema_cache.update(schema_map())
    return validator
