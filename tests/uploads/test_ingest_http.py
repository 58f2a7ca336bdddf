"""Uploads that succeed, through the real server: image ids, inferred metadata, multi-file scenes,
ndarrays, re-uploads and concurrent uploads of one image id."""

from __future__ import annotations

import hashlib
import io
import threading

import numpy as np
from _upload_helpers import CAT, band, multi_body

from helpers import wait_for, write_geotiff

GEOTRANS = [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]


def ramp(side: int = 32, bands: int = 1, offset: int = 0) -> np.ndarray:
    base = np.arange(side * side, dtype="uint16").reshape(side, side) + offset
    return np.stack([base + 1000 * i for i in range(bands)])


def image_row(up, pid: str, key: str) -> dict:
    from rastercat.store.sql.repo import t

    row = up.server.state.repo.one(t.images, id=f"{pid}:{key}")
    assert row is not None
    return row


def pixels(up, pid: str, key: str) -> np.ndarray:
    """The stored COG's pixels, read straight from the object store."""
    import rasterio

    path = up.server.state.objects.gdal_path(image_row(up, pid, key)["storage_key"])
    with rasterio.open(path) as src:
        return src.read()


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def test_single_file_image_and_inferred_metadata(up, clean, tmp_path):
    pid = up.product([band("red"), band("green", srcband=2)])
    f = write_geotiff(tmp_path / "scene.7.tif", ramp(bands=2), tags={"custom": "x"})
    body = {"process_controls": {"upload_type": "file"}, "cloud_fraction": 0.25,
            "extra_properties": {"sat": "one"}, "key": "ignored", "proj4": "+proj=longlat"}  # fmt: skip
    up.upload(pid, f, body)
    assert up.wait(pid, "scene.7.tif")["status"] == "SUCCESS"
    img = up.image(pid, "scene.7")
    assert img["key"] == "scene.7"  # the file name without its (last) extension
    assert img["product"] == pid
    assert img["cloud_fraction"] == 0.25 and img["extra_properties"] == {"sat": "one"}
    assert "+proj=utm +zone=43" in img["proj4"]  # inferred values win over the user's
    assert img["geotrans"] == GEOTRANS and img["raster_size"] == [32, 32]
    assert img["geometry"]["type"] == "Polygon"
    assert img["descartes_version"].startswith("rastercat-ingest-")
    assert img["identifier"] == f"{pid}/scene.7.tif"
    assert img["directory"] == f"{pid}/" and img["bucket"]
    assert len(img["files"]) == len(img["file_sizes"]) == len(img["file_md5s"]) == 1
    assert img["owners"] and img["processed"] and img["acquired"]
    row = image_row(up, pid, "scene.7")
    assert row["attrs"]["wkt"].startswith("PROJCS") or "PROJCRS" in row["attrs"]["wkt"]
    assert row["band_names"] == ["red", "green"]
    np.testing.assert_array_equal(pixels(up, pid, "scene.7"), ramp(bands=2))
    # The md5 recorded (hashed while the COG was verified) is that of the bytes stored.
    stored = up.server.state.objects.gdal_path(row["storage_key"])
    with open(stored, "rb") as f:
        assert img["file_md5s"] == [hashlib.md5(f.read(), usedforsecurity=False).hexdigest()]


def test_metadata_image_id_names_the_image(up, clean, tmp_path):
    pid = up.product()
    f = write_geotiff(tmp_path / "blue.tif", ramp())
    up.upload(pid, f, {"image_id": "renamed", "process_controls": {"upload_type": "file"}})
    assert up.wait(pid, "blue.tif")["status"] == "SUCCESS"
    assert up.image(pid, "renamed")["key"] == "renamed"
    assert up.image(pid, "blue") is None


def test_multi_file_scene_waits_for_the_last_file_and_orders_by_image_files(up, clean, tmp_path):
    pid = up.product([band("a"), band("b", srcfile=1)])
    first = write_geotiff(tmp_path / "a.tif", ramp(offset=1))
    second = write_geotiff(tmp_path / "b.tif", ramp(offset=500))
    body = multi_body(["a.tif", "b.tif"], "scene")
    # The second file in srcfile order arrives first.
    up.upload(pid, second, body)
    assert up.result(pid, "b.tif")["status"] == "WAITING"
    assert up.image(pid, "scene") is None
    up.upload(pid, first, body)
    assert up.wait(pid, "a.tif")["status"] == "SUCCESS"
    assert up.result(pid, "b.tif")["status"] == "SUCCESS"
    stored = pixels(up, pid, "scene")
    np.testing.assert_array_equal(stored[0], ramp(offset=1)[0])
    np.testing.assert_array_equal(stored[1], ramp(offset=500)[0])
    assert up.image(pid, "scene")["key"] == "scene"


def test_multi_file_scene_failure_fails_every_file(up, clean, tmp_path):
    pid = up.product([band("a"), band("b", srcfile=1)])
    good = write_geotiff(tmp_path / "a.tif", ramp())
    bad = tmp_path / "b.tif"
    bad.write_text("not a raster")
    body = multi_body(["a.tif", "b.tif"], "scene")
    up.upload(pid, good, body)
    up.upload(pid, bad, body)
    assert up.wait(pid, "b.tif")["status"] == "FAILURE"
    a = up.wait(pid, "a.tif")
    assert a["status"] == "FAILURE" and "b.tif: not a readable GeoTIFF" in a["logs"]
    assert up.image(pid, "scene") is None


def ndarray_body() -> dict:
    return {
        "process_controls": {"upload_type": "ndarray"},
        "proj4": "+proj=utm +zone=43 +datum=WGS84",
        "geotrans": GEOTRANS,
    }


def test_ndarray_2d(up, clean):
    pid = up.product()
    arr = ramp()[0]
    assert up.put(up.begin(pid, "flat", ndarray_body()), npy(arr)).status_code == 200
    assert up.wait(pid, "flat")["status"] == "SUCCESS"
    assert up.result(pid, "flat.tif")["status"] == "SUCCESS"  # the later docs' id form
    np.testing.assert_array_equal(pixels(up, pid, "flat"), arr[np.newaxis])
    assert up.image(pid, "flat")["raster_size"] == [32, 32]


def test_ndarray_3d_bands_last(up, clean):
    pid = up.product([band("x"), band("y", srcband=3)])
    arr = np.moveaxis(ramp(bands=3), 0, -1)  # (rows, cols, bands)
    assert up.put(up.begin(pid, "cube", ndarray_body()), npy(arr)).status_code == 200
    assert up.wait(pid, "cube")["status"] == "SUCCESS"
    stored = pixels(up, pid, "cube")
    np.testing.assert_array_equal(stored, np.stack([arr[..., 0], arr[..., 2]]))


def test_reupload_replaces_the_image_and_deletes_the_old_file(up, clean, tmp_path):
    pid = up.product()
    up.upload(pid, write_geotiff(tmp_path / "blue.tif", ramp(offset=1)))
    assert up.wait(pid, "blue.tif")["status"] == "SUCCESS"
    old_key = image_row(up, pid, "blue")["storage_key"]
    objects = up.server.state.objects
    assert objects.exists(old_key)
    r = up.client.patch(f"{CAT}/products/{pid}/images/blue", json={"cloud_fraction": 0.5})
    assert r.status_code == 200, r.text
    (tmp_path / "v2").mkdir()
    new = write_geotiff(tmp_path / "v2" / "blue.tif", ramp(offset=7))
    up.upload(pid, new, {"process_controls": {"upload_type": "file"},
                         "extra_properties": {"v": "2"}})  # fmt: skip
    wait_for(lambda: up.result(pid, "blue.tif")["status"] == "SUCCESS", 60, what="re-upload")
    row = image_row(up, pid, "blue")
    assert row["storage_key"] != old_key and not objects.exists(old_key)
    np.testing.assert_array_equal(pixels(up, pid, "blue")[0], ramp(offset=7)[0])
    img = up.image(pid, "blue")
    assert img["cloud_fraction"] == 0.5  # set with change_image, kept
    assert img["extra_properties"] == {"v": "2"}  # given with the new upload
    assert "replaced the pixels" in up.result(pid, "blue.tif")["logs"]


def test_two_concurrent_uploads_of_one_image_id(up, clean, tmp_path):
    pid = up.product()
    files = []
    for i in (1, 2):
        (tmp_path / str(i)).mkdir()
        files.append(write_geotiff(tmp_path / str(i) / "same.tif", ramp(side=300, offset=i)))
    urls = [up.begin(pid, "same.tif") for _ in files]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def send(url: str, data: bytes) -> None:
        import httpx

        with httpx.Client(timeout=60) as c:
            barrier.wait()
            codes.append(c.put(url, content=data).status_code)

    threads = [
        threading.Thread(target=send, args=(u, f.read_bytes()))
        for u, f in zip(urls, files, strict=True)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert codes == [200, 200]
    page = wait_for(
        lambda: (
            (p := up.client.post(f"{CAT}/products/{pid}/uploads", json={}).json())
            and all(d["attributes"]["status"] == "SUCCESS" for d in p["data"])
            and p
        ),
        60,
        what="both uploads",
    )
    assert len(page["data"]) == 2
    r = up.client.post("/metadata/v1/search", json={"products": [pid], "limit": 10})
    ids = [f["id"] for f in r.json()]
    assert ids == [f"{pid}:same"]
    stored = pixels(up, pid, "same")[0]
    assert any(np.array_equal(stored, ramp(side=300, offset=i)[0]) for i in (1, 2))
    img = up.image(pid, "same")
    assert img["file_md5s"] == [image_row(up, pid, "same")["attrs"]["file_md5s"][0]]


def test_acquired_from_the_user(up, clean, tmp_path):
    pid = up.product()
    f = write_geotiff(tmp_path / "a.tif", ramp(), tags={"TIFFTAG_DATETIME": "2017:03:04 05:06:07"})
    up.upload(pid, f, {"acquired": "2018-01-01T00:00:00Z",
                       "process_controls": {"upload_type": "file"}})  # fmt: skip
    res = up.wait(pid, "a.tif")
    assert up.image(pid, "a")["acquired"].startswith("2018-01-01T00:00:00")
    assert "as given with the upload" in res["logs"]


def test_acquired_from_the_tiff_datetime_tag(up, clean, tmp_path):
    pid = up.product()
    f = write_geotiff(tmp_path / "a.tif", ramp(), tags={"TIFFTAG_DATETIME": "2017:03:04 05:06:07"})
    res = up.wait(pid, up.upload(pid, f))
    assert up.image(pid, "a")["acquired"].startswith("2017-03-04T05:06:07")
    assert "from the TIFF DATETIME tag" in res["logs"]


def test_acquired_defaults_to_the_upload_time(up, clean, tmp_path):
    from datetime import UTC, datetime, timedelta

    pid = up.product()
    before = datetime.now(UTC) - timedelta(seconds=1)
    res = up.wait(pid, up.upload(pid, write_geotiff(tmp_path / "a.tif", ramp())))
    acquired = datetime.fromisoformat(up.image(pid, "a")["acquired"])
    assert before <= acquired <= datetime.now(UTC)
    assert "the upload time is used" in res["logs"]


def test_the_stored_cog_is_on_disk_and_out_of_the_page_cache_before_the_record(up, clean, tmp_path):
    """The COG is synced to disk before the image record that names it is committed (a power
    cut after the commit must not leave a record without its bytes), and its pages leave the
    page cache: the log times the step."""
    import re
    import shutil
    import subprocess

    pid = up.product()
    res = up.wait(pid, up.upload(pid, write_geotiff(tmp_path / "a.tif", ramp(side=600))))
    assert res["status"] == "SUCCESS"
    assert re.search(r"stored in \d+\.\d\d s \(on disk before the record\)", res["logs"])
    path = up.server.state.objects.path(image_row(up, pid, "a")["storage_key"])
    if shutil.which("fincore"):
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        assert int(out) < path.stat().st_size // 10
