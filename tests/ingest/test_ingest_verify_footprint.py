"""verify_cog on damaged COGs, the antimeridian footprint split, and clean_work_dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from _ingest_helpers import noisy
from rasterio.transform import from_origin
from shapely.geometry import shape

from rastercat.errors import IngestError
from rastercat.ingest import BandSpec, IngestRequest, clean_work_dir, process, verify_cog


@pytest.fixture
def good_cog(write_tif, work_dir, limits, tmp_path) -> Path:
    src = write_tif("s.tif", noisy((1, 1100, 1100), "uint16"))
    res = process(IngestRequest("file", (src,), (BandSpec("b", 1),)), work_dir, limits)
    path = tmp_path / "good.tif"
    shutil.move(res.cog_path, path)
    return path


def test_verify_accepts_a_good_cog(good_cog):
    verify_cog(good_cog)


def test_verify_catches_truncation(good_cog):
    os.truncate(good_cog, int(good_cog.stat().st_size * 0.4))
    with pytest.raises(IngestError, match="past the end of the file"):
        verify_cog(good_cog)


def test_verify_catches_a_zeroed_tile(good_cog, zero_tiles):
    zero_tiles(good_cog, [4])
    with pytest.raises(IngestError, match=r"tile \(1, 1\) was never written"):
        verify_cog(good_cog)


def test_verify_rejects_a_plain_tiff_and_missing_file(write_tif, tmp_path):
    plain = write_tif("plain.tif", noisy((1, 600, 600), "uint16"))
    with pytest.raises(IngestError, match="not a valid COG"):
        verify_cog(plain)
    with pytest.raises(IngestError, match="missing or empty"):
        verify_cog(tmp_path / "nope.tif")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\0garbage")
    with pytest.raises(IngestError):
        verify_cog(junk)


def _polys(geometry: dict) -> list[np.ndarray]:
    if geometry["type"] == "Polygon":
        return [np.array(geometry["coordinates"][0])]
    return [np.array(p[0]) for p in geometry["coordinates"]]


@pytest.mark.parametrize(
    ("crs", "transform"),
    [
        ("EPSG:3832", from_origin(3_200_000, 1_000_000, 1000, 1000)),  # PDC Mercator, lon0 150
        ("EPSG:32660", from_origin(700_000, 1_300_000, 1000, 1000)),  # UTM 60N, east of 180
    ],
)
def test_antimeridian_footprint_is_split(write_tif, work_dir, limits, crs, transform):
    src = write_tif("am.tif", noisy((1, 300, 300), "uint16"), crs=crs, transform=transform)
    res = process(IngestRequest("file", (src,), (BandSpec("b", 1),)), work_dir, limits)
    geometry = res.attributes["geometry"]
    assert geometry["type"] == "MultiPolygon"
    geom = shape(geometry)
    assert geom.is_valid
    parts = _polys(geometry)
    assert len(parts) == 2
    assert all(-180 <= p[:, 0].min() and p[:, 0].max() <= 180 for p in parts)
    # One part touches +180, the other -180, and together they are small (not globe-spanning).
    touching = {round(x) for p in _polys(geometry) for x in (p[:, 0].min(), p[:, 0].max())}
    assert 180 in touching and -180 in touching
    assert geom.area < 20


def test_footprint_not_split_away_from_antimeridian(write_tif, work_dir, limits):
    src = write_tif("ok.tif", noisy((1, 50, 50), "uint16"))
    res = process(IngestRequest("file", (src,), (BandSpec("b", 1),)), work_dir, limits)
    assert res.attributes["geometry"]["type"] == "Polygon"


POLAR = {  # polar stereographic: NSIDC north (EPSG:3413), Antarctic (EPSG:3031)
    "north": ("EPSG:3413", 90.0),
    "south": ("EPSG:3031", -90.0),
}


def _footprint_of(write_tif, work_dir, limits, arr, crs, transform, nodata=None):
    extra = {} if nodata is None else {"nodata": nodata}
    src = write_tif("polar.tif", arr, crs=crs, transform=transform, **extra)
    bands = (BandSpec("b", 1, nodata=nodata),)
    res = process(IngestRequest("file", (src,), bands), work_dir, limits)
    geom = shape(res.attributes["geometry"])
    assert geom.is_valid
    x0, y0, x1, y1 = geom.bounds
    assert -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90
    return geom


@pytest.mark.parametrize("pole", ["north", "south"])
def test_a_raster_over_a_pole_covers_the_polar_cap(write_tif, work_dir, limits, pole):
    """2000 km square centred on the pole: its footprint is the cap down to 81-77 degrees, at every
    longitude, not a thin band along its edge."""
    from shapely.geometry import Point

    crs, lat = POLAR[pole]
    sign = 1 if lat > 0 else -1
    arr = np.ones((1, 200, 200), "uint16")
    geom = _footprint_of(write_tif, work_dir, limits, arr, crs,
                         from_origin(-1_000_000, 1_000_000, 10_000, 10_000))  # fmt: skip
    for lon in (-179.5, -120, -45, 0, 30, 90, 150, 179.5):
        for at in (89.9, 85, 82):
            assert geom.contains(Point(lon, sign * at)), (lon, sign * at)
        assert not geom.contains(Point(lon, sign * 75))
    assert abs(geom.bounds[3 if sign > 0 else 1]) == 90


def test_a_ring_of_data_around_a_pole_leaves_the_pole_out(write_tif, work_dir, limits):
    """Valid pixels in an annulus around the North Pole, nodata inside: the cap has a hole."""
    from shapely.geometry import Point

    yy, xx = np.mgrid[-100:100, -100:100] + 0.5
    r = np.hypot(xx, yy)
    arr = np.where((r > 30) & (r < 95), 7, 0).astype("uint16")[np.newaxis]
    geom = _footprint_of(write_tif, work_dir, limits, arr, "EPSG:3413",
                         from_origin(-1_000_000, 1_000_000, 10_000, 10_000), nodata=0)  # fmt: skip
    for lon in (-150, -60, 0, 60, 150):
        assert geom.contains(Point(lon, 83)), lon  # ~700 km from the pole: in the ring
        assert not geom.contains(Point(lon, 89))  # ~110 km: in the hole
    assert not geom.contains(Point(0, 90 - 1e-6))


def test_a_raster_near_but_off_the_pole_has_no_cap(write_tif, work_dir, limits):
    from shapely.geometry import Point

    arr = np.ones((1, 100, 100), "uint16")  # x from 200 km to 1200 km: the pole is outside
    geom = _footprint_of(write_tif, work_dir, limits, arr, "EPSG:3413",
                         from_origin(200_000, 500_000, 10_000, 10_000))  # fmt: skip
    assert not geom.contains(Point(0, 89.9)) and not geom.contains(Point(-135, 89.9))
    assert geom.bounds[3] < 89 and geom.area < 2000


def test_clean_work_dir_removes_only_leftovers(work_dir, tmp_path):
    (work_dir / "rastercat-tmp-abc.tif").write_bytes(b"x")
    (work_dir / "rastercat-tmp-abc-stage.tif").write_bytes(b"x")
    (work_dir / "rastercat-cog-def.tif").write_bytes(b"x")
    (work_dir / "upload.tif").write_bytes(b"keep")
    assert clean_work_dir(work_dir) == 3
    assert [p.name for p in work_dir.iterdir()] == ["upload.tif"]
    assert clean_work_dir(tmp_path / "does-not-exist") == 0
