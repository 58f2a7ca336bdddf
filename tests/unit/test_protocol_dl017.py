"""The catalog protocol's shapes and tokens, without a server."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rastercat.errors import InvalidInput
from rastercat.protocol.dl017 import continuation
from rastercat.protocol.dl017.documents import flat_image, image_feature, iso
from rastercat.protocol.dl017.uploads import upload_doc


def test_iso_is_utc_with_its_offset_and_naive_means_utc() -> None:
    assert iso(None) is None
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05+00:00"
    east = timezone(timedelta(hours=2))
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=east)) == "2026-01-02T01:04:05+00:00"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006+00:00"


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"geometry": {"type": "Point", "coordinates": [1, 2]}, "cloud_fraction": 0.1},
        # Stored attributes that collide with what the feature sets: the feature's values win,
        # in the attribute's place; ``wkt`` and ``id`` never reach the properties.
        {"wkt": "POINT (1 2)", "id": "x", "modified": 3, "key": "other", "read": [], "z": 1},
        {
            "product": "elsewhere",
            "owners": "nobody",
            "geometry": None,
            "extra_properties": {"a": 1},
        },
    ],
)
@pytest.mark.parametrize(
    "modified",
    [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5),
     datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))],
)  # fmt: skip
def test_a_search_feature_is_the_flat_image_with_geometry_and_id_lifted_out(
    attrs: dict[str, object], modified: datetime
) -> None:
    row = {"id": "ns:p:k", "key": "k", "product_id": "ns:p", "attrs": attrs, "owners": ["user:ns"],
           "readers": ["group:g"], "writers": [], "modified": modified}  # fmt: skip
    flat = flat_image(row)
    geometry = flat.pop("geometry")
    del flat["id"]
    feature = image_feature(row)
    assert feature == {"type": "Feature", "id": "ns:p:k", "key": "k", "geometry": geometry,
                       "properties": flat}  # fmt: skip
    assert list(feature["properties"]) == list(flat)  # the same order on the wire
    assert feature["properties"]["modified"] == "2026-01-02T03:04:05+00:00"
    assert row["attrs"] is attrs and "geometry" not in feature["properties"]


def _upload_row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "status": "SUCCESS", "created": datetime(2026, 1, 1, tzinfo=UTC),
        "updated": datetime(2026, 1, 1, 0, 1), "attempts": 1, "product_id": "ns:p",
        "image_key": "k", "uid": "u1", "file_size": 10, "exception_name": None,
        "failure_type": None, "runtime": 1.5, "params": {}, "upload_id": "k.tif", "log": "",
    }  # fmt: skip
    row.update(over)
    return row


def test_upload_doc_uses_the_protocol_date_format() -> None:
    doc = upload_doc(_upload_row())
    assert doc["id"] == "k.tif" and doc["type"] == "upload"
    assert doc["attributes"]["created"] == "2026-01-01T00:00:00+00:00"
    assert doc["attributes"]["updated"] == "2026-01-01T00:01:00+00:00"
    assert "logs" not in doc["attributes"] and "sha256" not in doc["attributes"]
    full = upload_doc(_upload_row(params={"sha256": "ab"}), full=True)["attributes"]
    assert full["labels"] == ["ns:p", "k"] and full["sha256"] == "ab"


def test_upload_listing_tokens_round_trip_in_their_wire_form() -> None:
    token = continuation.encode_offset(200)
    assert json.loads(base64.urlsafe_b64decode(token)) == {"o": 200}
    assert continuation.decode_offset(token) == 200


@pytest.mark.parametrize("token", ["!", continuation.encode_offset(-1), "e30="])
def test_bad_upload_listing_tokens_name_the_field(token: str) -> None:
    with pytest.raises(InvalidInput) as err:
        continuation.decode_offset(token)
    assert err.value.field == "continuation_token"


def test_search_tokens_are_bound_to_their_query() -> None:
    token = continuation.encode("h1", offset=5)
    assert continuation.decode(token, "h1") == (5, None)
    keyset = continuation.encode("h1", after=(12.0, 3))
    assert continuation.decode(keyset, "h1") == (0, (12.0, 3))
    with pytest.raises(InvalidInput, match="another query"):
        continuation.decode(token, "h2")


def test_one_json_object_check() -> None:
    from rastercat.protocol.bodies import json_object

    assert json_object({"a": 1}) == {"a": 1}
    for body in ([], "x", None, 1):
        with pytest.raises(InvalidInput, match="the request body must be a JSON object"):
            json_object(body)


def test_search_request_keeps_the_body_and_checks_fields() -> None:
    from rastercat.protocol.dl017.requests import SearchRequest

    req = SearchRequest.parse({"limit": 3, "fields": ["cloud_fraction"]})
    assert req.body == {"limit": 3, "fields": ["cloud_fraction"]}
    assert req.fields == ["cloud_fraction"]
    assert SearchRequest.parse({}).fields is None
    for fields in ("cloud_fraction", [1], {"a": 1}):
        with pytest.raises(InvalidInput) as err:
            SearchRequest.parse({"fields": fields})
        assert err.value.field == "fields"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"z": 31}, "z"),
        ({"z": 1, "x": 2}, "x"),
        ({"fmt": "gif"}, "format"),
        ({"tilesize": 15}, "tilesize"),
        ({"tilesize": 1025}, "tilesize"),
        ({"colormap": "[[300, 0, 0]]"}, "colormap"),
        ({"rescale": ["0"]}, "rescale"),
        # The tile is checked first, then the format, then the size.
        ({"z": -1, "fmt": "gif", "tilesize": 0}, "z"),
        ({"fmt": "gif", "tilesize": 0}, "format"),
    ],
)
def test_tile_params_name_the_refused_field(query: dict[str, object], field: str) -> None:
    from rastercat.protocol.dl017.requests import TileParams

    args: dict[str, object] = {"z": 0, "x": 0, "y": 0, "fmt": "png", **query}
    z, x, y, fmt = (args.pop(k) for k in ("z", "x", "y", "fmt"))
    with pytest.raises(InvalidInput) as err:
        TileParams.parse(z, x, y, fmt, **args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_tile_params_parse_the_style() -> None:
    from rastercat.protocol.dl017.requests import TileParams
    from rastercat.raster.tiles import MAX_TILESIZE, MIN_TILESIZE

    tile = TileParams.parse(3, 1, 2, "PNG", bands=["red,green", "blue"], rescale=["0,10"],
                            colormap='{"1": [1, 2, 3]}', tilesize=512)  # fmt: skip
    assert (tile.z, tile.x, tile.y) == (3, 1, 2)
    assert tile.style.fmt == "png" and tile.style.bands == ("red", "green", "blue")
    assert tile.style.rescale == ((0.0, 10.0),) and tile.style.colormap == {1: (1, 2, 3, 255)}
    for size in (MIN_TILESIZE, MAX_TILESIZE):
        assert TileParams.parse(0, 0, 0, "png", tilesize=size).style.tilesize == size
