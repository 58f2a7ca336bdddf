"""Catalog, upload-result, raster, DLTile and tile routes answer odd values of every parameter
they know with a 4xx naming what is wrong, never a 500 (each key alone, values of every JSON type,
on a product with one ingested image)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from helpers import wait_for, write_geotiff

CAT = "/metadata/v1/catalog"
ODD = [5, -1, 0.5, 1e308, True, "x", "", [], [[1]], {"a": 1}, None, "2019-01-01", ["a", "b"]]
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 100],
        "type": "spectral"}  # fmt: skip


@pytest.fixture(scope="module")
def ingested(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    c = live_server.client("odd-catalog")
    pid = c.post(f"{CAT}/products", json={"id": "odd", "title": "T", "description": "D"})
    pid = pid.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    path = write_geotiff(tmp_path_factory.mktemp("odd") / "i.tif", np.ones((1, 16, 16), "uint16"))
    url = c.post(f"{CAT}/products/{pid}/images/upload/i.tif",
                 json={"process_controls": {"upload_type": "file"}}).text  # fmt: skip
    assert c.put(url, content=path.read_bytes()).status_code == 200
    wait_for(lambda: c.get(f"{CAT}/products/{pid}/images/i").status_code == 200, 60,
             what="the image")  # fmt: skip
    return c, pid


def _cases(pid: str) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    img = f"{pid}:i"
    raster = {"inputs": [img], "bands": ["b1"]}
    shape = json.dumps({"type": "Point", "coordinates": [1, 2]})
    return [
        ("POST", f"{CAT}/products", {"title": "t", "description": "d"},
         ["id", "title", "description", "read", "writers", "owners", "start_datetime",
          "resolution", "revisit_period_minutes", "tags", "set_global_permissions"]),
        ("PATCH", f"{CAT}/products/{pid}", {},
         ["title", "read", "writers", "owners", "set_global_permissions"]),
        ("POST", f"{CAT}/products/{pid}/bands", dict(BAND),
         [*BAND, "srcfile", "jpx_layer", "nodata", "color", "colormap_name", "colormap",
          "physical_range", "default_range", "wavelength_min", "read"]),
        ("PATCH", f"{CAT}/products/{pid}/bands/b1", {},
         ["nodata", "colormap", "colormap_name", "data_range", "dtype", "nbits", "srcband"]),
        ("POST", f"{CAT}/products/{pid}/images", {"acquired": "2019-01-01"},
         ["id", "acquired", "geometry", "cloud_fraction", "extra_properties", "file_sizes",
          "raster_size", "geotrans", "read", "bpp"]),
        ("PATCH", f"{CAT}/products/{pid}/images/i", {},
         ["acquired", "cloud_fraction", "extra_properties", "geometry", "read"]),
        ("POST", f"{CAT}/products/{pid}/images/upload/z.tif",
         {"process_controls": {"upload_type": "file"}},
         ["process_controls", "image_id", "acquired", "geotrans", "proj4", "wkt_srs",
          "overviews", "overview_resampler", "extra_properties", "multi"]),
        ("POST", f"{CAT}/products/{pid}/uploads", {},
         ["limit", "offset", "status", "created", "updated", "continuation_token"]),
        ("POST", "/raster/v1/npz", raster,
         ["inputs", "bands", "scales", "data_type", "resolution", "dimensions", "srs", "bounds",
          "bounds_srs", "cutline", "align_pixels", "resampler", "masked", "order", "dltile"]),
        ("POST", "/raster/v1/raster", dict(raster, output_format="GTiff"),
         ["output_format", "resolution", "dimensions", "srs", "bounds", "scales", "data_type"]),
        ("POST", "/raster/v1/dlkeys/from_shape",
         {"resolution": 960.0, "tilesize": 128, "pad": 8, "shape": shape},
         ["resolution", "tilesize", "pad", "shape", "maxtiles", "start_zone", "start_ti"]),
    ]  # fmt: skip


def test_odd_json_values_get_a_4xx(ingested: tuple[Any, str]) -> None:
    c, pid = ingested
    n = 0
    for method, path, base, keys in _cases(pid):
        for key in keys:
            for value in ODD:
                n += 1
                body = {**base, key: value}
                # Creations need fresh ids, unless the id is what is being tried.
                if path.endswith(("/products", "/bands", "/images")) and key not in ("id", "name"):
                    body["id" if not path.endswith("/bands") else "name"] = f"n{n}"
                r = c.request(method, path, json=body)
                assert r.status_code < 500, (method, path, key, value, r.text)
                if r.status_code >= 400:
                    assert r.json()["errors"][0]["detail"], (method, path, key, value)


def test_odd_tile_parameters_get_a_4xx(ingested: tuple[Any, str]) -> None:
    c, pid = ingested
    paths = [f"/tiles/v1/images/{pid}:i/3/4/2.png", f"/tiles/v1/products/{pid}/3/4/2.png",
             f"/tiles/v1/products/{pid}/tilejson.json"]  # fmt: skip
    for key in ("bands", "colormap", "rescale", "order", "start", "end", "format", "tilesize",
                "resampling"):  # fmt: skip
        for value in ("x", "-1", "0,", ",", "1e308", "nan", "a,b,c,d", "", "100000"):
            for path in paths:
                r = c.get(path, params={key: value})
                assert r.status_code < 500, (path, key, value, r.text)
