"""Upload results: filters, paging, the run log, and ingest workers running side by side."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
from _upload_helpers import CAT

from helpers import wait_for, write_geotiff


def _results(up, pid: str, **body) -> dict:
    r = up.client.post(f"{CAT}/products/{pid}/uploads", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _upload_many(up, pid: str, tmp_path, names: list[str], bad: tuple[str, ...] = ()) -> None:
    for name in names:
        path = tmp_path / name
        if name in bad:
            path.write_text("junk")
        else:
            write_geotiff(path, np.full((1, 8, 8), 3, "uint16"))
        up.upload(pid, path)
    for name in names:
        up.wait(pid, name)


def test_status_filter_paging_and_log(up, clean, tmp_path):
    pid = up.product()
    names = [f"f{i}.tif" for i in range(5)]
    _upload_many(up, pid, tmp_path, names, bad=("f1.tif", "f3.tif"))
    everything = _results(up, pid)
    assert [d["id"] for d in everything["data"]] == names
    assert everything["meta"] == {"continuation_token": None}
    doc = everything["data"][0]
    assert doc["type"] == "upload"
    assert {"created", "exception_name", "failure_type", "peak_memory_usage", "runtime",
            "status"} <= set(doc["attributes"])  # fmt: skip
    failed = _results(up, pid, status="FAILURE")["data"]
    assert [d["id"] for d in failed] == ["f1.tif", "f3.tif"]
    assert all(d["attributes"]["failure_type"] == "exception" for d in failed)
    assert [d["id"] for d in _results(up, pid, status="success")["data"]] == [
        "f0.tif", "f2.tif", "f4.tif",
    ]  # fmt: skip
    # Paging: limit 2 -> three pages, the last with a null token.
    seen, token, pages = [], None, 0
    while True:
        body = {"limit": 2} | ({"continuation_token": token} if token else {})
        page = _results(up, pid, **body)
        seen += [d["id"] for d in page["data"]]
        pages += 1
        token = page["meta"]["continuation_token"]
        if token is None:
            break
    assert seen == names and pages == 3
    one = up.client.get(f"{CAT}/products/{pid}/uploads/f1.tif").json()["data"]
    assert one["attributes"]["status"] == "FAILURE"
    assert "f1.tif: not a readable GeoTIFF" in one["attributes"]["logs"]
    assert one["attributes"]["labels"] and "stacktrace" in one["attributes"]


def test_created_and_updated_filters(up, clean, tmp_path):
    pid = up.product()
    _upload_many(up, pid, tmp_path, ["old.tif"])
    # Timestamps have sub-second resolution; wait until the clock has visibly moved on.
    mark = datetime.now(UTC)
    wait_for(lambda: datetime.now(UTC).timestamp() > mark.timestamp() + 0.01, 5, what="clock")
    _upload_many(up, pid, tmp_path, ["new.tif"])
    for name in ("created", "updated"):
        for value in (mark.isoformat(), mark.timestamp()):
            ids = [d["id"] for d in _results(up, pid, **{name: value})["data"]]
            assert ids == ["new.tif"], (name, value)
    assert len(_results(up, pid, created=mark.timestamp() - 3600)["data"]) == 2
    assert _results(up, pid, created=time.time() + 3600)["data"] == []


def test_bad_filters_are_400(up):
    pid = up.product()
    for body in ({"limit": 0}, {"limit": "x"}, {"limit": True}, {"offset": False},
                 {"offset": -1}, {"offset": 10**12}, {"status": "DONE"},
                 {"continuation_token": "@@"}, {"created": "yesterday"}):  # fmt: skip
        r = up.client.post(f"{CAT}/products/{pid}/uploads", json=body)
        assert r.status_code == 400, (body, r.text)
    r = up.client.get(f"{CAT}/products/{pid}/uploads/nothing.tif")
    assert r.status_code == 404


def test_results_are_private_to_readers(up, server):
    pid = up.product()
    with server.client("mallory") as other:
        assert other.post(f"{CAT}/products/{pid}/uploads", json={}).status_code == 404


def test_two_workers_run_jobs_side_by_side(up, clean, tmp_path):
    """With workers=2 two jobs are RUNNING at once (observed on the job rows, no timing)."""
    import sqlalchemy as sa

    from rastercat.store.sql.repo import t

    pid = up.product()
    rng = np.random.default_rng(1)
    names = [f"p{i}.tif" for i in range(4)]
    for name in names:
        # Noisy pixels that take a moment to compress, so that runs overlap.
        write_geotiff(tmp_path / name, rng.integers(0, 60000, (1, 1500, 1500), dtype="uint16"))
    repo = up.server.state.repo
    peak = 0
    # All four PUTs at once, so that both workers find work waiting.
    urls = [up.begin(pid, name) for name in names]
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda u, n: up.put(u, (tmp_path / n).read_bytes()).status_code,
                              urls, names))  # fmt: skip
    assert codes == [200] * 4

    def all_done() -> bool:
        nonlocal peak
        with repo.tx() as conn:
            rows = conn.execute(
                sa.select(t.uploads.c.status).where(t.uploads.c.product_id == pid)
            ).all()
        peak = max(peak, sum(1 for (s,) in rows if s == "RUNNING"))
        return all(s in ("SUCCESS", "FAILURE") for (s,) in rows)

    wait_for(all_done, 120, interval=0.005, what="four jobs")
    assert peak == 2
    assert all(up.result(pid, n)["status"] == "SUCCESS" for n in names)
