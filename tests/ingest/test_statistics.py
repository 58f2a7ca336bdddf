"""Per-band statistics at ingest: computed from the COG (an overview when large), valid pixels only,
stored with the image and returned by the image API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from rastercat.ingest import BandSpec, IngestRequest, process
from rastercat.ingest.stats import STATS_SIDE, _overview_level

KEYS = ["srcfile", "srcband", "min", "max", "mean", "stddev", "p2", "p98"]


def expected(values: np.ndarray, srcfile: int = 0, srcband: int = 1) -> dict[str, Any]:
    v = values.astype("float64").ravel()
    p2, p98 = np.percentile(v, [2, 98])
    return {"srcfile": srcfile, "srcband": srcband, "min": v.min(), "max": v.max(),
            "mean": v.mean(), "stddev": v.std(), "p2": p2, "p98": p98}  # fmt: skip


def assert_stats(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == KEYS
    assert got["srcfile"] == want["srcfile"] and got["srcband"] == want["srcband"]
    for key in KEYS[2:]:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9), key


def run(files: list[Path], bands: list[BandSpec], work_dir: Path, limits: Any, **kw: Any) -> Any:
    lines: list[str] = []
    res = process(
        IngestRequest("file", tuple(files), tuple(bands), **kw), work_dir, limits, log=lines.append
    )
    return res, lines


def ramp(rows: int, cols: int, scale: int = 1, offset: int = 0) -> np.ndarray:
    return (np.arange(rows * cols).reshape(rows, cols) * scale + offset).astype("uint16")


def test_single_band_known_values_and_logged_time(write_tif, work_dir, limits):
    arr = ramp(50, 40)  # 0 .. 1999, each once
    res, lines = run([write_tif("blue.tif", arr)], [BandSpec("blue", 1)], work_dir, limits)
    [stats] = res.attributes["statistics"]
    assert_stats(stats, expected(arr))
    assert stats["min"] == 0 and stats["max"] == 1999 and stats["mean"] == 999.5
    assert stats["p2"] == pytest.approx(0.02 * 1999) and stats["p98"] == pytest.approx(0.98 * 1999)
    assert any(line.startswith("statistics in ") and line.endswith(" s") for line in lines)


def test_nodata_pixels_are_left_out(write_tif, work_dir, limits):
    arr = ramp(40, 40, offset=100)
    arr[:10] = 0  # a quarter of the raster is nodata
    src = write_tif("nodata.tif", arr, nodata=0)
    res, _ = run([src], [BandSpec("blue", 1)], work_dir, limits)
    [stats] = res.attributes["statistics"]
    assert_stats(stats, expected(arr[10:]))
    assert stats["min"] == 100 + 400  # the first valid pixel, not the nodata 0


def test_band_nodata_from_the_catalog_is_left_out(write_tif, work_dir, limits):
    arr = ramp(30, 30, offset=1)
    arr[5, 5] = 65535
    src = write_tif("fill.tif", arr)  # the file has no nodata; the product's band says 65535
    res, _ = run([src], [BandSpec("blue", 1, nodata=65535)], work_dir, limits)
    assert res.attributes["statistics"][0]["max"] == float(np.sort(arr.ravel())[-2])


def test_multi_band_file_with_alpha_masks_every_band(write_tif, work_dir, limits):
    blue, red = ramp(32, 32, offset=10), ramp(32, 32, scale=3)
    alpha = np.ones((32, 32), "uint16")
    alpha[:, :8] = 0  # the left quarter is outside the image
    src = write_tif("scene.tif", np.stack([blue, red, alpha]))
    bands = [BandSpec("blue", 1), BandSpec("red", 2), BandSpec("alpha", 3, nbits=1)]
    res, _ = run([src], bands, work_dir, limits)
    blue_s, red_s, alpha_s = res.attributes["statistics"]
    assert_stats(blue_s, expected(blue[:, 8:], srcband=1))
    assert_stats(red_s, expected(red[:, 8:], srcband=2))
    assert alpha_s["srcband"] == 3 and alpha_s["min"] == alpha_s["max"] == 1


def test_multi_file_keys_follow_the_product_bands(write_tif, work_dir, limits):
    a, b = ramp(20, 20), ramp(20, 20, scale=2, offset=5)
    files = [write_tif("a.tif", a), write_tif("b.tif", np.stack([a, b]))]
    bands = [BandSpec("red", 2, srcfile=1), BandSpec("blue", 1, srcfile=0)]
    res, _ = run(files, bands, work_dir, limits)
    red_s, blue_s = res.attributes["statistics"]
    assert_stats(red_s, expected(b, srcfile=1, srcband=2))
    assert_stats(blue_s, expected(a, srcfile=0, srcband=1))


def test_float_nan_and_all_nodata_bands(write_tif, work_dir, limits):
    values = np.linspace(-1, 1, 400, dtype="float32").reshape(20, 20)
    values[0, :5] = np.nan
    empty = np.full((20, 20), -9999, "float32")
    src = write_tif("f.tif", np.stack([values, empty]))
    bands = [
        BandSpec("ndvi", 1, dtype="Float32"),
        BandSpec("gone", 2, dtype="Float32", nodata=-9999),
    ]
    res, _ = run([src], bands, work_dir, limits)
    ndvi, gone = res.attributes["statistics"]
    assert_stats(ndvi, expected(values[~np.isnan(values)]))
    assert gone == {"srcfile": 0, "srcband": 2, **dict.fromkeys(KEYS[2:])}


def test_large_raster_uses_an_overview(write_tif, work_dir, limits):
    side = 2 * STATS_SIDE + 512  # overviews 2, 4, ...: the 4x one is the first within STATS_SIDE
    arr = np.full((side, side), 1000, "uint16")
    arr[: side // 2] = 3000
    arr[7, 7] = 60000  # one spike: the averaged overview cannot show it at full height
    res, _ = run([write_tif("big.tif", arr, tiled=True)], [BandSpec("blue", 1)], work_dir, limits)
    [stats] = res.attributes["statistics"]
    with rasterio.open(res.cog_path, overview_level=1) as ov:
        assert max(ov.width, ov.height) <= STATS_SIDE
        assert_stats(stats, expected(ov.read(1)))
    assert 1000 <= stats["min"] and stats["max"] < 60000
    assert stats["p2"] == 1000 and stats["p98"] == 3000


def test_image_api_returns_statistics_and_replace_keeps_them(live_server, tmp_path, unique):
    from helpers import write_geotiff
    from rastercat.client.catalog import Catalog

    arr = np.stack([ramp(40, 30, offset=7), ramp(40, 30, scale=2)])
    path = write_geotiff(tmp_path / "two.tif", arr)
    with live_server.env(), Catalog() as catalog:
        pid = catalog.add_product(f"stats-{unique}", title="s", description="s")["data"]["id"]
        for name, srcband in (("blue", 1), ("red", 2)):
            catalog.add_band(product_id=pid, name=name, srcband=srcband, srcfile=0,
                             dtype="UInt16", data_range=[0, 10000], nbits=16, type="spectral")  # fmt: skip
        catalog.upload_image(str(path), pid)
        doc = catalog.wait_for_image(pid, "two", timeout=120)
        stats = doc["data"]["attributes"]["statistics"]
        assert_stats(stats[0], expected(arr[0], srcband=1))
        assert_stats(stats[1], expected(arr[1], srcband=2))
        log = catalog.upload_result(pid, "two.tif")["data"]["attributes"]["logs"]
        assert "statistics in " in log
        # Replacing the user attributes keeps what ingest measured about the pixels.
        catalog.replace_image(pid, "two", acquired="2020-01-01T00:00:00Z")
        kept = catalog.get_image(pid, "two")["data"]["attributes"]
        assert kept["statistics"] == stats and kept["acquired"].startswith("2020-01-01")
        catalog.remove_product(pid, cascade=True)


def test_ndarray_upload_with_band_nodata(tmp_path, work_dir, limits):
    arr = np.stack([ramp(25, 20, offset=3), ramp(25, 20, scale=5)], axis=-1)  # bands last
    arr[0, :, 1] = 9999
    path = tmp_path / "derived.npy"
    np.save(path, arr, allow_pickle=False)
    request = IngestRequest(
        "ndarray",
        (path,),
        (BandSpec("a", 1), BandSpec("b", 2, nodata=9999)),
        geotrans=(391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0),
        crs="EPSG:32643",
        overviews=(2,),
    )
    stats = process(request, work_dir, limits).attributes["statistics"]
    assert_stats(stats[0], expected(arr[..., 0], srcband=1))
    assert_stats(stats[1], expected(arr[1:, :, 1], srcband=2))


def test_overviews_all_too_large_read_decimated(tmp_path, work_dir, limits):
    side = 2 * STATS_SIDE + 600  # the only overview (2x) is still wider than STATS_SIDE
    arr = np.full((side, side), 1000, "uint16")
    arr[side // 2 :] = 3000
    path = tmp_path / "wide.npy"
    np.save(path, arr, allow_pickle=False)
    request = IngestRequest("ndarray", (path,), (BandSpec("a", 1),), overviews=(2,),
                            geotrans=(391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0), crs="EPSG:32643")  # fmt: skip
    res = process(request, work_dir, limits)
    assert _overview_level(res.cog_path) == (0, STATS_SIDE, STATS_SIDE)  # the 2x one, decimated
    [stats] = res.attributes["statistics"]
    assert (stats["min"], stats["max"], stats["p2"], stats["p98"]) == (1000, 3000, 1000, 3000)
    assert stats["mean"] == pytest.approx(2000, rel=0.01)
