"""Client-side upload pieces: ndarray checks (no HTTP), the .npy file, the streamed PUT, polling."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rastercat.client import uploads
from rastercat.client.catalog import Catalog
from rastercat.errors import IngestError, InvalidInput, NotFound

WKT = 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]]'
GEOTRANS = [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]


def _token(sub: str = "local|unit") -> str:
    def seg(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'none'})}.{seg({'sub': sub})}.sig"


@pytest.fixture
def offline_catalog() -> Iterator[Catalog]:
    # Port 9 (discard) on loopback: any request that slips through fails loudly instead of hanging.
    with Catalog(url="http://127.0.0.1:9", token=_token()) as catalog:
        yield catalog


# -- check_ndarray ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", uploads.NDARRAY_DTYPES)
def test_supported_dtypes_pass(dtype):
    arr = np.zeros((3, 4), dtype=dtype)
    assert uploads.check_ndarray(arr) is arr


@pytest.mark.parametrize("dtype", ["int64", "uint64", "float16", "bool", "complex64"])
def test_unsupported_dtypes_are_rejected(dtype):
    with pytest.raises(InvalidInput, match=f"dtype {dtype} is not supported"):
        uploads.check_ndarray(np.zeros((3, 4), dtype=dtype))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_wrong_dimensions_are_rejected(shape):
    with pytest.raises(InvalidInput, match="2-D .* or 3-D .* bands last"):
        uploads.check_ndarray(np.zeros(shape, dtype="uint8"))


def test_empty_and_non_arrays_are_rejected():
    with pytest.raises(InvalidInput, match="empty"):
        uploads.check_ndarray(np.zeros((0, 4), dtype="uint8"))
    with pytest.raises(InvalidInput, match="numpy array"):
        uploads.check_ndarray([[1, 2], [3, 4]])


def test_masked_array_sends_its_data():
    arr = np.ma.masked_array(
        np.arange(6, dtype="uint16").reshape(2, 3), mask=[[1, 0, 0], [0, 0, 1]]
    )
    out = uploads.check_ndarray(arr)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, np.arange(6).reshape(2, 3))


# -- ndarray_upload_body -----------------------------------------------------------------------


def test_body_with_geotrans_and_wkt():
    body = uploads.ndarray_upload_body(
        wkt_srs=WKT, geotrans=GEOTRANS, overviews=[2, 4], overview_resampler="average"
    )
    assert body == {
        "process_controls": {
            "upload_type": "ndarray",
            "overviews": [2, 4],
            "overview_resampler": "average",
        },
        "wkt_srs": WKT,
        "geotrans": GEOTRANS,
    }


def test_body_with_proj4_and_no_overviews():
    body = uploads.ndarray_upload_body(
        proj4="+proj=utm +zone=43 +datum=WGS84", geotrans=(1, 2, 0, 3, 0, -2)
    )
    assert body == {
        "process_controls": {"upload_type": "ndarray"},
        "proj4": "+proj=utm +zone=43 +datum=WGS84",
        "geotrans": [1, 2, 0, 3, 0, -2],
    }


def test_raster_meta_overrides_explicit_georeferencing():
    meta = {"geoTransform": GEOTRANS, "coordinateSystem": {"wkt": WKT}}
    body = uploads.ndarray_upload_body(wkt_srs="other", geotrans=[0] * 6, raster_meta=meta)
    assert body["wkt_srs"] == WKT
    assert body["geotrans"] == GEOTRANS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wkt_srs": WKT}, "need geotrans"),
        ({"geotrans": GEOTRANS}, "need a coordinate system"),
        ({"geotrans": GEOTRANS[:5], "wkt_srs": WKT}, "6 numbers"),
        ({"geotrans": ["a"] * 6, "wkt_srs": WKT}, "6 numbers"),
        ({"raster_meta": {"geoTransform": GEOTRANS}}, "raster_meta must hold"),
        ({"raster_meta": {"coordinateSystem": {"wkt": WKT}}}, "raster_meta must hold"),
        ({"geotrans": GEOTRANS, "wkt_srs": WKT, "overviews": list(range(2, 19))}, "at most 16"),
        ({"geotrans": GEOTRANS, "wkt_srs": WKT, "overviews": [2, 2.5]}, "integer factors"),
        ({"geotrans": GEOTRANS, "wkt_srs": WKT, "overviews": [1]}, "integer factors"),
        ({"geotrans": GEOTRANS, "wkt_srs": WKT, "overview_resampler": "bilinear"}, "not one of"),
    ],
)
def test_bad_upload_arguments_are_rejected(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        uploads.ndarray_upload_body(**kwargs)


def test_sixteen_overviews_are_allowed():
    body = uploads.ndarray_upload_body(geotrans=GEOTRANS, wkt_srs=WKT, overviews=[2] * 16)
    assert len(body["process_controls"]["overviews"]) == 16


@pytest.mark.parametrize("name", uploads.OVERVIEW_RESAMPLERS)
def test_every_documented_resampler_is_allowed(name):
    body = uploads.ndarray_upload_body(geotrans=GEOTRANS, wkt_srs=WKT, overview_resampler=name)
    assert body["process_controls"]["overview_resampler"] == name


# -- Catalog.upload_ndarray / upload_image validate before any request ------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros((2, 2), "int64"), "p", "img"), {"geotrans": GEOTRANS, "wkt_srs": WKT}, "dtype"),
        ((np.zeros((2,), "uint8"), "p", "img"), {"geotrans": GEOTRANS, "wkt_srs": WKT}, "2-D"),
        ((np.zeros((2, 2), "uint8"), "p", "img"), {"wkt_srs": WKT}, "geotrans"),
        ((np.zeros((2, 2), "uint8"), "p", "img"), {"geotrans": GEOTRANS}, "coordinate system"),
        ((np.zeros((2, 2), "uint8"), "p", ""), {"geotrans": GEOTRANS, "wkt_srs": WKT}, "image_id"),
        (
            (np.zeros((2, 2), "uint8"), "p", "img"),
            {"geotrans": GEOTRANS, "wkt_srs": WKT, "overview_resampler": "x"},
            "overview_resampler",
        ),
    ],
)
def test_upload_ndarray_validates_client_side(offline_catalog, args, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        offline_catalog.upload_ndarray(*args, **kwargs)


def test_upload_image_validates_client_side(offline_catalog, tmp_path):
    f = tmp_path / "a.tif"
    f.write_bytes(b"x")
    with pytest.raises(InvalidInput, match="no such file"):
        offline_catalog.upload_image(tmp_path / "missing.tif", "p")
    with pytest.raises(InvalidInput, match="needs image_id"):
        offline_catalog.upload_image([f], "p", multi=True)
    with pytest.raises(InvalidInput, match="list of files"):
        offline_catalog.upload_image(f, "p", multi=True, image_id="x")
    with pytest.raises(InvalidInput, match="multi=True for a list"):
        offline_catalog.upload_image([f], "p")


def test_required_band_and_product_arguments_are_type_errors(offline_catalog):
    with pytest.raises(TypeError, match="title"):
        offline_catalog.add_product("p", None, "d")
    with pytest.raises(TypeError, match="srcband, dtype"):
        offline_catalog.add_band("p", "blue", nbits=8, data_range=[0, 1], type="spectral")
    with pytest.raises(TypeError, match="product_id"):
        offline_catalog.get_product("")


def test_namespace_product(offline_catalog):
    ns = offline_catalog.namespace
    assert len(ns) == 40
    assert offline_catalog.namespace_product("prod") == f"{ns}:prod"
    assert offline_catalog.namespace_product(f"{ns}:prod") == f"{ns}:prod"


# -- npy_file --------------------------------------------------------------------------------


def test_npy_file_is_version_1_without_pickles_and_is_removed(tmp_path):
    arr = np.arange(24, dtype="<u2").reshape(2, 3, 4)[:, ::-1, :]  # not C-contiguous
    with uploads.npy_file(arr) as path:
        raw = path.read_bytes()
        assert raw[:8] == b"\x93NUMPY\x01\x00"
        back = np.load(path, allow_pickle=False)
    np.testing.assert_array_equal(back, arr)
    assert back.dtype == np.dtype("<u2")
    assert not path.exists()


# -- put_file: the unauthenticated, streamed PUT -----------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict] = []
    status = 200

    def do_PUT(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        type(self).seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def put_target() -> Iterator[type[_Recorder]]:
    handler = type("Handler", (_Recorder,), {"seen": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_put_file_streams_bytes_without_authorization(put_target, tmp_path):
    data = np.random.default_rng(0).bytes(3 * uploads.CHUNK_BYTES + 17)
    f = tmp_path / "blue.tif"
    f.write_bytes(data)
    uploads.put_file(f"{put_target.url}/uploads/tok123", f, progress=False)
    (req,) = put_target.seen
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert req["path"] == "/uploads/tok123"
    assert req["body"] == data
    assert headers["content-length"] == str(len(data))
    assert headers["content-type"] == "application/octet-stream"
    assert "authorization" not in headers
    assert "transfer-encoding" not in headers


def test_put_file_with_progress_bar(put_target, tmp_path, capsys):
    f = tmp_path / "small.tif"
    f.write_bytes(b"abc" * 1000)
    uploads.put_file(f"{put_target.url}/u", f, progress=True)
    assert put_target.seen[0]["body"] == b"abc" * 1000
    assert "small.tif" in capsys.readouterr().err


def test_put_file_raises_on_an_error_status(put_target, tmp_path):
    put_target.status = 404
    f = tmp_path / "x.tif"
    f.write_bytes(b"x")
    with pytest.raises(NotFound):
        uploads.put_file(f"{put_target.url}/uploads/expired", f, progress=False)


def test_show_progress_defaults():
    assert uploads.show_progress(10, True) is True
    assert uploads.show_progress(10**9, False) is False
    assert uploads.show_progress(10, None) is False  # small files never get a bar


# -- upload results and polling ----------------------------------------------------------------


def test_upload_attributes_wrapped_or_flat():
    wrapped = {"data": {"id": "a.tif", "attributes": {"status": "SUCCESS"}}}
    assert uploads.upload_attributes(wrapped) == {"status": "SUCCESS"}
    assert uploads.upload_attributes({"status": "FAILURE", "logs": "x"})["logs"] == "x"
    assert uploads.upload_attributes({"data": None}) == {}


def test_raise_if_failed_carries_logs_and_failure_type():
    uploads.raise_if_failed("a.tif", {"data": {"attributes": {"status": "SUCCESS"}}})
    doc = {
        "data": {
            "attributes": {"status": "FAILURE", "failure_type": "exception", "logs": "bad tiff\n"}
        }
    }
    with pytest.raises(IngestError, match="upload a.tif failed: bad tiff") as info:
        uploads.raise_if_failed("a.tif", doc)
    assert info.value.failure_type == "exception"
    with pytest.raises(IngestError, match="no log") as info:
        uploads.raise_if_failed("b.tif", {"status": "FAILURE"})
    assert info.value.failure_type == "unknown"


def test_poll_returns_first_result_and_times_out():
    calls = iter([None, None, "done"])
    assert uploads.poll(lambda: next(calls), timeout=5, interval=0.001, what="x") == "done"
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="thing not finished after 0.05 s"):
        uploads.poll(lambda: None, timeout=0.05, interval=0.01, what="thing")
    assert time.monotonic() - start < 1
    with pytest.raises(InvalidInput):
        uploads.poll(lambda: 1, timeout=1, interval=0, what="x")


def test_poll_propagates_errors_from_check():
    def check():
        raise IngestError("boom")

    with pytest.raises(IngestError):
        uploads.poll(check, timeout=5, interval=0.01, what="x")


def test_module_files_are_not_left_behind(tmp_path):
    # npy_file cleans up even when the body raises.
    holder: list[Path] = []
    with pytest.raises(RuntimeError), uploads.npy_file(np.zeros((2, 2), "uint8")) as path:
        holder.append(path)
        raise RuntimeError
    assert not holder[0].exists()
