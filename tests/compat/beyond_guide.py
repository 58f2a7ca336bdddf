"""Beyond the guide's own calls: the rest of the Catalog methods, Metadata, Raster and Scenes,
through the descarteslabs 0.17.3 client (sections of guide_workflow.py)."""

from __future__ import annotations

import json
import os
import tempfile

import descarteslabs as dl
import numpy as np
from descarteslabs.client.exceptions import BadRequestError, ConflictError, NotFoundError
from dl_common import (
    add_blue_band,
    blue_product,
    check_pixels,
    expected,
    new_product,
    read_tiff,
    step,
)


def section_catalog_crud(cat: dl.Catalog) -> None:
    """The guide: "It's also possible to create, edit, and delete both products and bands through the
    Catalog": the rest of the Catalog methods, and metadata-only images."""
    s = "catalog-crud"
    product_id = new_product(cat, "crud")
    r = cat.replace_product(
        product_id, title="Replaced", description="new description", resolution=15
    )
    attrs = r["data"]["attributes"]
    assert attrs["title"] == "Replaced" and attrs["description"] == "new description", attrs
    r = cat.change_product(product_id, notes="some notes")
    assert r["data"]["attributes"]["notes"] == "some notes"
    assert r["data"]["attributes"]["title"] == "Replaced"
    step(s, "replace_product and change_product")

    add_blue_band(cat, product_id)
    r = cat.replace_band(
        product_id, "blue", srcband=1, dtype="Byte", nbits=8, data_range=[0, 255], type="spectral"
    )
    attrs = r["data"]["attributes"]
    assert attrs["dtype"] == "Byte" and attrs["data_range"] == [0, 255], attrs
    assert "physical_range" not in attrs or attrs["physical_range"] is None, attrs
    cat.remove_band(product_id, "blue")
    try:
        cat.get_band(product_id, "blue")
        raise AssertionError("a removed band is still found")
    except NotFoundError:
        pass
    step(s, "replace_band and remove_band")

    r = cat.add_image(
        product_id, "meta-only", acquired="2018-01-01T00:00:00+00:00", cloud_fraction=0.2
    )
    image_id = r["data"]["id"]
    assert image_id == product_id + ":meta-only", image_id
    got = cat.get_image(product_id, image_id)["data"]["attributes"]
    assert got["cloud_fraction"] == 0.2 and got["acquired"].startswith("2018-01-01T00:00:00")
    assert cat.get_image(product_id, "meta-only")["data"]["id"] == image_id
    r = cat.replace_image(product_id, "meta-only", acquired="2019-01-01T00:00:00+00:00")
    assert r["data"]["attributes"].get("cloud_fraction") is None, r
    r = cat.change_image(product_id, image_id, cloud_fraction=0.3)
    assert r["data"]["attributes"]["cloud_fraction"] == 0.3
    assert r["data"]["attributes"]["acquired"].startswith("2019-01-01T00:00:00")
    assert dl.Metadata().get(image_id)["cloud_fraction"] == 0.3
    step(s, "add_image, get_image (by key and by full id), replace_image, change_image")

    try:
        cat.add_image(product_id, "meta-only")
        raise AssertionError("a duplicate image was accepted")
    except ConflictError:
        pass
    cat.remove_image(product_id, image_id)
    for call in (lambda: cat.get_image(product_id, image_id), lambda: dl.Metadata().get(image_id)):
        try:
            call()
            raise AssertionError("a removed image is still found")
        except NotFoundError:
            pass
    step(s, "remove_image; the image is gone from Catalog and Metadata")

    assert cat.remove_product(product_id) is None
    step(s, "remove_product of the emptied product")


def section_metadata(cat: dl.Catalog) -> None:
    s = "metadata"
    product_id = blue_product(cat, "search", files=("blue", "blue-east"))
    ids = [product_id + ":blue", product_id + ":blue-east"]
    cat.change_image(product_id, ids[0], acquired="2018-01-01T00:00:00Z", cloud_fraction=0.1)
    cat.change_image(product_id, ids[1], acquired="2018-02-01T00:00:00Z", cloud_fraction=0.5)
    md = dl.Metadata()

    fc = md.search(products=[product_id], limit=10)
    assert [f["id"] for f in fc["features"]] == ids, fc
    assert fc["features"][0]["properties"]["key"] == "blue"
    fc = md.search(products=[product_id], q=[dl.properties.cloud_fraction < 0.3])
    assert [f["id"] for f in fc["features"]] == ids[:1], fc
    fc = md.search(products=[product_id], start_datetime="2018-01-15", end_datetime="2018-03-01")
    assert [f["id"] for f in fc["features"]] == ids[1:], fc
    west = {
        "type": "Polygon",
        "coordinates": [
            [[73.47, 50.505], [73.475, 50.505], [73.475, 50.509], [73.47, 50.509], [73.47, 50.505]]
        ],
    }
    fc = md.search(products=[product_id], geom=json.dumps(west))
    assert [f["id"] for f in fc["features"]] == ids[:1], fc
    fc = md.search(products=[product_id], sort_field="acquired", sort_order="desc", limit=1)
    assert [f["id"] for f in fc["features"]] == ids[1:], fc
    step(s, "Metadata.search by product, q, dates, geom, sort and limit")

    assert sorted(md.ids(products=[product_id])) == sorted(ids)
    feats = list(md.features(products=[product_id], batch_size=1))
    assert sorted(f["id"] for f in feats) == sorted(ids), feats
    step(s, "Metadata.ids and Metadata.features (paged with batch_size=1)")

    summary = md.summary(products=[product_id])
    assert summary["count"] == 2 and summary["products"] == [product_id], summary
    months = md.summary(products=[product_id], interval="month", pixels=True)
    assert [i["count"] for i in months["items"]] == [1, 1], months
    assert months["pixels"] == 2 * 64 * 48, months
    step(s, "Metadata.summary with and without interval/pixels")

    one = md.get(ids[0])
    assert one["id"] == ids[0] and one["product"] == product_id and one["key"] == "blue"
    assert one["raster_size"] == [64, 48] and one["geometry"]["type"] == "Polygon"
    assert md.get_product(product_id)["id"] == product_id
    assert md.get_band(product_id + ":blue")["dtype"] == "UInt16"
    assert list(md.get_bands_by_id(ids[0])) == [product_id + ":blue"]
    assert [p["id"] for p in md.products(bands=["blue"]) if p["id"] == product_id] == [product_id]
    try:
        md.get(product_id + ":nope")
        raise AssertionError("an unknown image was found")
    except NotFoundError:
        pass
    step(s, "Metadata.get, get_product, get_band, get_bands_by_id, products; 404 for unknown")

    fc = md.search(products=[product_id], q=[dl.properties.key == "blue-east"])
    assert [f["id"] for f in fc["features"]] == ids[1:], fc
    # fields projection (protocol §3.3): "key" is a top-level key; other names are properties
    fc = md.search(products=[product_id], fields=["id", "key"], limit=10)
    assert sorted(f["key"] for f in fc["features"]) == ["blue", "blue-east"], fc
    assert "cloud_fraction" not in fc["features"][0].get("properties", {}), fc
    fc = md.search(products=[product_id], fields=["cloud_fraction"], limit=10)
    assert sorted(f["properties"]["cloud_fraction"] for f in fc["features"]) == [0.1, 0.5], fc
    assert all(set(f["properties"]) == {"cloud_fraction"} for f in fc["features"]), fc
    first = md.paged_search(products=[product_id], limit=1)
    token = first["properties"]["continuation_token"]
    assert len(first["features"]) == 1 and token, first
    second = md.paged_search(products=[product_id], limit=1, continuation_token=token)
    seen = {first["features"][0]["id"], second["features"][0]["id"]}
    assert len(second["features"]) == 1 and seen == set(ids), second
    step(s, "Metadata.search with properties.key ==, fields=[...], and paged_search pages")

    got = md.get_by_ids([ids[1], product_id + ":nope", ids[0]])
    assert [g["id"] for g in got] == [ids[1], ids[0]], got
    try:
        md.get_by_ids([product_id + ":nope"], ignore_not_found=False)
        raise AssertionError("ignore_not_found=False did not raise")
    except NotFoundError:
        pass
    assert [b["id"] for b in md.bands(products=[product_id])] == [product_id + ":blue"]
    assert list(md.get_bands_by_product(product_id)) == [product_id + ":blue"]
    assert product_id in md.available_products()
    step(s, "get_by_ids keeps the order; bands, get_bands_by_product, available_products")


def section_raster(cat: dl.Catalog) -> None:
    s = "raster"
    product_id = blue_product(cat, "raster", files=("blue", "blue-east"))
    ids = [product_id + ":blue", product_id + ":blue-east"]
    raster = dl.Raster()
    both = np.concatenate([expected("blue"), expected("blue-east")], axis=1)
    bounds = (391395.0, 5595810.0, 393315.0, 5596530.0)
    arr, meta = raster.ndarray(
        ids, bands=["blue"], srs="EPSG:32643", resolution=15, bounds=bounds, bounds_srs="EPSG:32643"
    )
    check_pixels(arr, both, "Raster.ndarray over two adjacent images")
    assert meta["geoTransform"] == [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0], meta
    step(s, "Raster.ndarray([two adjacent images]) mosaics them exactly, 2-D for one band")

    arr, _ = raster.ndarray(
        ids,
        bands=["blue"],
        srs="EPSG:32643",
        dimensions=(64, 24),
        bounds=bounds,
        bounds_srs="EPSG:32643",
        data_type="Float32",
    )
    assert arr.shape == (24, 64) and arr.dtype == np.float32, (arr.shape, arr.dtype)
    step(s, "Raster.ndarray with dimensions and data_type=Float32")

    out = raster.raster(
        ids,
        bands=["blue"],
        srs="EPSG:32643",
        resolution=15,
        bounds=bounds,
        bounds_srs="EPSG:32643",
        output_format="GTiff",
    )
    assert len(out["files"]) == 1, list(out["files"])
    name, data = next(iter(out["files"].items()))
    assert name.endswith(".tif") and data[:4] in (b"II*\x00", b"MM\x00*"), name
    assert out["metadata"]["size"] == [128, 48], out["metadata"]
    tif = read_tiff(data)
    check_pixels(tif["pixels"], both, "Raster.raster GeoTIFF pixels")
    assert tif["scale"][:2] == (15.0, 15.0), tif
    assert tif["tiepoint"][3:5] == (391395.0, 5596530.0), tif
    assert tif["epsg"] == 32643, tif
    step(s, f"Raster.raster returns one GeoTIFF file ({name}, {len(data)} bytes)")

    west = {
        "type": "Polygon",
        "coordinates": [
            [[73.40, 50.40], [73.4818, 50.40], [73.4818, 50.60], [73.40, 50.60], [73.40, 50.40]]
        ],
    }
    arr, _ = raster.ndarray(
        ids,
        bands=["blue"],
        srs="EPSG:32643",
        resolution=15,
        bounds=bounds,
        bounds_srs="EPSG:32643",
        cutline=west,
    )
    assert arr.shape == (48, 128)
    assert (arr[:, :60] == both[:, :60]).all() and (arr[:, 68:] == 0).all(), "cutline"
    step(s, "Raster.ndarray with a cutline keeps the inside and zeroes the outside")

    stack, metas = raster.stack(
        ids, bands=["blue"], srs="EPSG:32643", resolution=15, bounds=bounds, bounds_srs="EPSG:32643"
    )
    assert stack.shape == (2, 48, 128, 1) and stack.dtype == np.uint16, stack.shape
    assert (stack[0, :, :64, 0] == expected("blue")).all() and (stack[0, :, 64:] == 0).all()
    assert (stack[1, :, 64:, 0] == expected("blue-east")).all() and len(metas) == 2
    step(s, "Raster.stack gives one (y, x, band) layer per image")

    png = raster.raster(
        ids,
        bands=["blue"],
        srs="EPSG:32643",
        resolution=15,
        bounds=bounds,
        bounds_srs="EPSG:32643",
        output_format="PNG",
        data_type="Byte",
        scales=[[0, 10000, 0, 255]],
    )
    name, data = next(iter(png["files"].items()))
    assert name.endswith(".png") and data[:8] == b"\x89PNG\r\n\x1a\n", name
    step(s, "Raster.raster(output_format='PNG', scales, data_type='Byte')")

    scaled, _ = raster.ndarray(
        ids,
        bands=["blue"],
        srs="EPSG:32643",
        resolution=15,
        bounds=bounds,
        bounds_srs="EPSG:32643",
        data_type="Byte",
        scales=[[0, 10000, 0, 100]],
    )
    assert scaled.dtype == np.uint8 and scaled.max() <= 100, (scaled.dtype, scaled.max())
    want = np.round(both.astype(np.float64) * 100 / 10000)
    assert np.abs(scaled.astype(np.float64) - want).max() <= 1, "scales"
    step(s, "Raster.ndarray with scales=[[0, 10000, 0, 100]] and data_type='Byte'")

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            raster.raster(ids[:1], bands=["blue"], save=True, outfile_basename="saved")
            assert os.listdir(tmp) == ["saved.tif"], os.listdir(tmp)
            with open("saved.tif", "rb") as f:
                assert f.read(4) in (b"II*\x00", b"MM\x00*")
        finally:
            os.chdir(cwd)
    step(s, "Raster.raster(save=True, outfile_basename='saved') writes saved.tif")

    try:
        raster.ndarray([product_id + ":nope"], bands=["blue"], resolution=15)
        raise AssertionError("an unknown image id was rasterized")
    except NotFoundError:
        pass
    try:
        raster.ndarray(
            ids,
            bands=["blue"],
            srs="EPSG:32643",
            resolution=-15,
            bounds=bounds,
            bounds_srs="EPSG:32643",
        )
        raise AssertionError("a negative resolution was accepted")
    except BadRequestError:
        pass
    step(s, "unknown ids give NotFoundError, bad parameters BadRequestError")


def section_scenes(cat: dl.Catalog) -> None:
    s = "scenes"
    product_id = blue_product(cat, "scenes", files=("blue", "blue-east"))
    # scenes.search takes its default resolution from the bands' `resolution`
    cat.change_band(product_id, "blue", resolution=15, resolution_unit="m")
    geom = {
        "type": "Polygon",
        "coordinates": [
            [[73.47, 50.505], [73.49, 50.505], [73.49, 50.509], [73.47, 50.509], [73.47, 50.505]]
        ],
    }
    scenes, gctx = dl.scenes.search(geom, products=[product_id], limit=10)
    assert sorted(sc.properties.id for sc in scenes) == [
        product_id + ":blue",
        product_id + ":blue-east",
    ]
    assert gctx.resolution == 15.0 and gctx.crs == "EPSG:32643", gctx
    step(s, "dl.scenes.search(geometry, products=[...]) finds both scenes; ctx from the bands")
    first = [sc for sc in scenes if sc.properties.key == "blue"][0]

    # A UTM AOI on the images' own grid (an AOI needs WGS84 bounds or a geometry to search).
    ctx = dl.scenes.AOI(
        bounds=(391395.0, 5595810.0, 393315.0, 5596530.0),
        bounds_crs="EPSG:32643",
        crs="EPSG:32643",
        resolution=15,
        align_pixels=False,
    )

    mosaic = scenes.mosaic("blue", ctx, mask_alpha=False)
    want = np.concatenate([expected("blue"), expected("blue-east")], axis=1)[np.newaxis]
    check_pixels(mosaic, want, "SceneCollection.mosaic")
    step(s, "SceneCollection.mosaic('blue', ctx) joins both images exactly")

    # The usual Scenes AOI: a WGS84 geometry (a cutline), UTM output, aligned pixels (-tap).
    # The images' grid is a multiple of 15 m, so the aligned output is a window of it.
    aoi = dl.scenes.AOI(geometry=geom, resolution=15, crs="EPSG:32643")
    cut, info = first.ndarray("blue", aoi, mask_alpha=False, raster_info=True)
    gt = info["geoTransform"]
    col0, row0 = int((gt[0] - 391395.0) / 15), int((5596530.0 - gt[3]) / 15)
    assert gt[1] == 15.0 and gt[5] == -15.0 and (col0, row0) >= (0, 0), gt
    assert (gt[0] - 391395.0) % 15 == 0 and (5596530.0 - gt[3]) % 15 == 0, gt
    blue = np.zeros((48, 256), np.uint16)  # the blue image, padded to the east
    blue[:, :64] = expected("blue")
    window = blue[row0 : row0 + cut.shape[1], col0 : col0 + cut.shape[2]]
    inside = cut.data[0] != 0
    assert inside.sum() > 0.5 * window.size, inside.sum()
    assert (cut.data[0][inside] == window[inside]).all(), "AOI pixels differ from the file's"
    step(s, "scene.ndarray with a geometry AOI: aligned pixels, the file's values inside")

    stack = scenes.stack("blue", ctx, mask_alpha=False)
    assert stack.shape == (2, 1, 48, 128), stack.shape
    step(s, "SceneCollection.stack gives one layer per scene")

    east_only = {
        "type": "Polygon",
        "coordinates": [
            [[73.488, 50.505], [73.49, 50.505], [73.49, 50.509], [73.488, 50.509], [73.488, 50.505]]
        ],
    }
    found, _ = dl.scenes.search(east_only, products=[product_id])
    assert [sc.properties.id for sc in found] == [product_id + ":blue-east"], found
    # (dest must be a file name: with a directory the 0.17.3 client raises ValueError("Unknown
    # format '<built-in function format>'") before any request -- a client bug)
    path = os.path.join(tempfile.mkdtemp(), "blue.tif")
    assert first.download("blue", first.default_ctx(), dest=path) == path
    with open(path, "rb") as f:
        check_pixels(read_tiff(f.read())["pixels"], expected("blue"), "Scene.download pixels")
    path = os.path.join(tempfile.mkdtemp(), "mosaic.tif")
    scenes.download_mosaic("blue", ctx, dest=path)
    with open(path, "rb") as f:
        tif = read_tiff(f.read())
    check_pixels(tif["pixels"], want[0], "download_mosaic pixels")
    assert tif["epsg"] == 32643 and tif["tiepoint"][3:5] == (391395.0, 5596530.0), tif
    step(s, "search by a geometry over one image finds only it; download_mosaic writes a GeoTIFF")
