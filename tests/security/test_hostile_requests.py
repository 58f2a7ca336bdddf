"""Hostile requests against a live server: each must answer a 4xx naming what is wrong, never a
500, and never make the server touch anything a request names (URLs, files, GDAL virtual files).

A loopback listener stands in for an internal service: a CRS string that GDAL would resolve
(``http://…``, ``/vsicurl/…``, ``/vsis3/…`` with the S3 endpoint pointed at the listener, grid
files named in PROJ strings, WKT and PROJJSON) must leave it with 0 connections.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyproj
import pytest
from _hostile import CAT, Ingested, Listener

from rastercat.store.sql.repo import t

NPZ = "/raster/v1/npz"
RASTER = "/raster/v1/raster"


def hostile_crs_strings(port: int, tmp_path: Path) -> list[str]:
    """CRS strings that name something outside the CRS database: each must be refused."""
    wkt_file = tmp_path / "crs.wkt"
    wkt_file.write_text(pyproj.CRS.from_epsg(4326).to_wkt())
    url = f"http://127.0.0.1:{port}/x"
    grid = f"http://127.0.0.1:{port}/grid.tif"
    wkt1_with_grid = (
        'GEOGCS["x",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
        'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],'
        f'EXTENSION["PROJ4","+proj=longlat +ellps=WGS84 +nadgrids={grid}"]]'
    )
    bound = pyproj.CRS.from_user_input(f"+proj=longlat +ellps=WGS84 +nadgrids={grid}")
    return [
        url,
        f"https://127.0.0.1:{port}/x",
        f"ftp://127.0.0.1:{port}/x",
        str(wkt_file),
        f"file://{wkt_file}",
        f"/vsicurl/{url}",
        f"/vsicurl?url={url}",
        "/vsis3/some-bucket/crs.wkt",
        "/vsigs/some-bucket/crs.wkt",
        f"/vsizip//vsicurl/{url}/a.zip/crs.wkt",
        "../../../../etc/hostname",
        f"@{wkt_file}",
        f"+proj=longlat +ellps=WGS84 +nadgrids={grid}",
        f"+proj=longlat +ellps=WGS84 +nadgrids=@{wkt_file}",
        f"+proj=longlat +ellps=WGS84 +geoidgrids={grid}",
        f"+init={wkt_file}:1",
        bound.to_wkt(),  # WKT2 BOUNDCRS with PARAMETERFILE[..., "http://..."]
        bound.to_json(),  # the same as PROJJSON
        wkt1_with_grid,
    ]


@pytest.fixture
def s3_at_listener(listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL's /vsis3/ and /vsigs/ of the (in-process) server would connect to the listener."""
    monkeypatch.setenv("AWS_S3_ENDPOINT", f"127.0.0.1:{listener.port}")
    monkeypatch.setenv("AWS_HTTPS", "NO")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
    monkeypatch.setenv("AWS_NO_SIGN_REQUEST", "YES")
    monkeypatch.setenv("CPL_GS_ENDPOINT", f"http://127.0.0.1:{listener.port}/")
    monkeypatch.setenv("GS_NO_SIGN_REQUEST", "YES")


def _assert_refused(r: Any, field: str, what: str) -> None:
    assert r.status_code == 400, (what, r.status_code, r.text[:300])
    assert r.json()["errors"][0]["source"]["pointer"] == field, (what, r.text[:300])


@pytest.mark.usefixtures("s3_at_listener")
@pytest.mark.parametrize("route", [NPZ, RASTER])
def test_crs_strings_naming_urls_files_or_grids_are_refused_without_a_connection(
    ingested: Ingested, listener: Listener, tmp_path: Path, route: str
) -> None:
    c = ingested.client
    for crs in hostile_crs_strings(listener.port, tmp_path):
        body = {"ids": [ingested.image], "bands": ["b1"], "srs": crs, "resolution": 60}
        _assert_refused(c.post(route, json=body), "srs", crs)
        body = {
            "ids": [ingested.image],
            "bands": ["b1"],
            "outputBounds": [75.0, 50.0, 75.01, 50.01],
            "outputBoundsSRS": crs,
            "resolution": 60,
            "srs": "EPSG:32643",
        }
        _assert_refused(c.post(route, json=body), "outputBoundsSRS", crs)
    assert listener.received() == 0


@pytest.mark.usefixtures("s3_at_listener")
@pytest.mark.parametrize("field", ["wkt_srs", "proj4"])
def test_ndarray_upload_crs_naming_urls_files_or_grids_is_refused_at_step_1(
    ingested: Ingested, listener: Listener, tmp_path: Path, field: str
) -> None:
    c = ingested.client
    for crs in hostile_crs_strings(listener.port, tmp_path):
        body = {
            "process_controls": {"upload_type": "ndarray"},
            "geotrans": [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0],
            field: crs,
        }
        r = c.post(f"{CAT}/products/{ingested.pid}/images/upload/arr.npy", json=body)
        _assert_refused(r, field, crs)
    assert listener.received() == 0


def test_ndarray_upload_stores_pyprojs_wkt_not_the_raw_string(ingested: Ingested) -> None:
    """The job parameters keep only the parsed CRS: what ingest later gives GDAL is WKT."""
    c = ingested.client
    body = {
        "process_controls": {"upload_type": "ndarray"},
        "geotrans": [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0],
        "proj4": "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs",
    }
    r = c.post(f"{CAT}/products/{ingested.pid}/images/upload/wkt.npy", json=body)
    assert r.status_code == 200, r.text
    rows = ingested.server.state.repo.all(t.uploads, t.uploads.c.product_id == ingested.pid)
    stored = [row["params"]["crs"] for row in rows if row["params"]["file_name"] == "wkt.npy"]
    assert stored == [pyproj.CRS.from_user_input(body["proj4"]).to_wkt()]


@pytest.mark.parametrize(
    "crs", ["EPSG:3857", "epsg:4326", "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs",
            pyproj.CRS.from_epsg(32643).to_wkt(), pyproj.CRS.from_epsg(32643).to_json(),
            "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m "
            "+nadgrids=@null +wktext +no_defs"],
)  # fmt: skip
def test_ordinary_crs_strings_still_work(ingested: Ingested, crs: str) -> None:
    body = {"ids": [ingested.image], "bands": ["b1"], "srs": crs, "outsize": [8, 8]}
    r = ingested.client.post(NPZ, json=body)
    assert r.status_code == 200, r.text[:300]


BAD_TILES = [
    ((1_000_000_000, 0, 0), "z"),
    ((31, 0, 0), "z"),
    ((10**30, 0, 0), "z"),
    ((0, 1, 0), "x"),
    ((0, 0, 1), "y"),
    ((3, 8, 0), "x"),
    ((3, 0, 8), "y"),
    ((30, 2**30, 0), "x"),
    ((30, 0, 2**30), "y"),
    ((2, 10**40, 0), "x"),
    ((20, 0, 10**300), "y"),
]


@pytest.mark.parametrize("kind", ["images", "products"])
def test_extreme_tile_coordinates_are_a_400_naming_the_coordinate(
    ingested: Ingested, kind: str
) -> None:
    name = ingested.image if kind == "images" else ingested.pid
    for (z, x, y), field in BAD_TILES:
        r = ingested.client.get(f"/tiles/v1/{kind}/{name}/{z}/{x}/{y}.png")
        _assert_refused(r, field, f"{z}/{x}/{y}")
    for path in ("-1/0/0", "1/-1/0", "1/0/-1", "1.5/0/0", "1/0/1e3"):
        r = ingested.client.get(f"/tiles/v1/{kind}/{name}/{path}.png")
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    # The deepest tiles are served (an empty tile: the image is far away).
    last = 2**30 - 1
    for z, x, y in ((30, last, last), (30, 0, 0), (0, 0, 0)):
        r = ingested.client.get(f"/tiles/v1/{kind}/{name}/{z}/{x}/{y}.png")
        assert r.status_code == 200, (z, x, y, r.text[:200])


@pytest.mark.parametrize("kind", ["images", "products"])
def test_tile_sizes_share_one_limit(ingested: Ingested, kind: str) -> None:
    name = ingested.image if kind == "images" else ingested.pid
    url = f"/tiles/v1/{kind}/{name}/0/0/0.png"
    for size in (16, 1024):
        assert ingested.client.get(url, params={"tilesize": size}).status_code == 200, size
    for size in (15, 1025, 2048, -1, 0, 10**30):
        r = ingested.client.get(url, params={"tilesize": size})
        assert 400 <= r.status_code < 500, (size, r.status_code)
        if r.status_code == 400:
            assert r.json()["errors"][0]["source"]["pointer"] == "tilesize"


BIG = 1e308
HUGE_INT = 10**30
NUMERIC_RASTER_BODIES: list[dict[str, Any]] = [
    *({"resolution": v} for v in ("Infinity", "-Infinity", "NaN", BIG, -BIG, 1e-308, 5e-324)),
    *({"outputBounds": b, "resolution": 60} for b in (
        [-BIG, -BIG, BIG, BIG], [0, 0, BIG, BIG], [0, 0, "Infinity", 1], ["NaN", 0, 1, 1],
        [391395.0, 5596050.0, 391875.0, 5596530.0 + BIG])),
    *({"outsize": s} for s in ([HUGE_INT, 1], [2**63, 2**63], [1, BIG], [2**31, 2**31])),
    *({"scales": [s]} for s in (
        [0, "Infinity"], ["NaN", 1], [0, BIG, 0, BIG], [-BIG, BIG], [0, 1, "-Infinity", 0])),
    {"outputBounds": [391395.0, 5596050.0, 391875.0, 5596530.0], "resolution": BIG},
    {"outputBounds": [391395.0, 5596050.0, 391875.0, 5596530.0], "resolution": 1e-300},
    {"srs": "EPSG:4326", "resolution": BIG},
    {"srs": "EPSG:4326", "resolution": 1000},
    {"srs": "EPSG:3857", "resolution": 1e20},  # GDAL's warper hung on this grid
    {"srs": "EPSG:3857", "resolution": 1e300},
    {"srs": "EPSG:3857", "outputBounds": [-1e15, -1e15, 1e15, 1e15], "outsize": [4, 4]},
    {"srs": "EPSG:4326", "outputBounds": [-BIG, -90, BIG, 90], "outputBoundsSRS": "EPSG:4326",
     "resolution": 1},
    {"shape": json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [BIG, 0], [BIG, BIG],
                                                              [0, 0]]]})},
    *({"dltile": k} for k in ("1024:16:1e308:43:0:0", "1024:16:15.0:43:1e400:0",
                              f"1024:16:15.0:43:{HUGE_INT}:0", f"1024:16:15.0:43:0:{-HUGE_INT}",
                              "1:0:1e-300:43:0:0", "1024:16:NaN:43:0:0", "1024:16:inf:43:0:0")),
]  # fmt: skip


def _raw_json(body: dict[str, Any]) -> bytes:
    """JSON with the non-standard Infinity and NaN literals that Python's json parser accepts."""
    text = json.dumps(body)
    for word in ("Infinity", "-Infinity", "NaN"):
        text = text.replace(f'"{word}"', word)
    return text.encode()


@pytest.mark.parametrize("route", [NPZ, RASTER])
def test_extreme_numbers_in_raster_fields_are_a_4xx(ingested: Ingested, route: str) -> None:
    for extra in NUMERIC_RASTER_BODIES:
        body = {"ids": [ingested.image], "bands": ["b1"], **extra}
        r = ingested.client.post(
            route, content=_raw_json(body), headers={"content-type": "application/json"}
        )
        assert r.status_code == 200 or 400 <= r.status_code < 500, (extra, r.text[:300])
        if r.status_code >= 400:
            assert r.json()["errors"][0]["detail"], extra


DLTILE_SHAPE = json.dumps({"type": "Polygon", "coordinates": [[[73.0, 50.0], [74.0, 50.0],
                                                              [74.0, 51.0], [73.0, 50.0]]]})  # fmt: skip
DLTILE_BASE = {"resolution": 960.0, "tilesize": 128, "pad": 8, "shape": DLTILE_SHAPE}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"maxtiles": 10**9}, "maxtiles"),
        ({"maxtiles": HUGE_INT}, "maxtiles"),
        ({"maxtiles": BIG}, "maxtiles"),
        ({"maxtiles": "Infinity"}, "maxtiles"),
        ({"maxtiles": "NaN"}, "maxtiles"),
        ({"maxtiles": 0}, "maxtiles"),
        ({"resolution": "Infinity"}, "resolution"),
        ({"resolution": "NaN"}, "resolution"),
        ({"resolution": BIG}, "resolution"),
        ({"resolution": 1e-300}, "resolution"),
        ({"tilesize": HUGE_INT}, "tilesize"),
        ({"pad": HUGE_INT}, "pad"),
        ({"pad": -1}, "pad"),
        ({"start_zone": 43, "start_ti": HUGE_INT, "start_tj": 0}, "start_ti"),
        ({"start_zone": 43, "start_ti": 0, "start_tj": -HUGE_INT}, "start_tj"),
        ({"start_zone": HUGE_INT}, "start_zone"),
        ({"start_zone": 43, "start_ti": BIG}, "start_ti"),
    ],
)
def test_dltile_counts_and_numbers_past_their_caps_are_a_400_naming_the_field(
    ingested: Ingested, extra: dict[str, Any], field: str
) -> None:
    r = ingested.client.post(
        "/raster/v1/dlkeys/from_shape",
        content=_raw_json({**DLTILE_BASE, **extra}),
        headers={"content-type": "application/json"},
    )
    _assert_refused(r, field, json.dumps(extra))


def test_dltiles_of_a_shape_at_a_tiny_tile_size_answer_a_page_quickly(ingested: Ingested) -> None:
    """Millions of candidate tiles: each page does bounded work and names the next one."""
    import time

    body = {**DLTILE_BASE, "resolution": 1.0, "tilesize": 1, "pad": 0, "maxtiles": 100}
    started = time.monotonic()
    r = ingested.client.post("/raster/v1/dlkeys/from_shape", json=body)
    assert r.status_code == 200, r.text[:300]
    page = r.json()
    assert 0 < len(page["features"]) <= 100 and page["iterstate"]
    # A resumed page far into the zone costs no more than the first one.
    far = {**body, "start_zone": 43, "start_ti": 10**6, "start_tj": 10**6}
    r = ingested.client.post("/raster/v1/dlkeys/from_shape", json=far)
    assert r.status_code == 200, r.text[:300]
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "path",
    [
        "/raster/v1/dlkeys/from_latlon/50/73?resolution=1e-300&tilesize=1",
        "/raster/v1/dlkeys/from_latlon/50/73?resolution=inf&tilesize=1",
        "/raster/v1/dlkeys/from_latlon/50/73?resolution=nan&tilesize=1",
        "/raster/v1/dlkeys/from_latlon/inf/73?resolution=10&tilesize=1",
        "/raster/v1/dlkeys/from_latlon/nan/73?resolution=10&tilesize=1",
        f"/raster/v1/dlkeys/from_latlon/50/73?resolution=10&tilesize={HUGE_INT}",
        f"/raster/v1/dlkeys/from_latlon/50/73?resolution=10&tilesize=1&pad={HUGE_INT}",
        "/raster/v1/dlkeys/1024:16:1e308:43:0:0",
        f"/raster/v1/dlkeys/1024:16:15.0:43:{HUGE_INT}:0",
        f"/raster/v1/dlkeys/1024:16:15.0:43:0:-{HUGE_INT}",
        "/raster/v1/dlkeys/1:0:1e-300:43:0:0",
        "/raster/v1/dlkeys/1024:16:nan:43:0:0",
    ],
)
def test_dltile_lookups_with_extreme_numbers_are_a_4xx(ingested: Ingested, path: str) -> None:
    r = ingested.client.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])


def test_the_read_memory_cap_counts_the_working_dtype(small: Ingested) -> None:
    """A 99 x 100 Byte output of a UInt16 band: 9,900 bytes, under max_output_bytes (10,000), but
    the canvas is painted in UInt16: its read needs more than max_read_bytes."""
    body = {"ids": [small.image], "bands": ["b1"], "outsize": [99, 100]}
    r = small.client.post(NPZ, json={**body, "ot": "Byte"})
    _assert_refused(r, "resolution", "Byte output of a UInt16 band")
    assert "max_read_bytes (170000)" in r.json()["errors"][0]["detail"]
    r = small.client.post(NPZ, json={**body, "ot": "UInt16"})  # 19,800 bytes of output
    assert "max_output_bytes" in r.json()["errors"][0]["detail"], r.text
    r = small.client.post(NPZ, json={**body, "outsize": [50, 50], "ot": "Byte"})
    assert r.status_code == 200, r.text


def test_concurrent_reads_wait_for_one_of_the_read_slots(small: Ingested) -> None:
    """24 concurrent reads and tiles on a server with 2 read slots: all answer, at most 2 ran at
    once (counted by the server around each real read)."""
    from concurrent.futures import ThreadPoolExecutor

    slots = small.server.state.read_slots
    assert slots.total == 2
    slots.peak = 0
    body = {"ids": [small.image], "bands": ["b1"], "outsize": [60, 60], "resampleAlg": "cubic"}
    tile = f"/tiles/v1/images/{small.image}/12/2901/1403.png"

    def one(i: int) -> int:
        if i % 3 == 2:
            return small.client.get(tile).status_code
        return small.client.post(NPZ if i % 2 else RASTER, json=body).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(one, range(24)))
    assert codes == [200] * 24
    assert 1 <= slots.peak <= 2
    assert slots.running == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"bands": ["b1"] * 1001}, "bands"),
        ({"ids": ["x"] * 1001}, "ids"),
        ({"bands": ["b1"] * 1000, "scales": [[0, 1]] * 1000, "outsize": [8000, 8000]},
         "resolution"),
    ],
)  # fmt: skip
def test_counts_in_raster_requests_past_their_caps_are_a_400(
    ingested: Ingested, extra: dict[str, Any], field: str
) -> None:
    body = {"ids": [ingested.image], "bands": ["b1"], **extra}
    _assert_refused(ingested.client.post(NPZ, json=body), field, field)


def test_dltiles_of_a_shape_of_long_edges_are_refused_before_densifying(
    ingested: Ingested,
) -> None:
    """Edges are densified every 0.05 degrees: thousands of zone-long edges would be millions of
    points. The shape is refused, naming it, before any is made."""
    import time

    zigzag = [[73.0 + (i % 2) * 5.9, -79.0 + i * 0.0005] for i in range(20_000)]
    shape = {"type": "LineString", "coordinates": zigzag}
    body = {**DLTILE_BASE, "shape": json.dumps(shape), "maxtiles": 10}
    started = time.monotonic()
    r = ingested.client.post("/raster/v1/dlkeys/from_shape", json=body)
    _assert_refused(r, "shape", "zigzag")
    assert time.monotonic() - started < 10
