"""Long polling of upload results (``GET .../uploads/{id}?wait=S``) and the SDK waits built on it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from _upload_helpers import CAT, band, multi_body

from helpers import wait_for, write_geotiff


def test_wait_holds_the_request_until_the_upload_finishes(up, clean, tmp_path):
    pid = up.product([band("b1", srcfile=0), band("b2", srcfile=1)])
    for name, value in (("a.tif", 1), ("b.tif", 2)):
        write_geotiff(tmp_path / name, np.full((1, 16, 16), value, "uint16"))
    body = multi_body(["a.tif", "b.tif"], "scene")
    up.upload(pid, tmp_path / "a.tif", body)  # WAITING for b.tif: nothing can finish it yet

    # A short wait on an unfinished upload is held for the whole wait, then answered as it is.
    started = time.monotonic()
    r = up.client.get(f"{CAT}/products/{pid}/uploads/a.tif", params={"wait": "0.6"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "WAITING"
    assert time.monotonic() - started >= 0.6

    # A long wait, sent before the last file arrives, answers as soon as the scene is processed.
    sent: list[float] = []
    hooks = {"request": [lambda request: sent.append(time.monotonic())]}
    with (
        httpx.Client(
            base_url=up.server.url, headers=dict(up.client.headers), timeout=90, event_hooks=hooks
        ) as waiter,
        ThreadPoolExecutor(1) as pool,
    ):
        held = pool.submit(waiter.get, f"{CAT}/products/{pid}/uploads/a.tif", params={"wait": "60"})
        wait_for(lambda: sent, 10, what="the waiting request to be sent")
        assert not held.done()
        up.upload(pid, tmp_path / "b.tif", body)
        r = held.result(timeout=60)
    assert r.status_code == 200, r.text
    attrs = r.json()["data"]["attributes"]
    assert attrs["status"] == "SUCCESS", attrs
    assert "SUCCESS: image" in attrs["logs"]
    assert up.image(pid, "scene") is not None


def test_wait_returns_at_once_for_a_finished_upload_and_reports_failures(up, clean, tmp_path):
    pid = up.product()
    (tmp_path / "junk.tif").write_text("not a raster")
    up.upload(pid, tmp_path / "junk.tif")
    r = up.client.get(f"{CAT}/products/{pid}/uploads/junk.tif", params={"wait": "60"})
    assert r.status_code == 200
    attrs = r.json()["data"]["attributes"]
    assert attrs["status"] == "FAILURE"
    assert "not a readable GeoTIFF" in attrs["logs"]
    # Finished: a second long poll does not wait at all (the test's own timeout would show it).
    with httpx.Client(base_url=up.server.url, headers=dict(up.client.headers), timeout=5) as quick:
        again = quick.get(f"{CAT}/products/{pid}/uploads/junk.tif", params={"wait": "60"})
    assert again.json()["data"]["attributes"]["status"] == "FAILURE"


@pytest.mark.parametrize("value", ["abc", "-1", "61", "nan", "inf", ""])
def test_bad_wait_is_a_400_naming_wait(up, value):
    pid = up.product()
    r = up.client.get(f"{CAT}/products/{pid}/uploads/x.tif", params={"wait": value})
    assert r.status_code == 400, r.text
    assert "'wait'" in r.text


def test_wait_on_an_unknown_or_hidden_upload_is_404_without_waiting(up, server, tmp_path):
    pid = up.product()
    write_geotiff(tmp_path / "mine.tif", np.ones((1, 8, 8), "uint16"))
    up.upload(pid, tmp_path / "mine.tif")
    with httpx.Client(base_url=server.url, headers=dict(up.client.headers), timeout=5) as c:
        r = c.get(f"{CAT}/products/{pid}/uploads/nothing.tif", params={"wait": "60"})
        assert r.status_code == 404 and "nothing.tif" in r.text
    with server.client("mallory") as other:
        r = other.get(f"{CAT}/products/{pid}/uploads/mine.tif", params={"wait": "60"}, timeout=5)
    assert r.status_code == 404


def test_sdk_waits_need_no_polling_loop(live_server, tmp_path):
    """``wait_for_upload`` and ``wait_for_image`` make one long-polling request, however long
    processing takes (with ``poll=30`` a polling client would sleep half a minute)."""
    import rastercat as rc

    catalog = rc.Catalog(url=live_server.url, token=live_server.token("sdkwait"))
    requests: list[str] = []
    catalog._client.event_hooks["request"].append(lambda r: requests.append(r.url.path))
    pid = catalog.add_product(f"wait-{time.time_ns()}", title="T", description="D")["data"]["id"]
    catalog.add_band(pid, name="b1", srcband=1, dtype="UInt16", nbits=16, data_range=[0, 100],
                     type="spectral")  # fmt: skip
    write_geotiff(tmp_path / "one.tif", np.full((1, 64, 64), 5, "uint16"))
    write_geotiff(tmp_path / "two.tif", np.full((1, 64, 64), 6, "uint16"))
    upload_id = catalog.upload_image(str(tmp_path / "one.tif"), pid)
    requests.clear()
    started = time.monotonic()
    result = catalog.wait_for_upload(pid, upload_id, timeout=60, poll=30)
    assert result["data"]["attributes"]["status"] == "SUCCESS"
    catalog.upload_image(str(tmp_path / "two.tif"), pid)
    image = catalog.wait_for_image(pid, "two", timeout=60, poll=30)
    assert image["data"]["id"] == f"{pid}:two"
    assert time.monotonic() - started < 30
    waits = [p for p in requests if "/uploads/" in p]
    assert 1 <= len(waits) <= 3, requests


def test_a_job_finished_by_another_process_releases_the_wait(server_factory, tmp_path):
    """An API-only server (``--no-workers``) gets no signal when a worker elsewhere finishes a
    job: its held request notices by re-reading the job, and answers SUCCESS."""
    from _upload_helpers import Uploader

    from rastercat.ingest.jobs import JobRunner

    server = server_factory(start_workers=False)
    up = Uploader(server)
    try:
        pid = up.product()
        up.upload(pid, write_geotiff(tmp_path / "far.tif", np.full((1, 16, 16), 4, "uint16")))
        assert up.result(pid, "far.tif")["status"] == "PENDING"
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                up.client.get, f"{CAT}/products/{pid}/uploads/far.tif", params={"wait": "60"}
            )
            # A worker of its own, as another process would run it: it signals nobody.
            runner = JobRunner(server.state.repo, server.state.objects, server.settings)
            job = runner.claim()
            assert job is not None and runner.run(job) == "SUCCESS"
            r = held.result(timeout=30)
        assert r.status_code == 200 and r.json()["data"]["attributes"]["status"] == "SUCCESS"
    finally:
        up.close()
