"""Property-based fuzz of the whole HTTP API from its own OpenAPI document (schemathesis).

Every operation of the live server's ``/openapi.json`` is called with generated requests (valid and
invalid ones) carrying a valid token. Checks: no 5xx, the response conforms to the schema the
document declares for its status, and no answer takes longer than ``MAX_RESPONSE_SECONDS``.

Path parameters that name something (``pid``, ``image_id``, ``key``...) and a few query values take
seeded ids and drawable values most of the time (schemathesis dictionaries), so the handlers behind a
successful lookup are fuzzed too, not only their 404s; ``test_fuzz_reached_every_handler`` keeps it so.

Deterministic: a fixed seed, derandomized generation, no example database; the same code gives the
same requests. Bounded: ``MAX_EXAMPLES`` generated cases per operation (plus schemathesis's
deterministic coverage cases), about a minute and a half on two cores. ``RASTERCAT_FUZZ_EXAMPLES``
raises it for a longer hunt.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import max_response_time, not_a_server_error, response_schema_conformance

from live import LiveServer

from .conftest import Seeded

SEED = 20261204
MAX_EXAMPLES = int(os.environ.get("RASTERCAT_FUZZ_EXAMPLES", "25"))
MAX_RESPONSE_SECONDS = 10.0
#: How often a parameter bound to a dictionary takes one of its values rather than a generated one.
KNOWN_VALUE_PROBABILITY = 0.75

#: Operations not fuzzed, and why.
EXCLUDED = {
    # Step 2 of an upload: its body is a raw byte stream authorized by a single-use signed token in
    # the path, not by the Authorization header; a generated token is never valid, so the fuzz
    # could only reach the 404 of the token lookup. tests/uploads covers it with real tokens.
    "PUT /uploads/{token}": "signed single-use URL, raw byte stream",
}

KNOWN_500: dict[str, str] = {}
"""Operations allowed to answer 5xx, with the reason: none. (A defect found by the fuzz goes here
only while its fix is on its way, never silently.)"""

#: Operations that answer no 2xx to the fuzzing user by design, or whose schema is still too loose
#: for generated requests to get past validation (owned by other areas).
NO_SUCCESS_EXPECTED = {
    # The fuzzer is a writer, not an owner, of the seeded product: deleting is an owner's.
    "DELETE /metadata/v1/catalog/products/{pid}",
    "DELETE /metadata/v1/catalog/products/{pid}/bands/{name}",
    "DELETE /metadata/v1/catalog/products/{pid}/images/{key}",
    # rastercat has no derived bands (always 404); the local token is for the local user only.
    "GET /metadata/v1/bands/derived/{band_id}",
    "GET /viewer/v1/local-token",
    # Untyped JSON bodies (raster.py): nothing declares `ids`, `bands`, `shape`...
    "POST /raster/v1/npz",
    "POST /raster/v1/raster",
    "POST /raster/v1/dlkeys/from_shape",
    # Signed single-use-style URLs (the signature is in the query string and covers the object
    # and the expiry): generated signatures are never valid. tests/stac/test_assets.py covers them.
    "GET /stac/v1/assets/data.tif",
    "HEAD /stac/v1/assets/data.tif",
    "GET /stac/v1/assets/thumbnail.png",
    "HEAD /stac/v1/assets/thumbnail.png",
    # Nothing is registrable until an administrator sets RASTERCAT_REGISTER__ROOTS/__BUCKETS
    # (403 naming the setting); tests/register covers registration.
    "POST /metadata/v1/catalog/products/{pid}/images/register",
    # Generated records carry generated attribute names, which the image rules refuse (all or
    # nothing); tests/bulk covers valid batches.
    "POST /metadata/v1/catalog/products/{pid}/images/bulk",
    # Its required ``products`` list only sometimes takes the seeded product id (a dictionary value
    # fills list items unreliably), so whether a 2xx happens depends on the run's other tests;
    # tests/tiles/test_point_query.py covers its answers.
    "GET /raster/v1/point",
    # Resumable upload sessions are authorized by a signed token in the path, like step 2's PUT:
    # generated tokens are never valid (the fuzz still checks their answers); tests/resumable
    # covers them.
    "GET /uploads/multipart/{token}",
    "DELETE /uploads/multipart/{token}",
    "POST /uploads/multipart/{token}/urls",
    "POST /uploads/multipart/{token}/complete",
    "PUT /uploads/multipart/{token}/parts/{number}",
    # Its body must describe the file (size, part size) consistently with the limits; generated
    # bodies never do. tests/resumable covers it.
    "POST /metadata/v1/catalog/products/{pid}/images/multipart/{key}",
}

#: Status codes seen per operation label, for test_fuzz_reached_every_handler.
SEEN: dict[str, set[int]] = defaultdict(set)


def _config(seeded: Seeded) -> schemathesis.Config:
    z, x, y = seeded.tile
    dictionaries: dict[str, Any] = {}

    def known(name: str, values: list[Any]) -> dict[str, Any]:
        dictionaries[name] = {"values": values}
        return {"dictionary": name, "probability": KNOWN_VALUE_PROBABILITY}

    parameters = {
        "path.pid": known("pid", seeded.pids),
        "path.name": known("band_name", [*seeded.bands, seeded.band_ids[0]]),
        "path.image_id": known("image_id", seeded.image_ids),
        "path.band_id": known("band_id", seeded.band_ids),
        "path.upload_id": known("upload_id", seeded.uploads),
        "path.task_id": known("task_id", [seeded.task_id]),
        "path.z": known("z", [z, 0]),
        "path.x": known("x", [x, 0]),
        "path.y": known("y", [y, 0]),
        "path.fmt": known("fmt", ["png", "webp", "jpg"]),
        "path.cid": known("cid", seeded.pids),
        "path.iid": known("iid", seeded.image_ids),
        "query.products": known("products", [seeded.pid]),
        "query.lon": known("point_lon", [seeded.point[0]]),
        "query.lat": known("point_lat", [seeded.point[1]]),
        "path.lat": known("lat", [44.98]),
        "path.lon": known("lon", [10.03]),
        # Query values that draw something, so tiles and DLTiles get past their 400s.
        "query.resampling": known("resampling", ["near", "bilinear"]),
        "query.tilesize": known("tilesize", [256, 512]),
        "query.colormap": known("colormap", ["magma"]),
        "query.order": known("order", ["newest", "oldest"]),
        "query.resolution": known("resolution", [10.0, 60.0]),
    }
    operations = [
        # ``key`` is an image key, an upload's file name, or a DLTile key, by operation.
        {
            "include-path-regex": r"^/metadata/v1/catalog/products/\{pid\}/images/\{key\}$",
            "parameters": {"path.key": known("image_key", seeded.images)},
        },
        {
            "include-path-regex": r"/images/(upload|multipart)/\{key\}$",
            "parameters": {"path.key": known("upload_key", ["c.tif"])},
        },
        {
            "include-path-regex": r"^/viewer/v1/colormaps/\{name\}$",
            "parameters": {"path.name": known("colormap_name", ["magma", "viridis"])},
        },
        {
            "include-path-regex": r"^/raster/v1/dlkeys/\{key\}$",
            "parameters": {"path.key": known("dltile_key", [seeded.dltile_key])},
        },
        *({"include-name": label, "enabled": False} for label in sorted(EXCLUDED)),
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "dictionaries": dictionaries,
            "request-timeout": 60,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"max_response_time": MAX_RESPONSE_SECONDS},
            "parameters": parameters,
            "operations": operations,
        }
    )


@pytest.fixture(scope="module")
def api_schema(fuzz_server: LiveServer, seeded: Seeded) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", config=_config(seeded))


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.timeout(900)
@schema.parametrize()
def test_openapi_fuzz(case: Any, fuzz_server: LiveServer) -> None:
    response = case.call(headers={"Authorization": fuzz_server.token("fuzzer")})
    SEEN[case.operation.label].add(response.status_code)
    checks = [response_schema_conformance, max_response_time]
    if case.operation.label not in KNOWN_500:
        checks.append(not_a_server_error)
    case.validate_response(response, checks=checks)


def test_fuzz_reached_every_handler(fuzz_server: LiveServer) -> None:
    """Every documented operation was fuzzed (none left out silently), and each one got past its
    validation and lookups at least once: a fuzz answered only 400 and 404 tests very little."""
    if not SEEN:
        pytest.skip("runs after test_openapi_fuzz, in the same session")
    document = httpx_get_json(f"{fuzz_server.url}/openapi.json")
    labels = {
        f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops
    }
    assert labels - set(EXCLUDED) == set(SEEN)
    unsuccessful = {
        label
        for label, statuses in SEEN.items()
        if not any(200 <= s < 300 for s in statuses) and label not in NO_SUCCESS_EXPECTED
    }
    assert not unsuccessful, f"no 2xx from {sorted(unsuccessful)}: {dict(SEEN)}"


def httpx_get_json(url: str) -> Any:
    import httpx

    r = httpx.get(url, timeout=30)
    r.raise_for_status()
    return r.json()
