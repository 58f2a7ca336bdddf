"""The resumable protocol on local storage, through the real HTTP app: checksums verified per part,
the parts the server holds, completion into the ordinary upload job, abort, abandoned uploads."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _resumable_helpers import CAT, make_product, root_conftest

from helpers import wait_for
from rastercat.client.catalog import Catalog
from rastercat.client.resumable import ResumableUpload
from rastercat.config import UploadClientSettings
from rastercat.store.sql.repo import t

PART = 2**20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = root_conftest()
    live = root.LiveServer(root.make_settings(tmp_path_factory.mktemp("res"))).start()
    yield live
    live.stop()


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def start(server: Any, pid: str, name: str, size: int, part: int = PART) -> dict[str, Any]:
    r = server.client("alice").post(
        f"{CAT}/products/{pid}/images/multipart/{name}",
        json={
            "process_controls": {"upload_type": "file"},
            "multipart": {"size": size, "part_size": part},
        },  # fmt: skip
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def put_part(
    session: dict[str, Any], n: int, data: bytes, checksum: str | None = None
) -> httpx.Response:
    url = session["session_url"]
    urls = httpx.post(
        f"{url}/urls",
        json={"parts": [{"part_number": n, "checksum_sha256": checksum or b64sha(data)}]},
    )
    assert urls.status_code == 200, urls.text
    target = urls.json()["parts"][0]
    return httpx.put(target["url"], content=data, headers=target["headers"])


def settings(tmp_path: Path, **kw: Any) -> UploadClientSettings:
    return UploadClientSettings(threshold_bytes=0, part_bytes=PART, parallel=3, backoff=0.01,
                                state_dir=tmp_path / "state", **kw)  # fmt: skip


def test_a_part_with_a_wrong_checksum_is_refused_naming_it(server: Any, large_tif: Path) -> None:
    pid = make_product(server)
    data = large_tif.read_bytes()[:PART]
    session = start(server, pid, "x.tif", 3 * PART)
    r = put_part(session, 1, data, checksum=b64sha(b"something else"))
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["source"]["pointer"] == "x-amz-checksum-sha256"
    assert "x-amz-checksum-sha256" in err["detail"]
    listed = httpx.get(session["session_url"]).json()
    assert listed["parts"] == []  # nothing was kept
    # A missing checksum, and a part of the wrong size, are refused too.
    r = httpx.put(f"{session['session_url']}/parts/1", content=data)
    assert r.status_code == 400 and "x-amz-checksum-sha256" in r.text
    r = put_part(session, 1, data[:100])
    assert r.status_code == 400 and "Content-Length" in r.text
    assert put_part(session, 2, data).status_code == 200
    parts = httpx.get(session["session_url"]).json()["parts"]
    assert parts == [{"part_number": 2, "size": PART, "checksum_sha256": b64sha(data)}]


class CorruptFirstPart(httpx.HTTPTransport):
    """Flips one byte of the first part PUT that passes (the network corrupting it)."""

    def __init__(self) -> None:
        super().__init__()
        self.corrupted = 0
        self.answers: list[tuple[int, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/parts/" in request.url.path and not self.corrupted:
            body = bytearray(request.read())
            body[len(body) // 2] ^= 0xFF
            self.corrupted += 1
            request = httpx.Request(
                "PUT", request.url, headers=request.headers, content=bytes(body)
            )
        response = super().handle_request(request)
        if request.method == "PUT":
            response.read()
            self.answers.append((response.status_code, response.text))
        return response


def test_the_client_sends_a_refused_part_again(
    server: Any, large_tif: Path, tmp_path: Path
) -> None:
    pid = make_product(server)
    path = tmp_path / "five.tif"
    path.write_bytes(large_tif.read_bytes()[: 5 * PART - 123])  # bytes only: not ingested
    transport = CorruptFirstPart()
    service = server.state.multipart
    with server.env(), Catalog() as catalog, httpx.Client(transport=transport) as transfer:
        upload = ResumableUpload(catalog, path, pid, "five.tif", {"process_controls": {"upload_type": "file"}},
                                 settings(tmp_path), transfer=transfer)  # fmt: skip
        assert upload.run() == "five.tif"
    refused = [a for a in transport.answers if a[0] == 400]
    assert len(refused) == 1 and "x-amz-checksum-sha256" in refused[0][1]
    assert sorted(upload.sent) == [1, 2, 3, 4, 5]
    row = server.state.repo.one(t.uploads, product_id=pid, upload_id="five.tif")
    assert row["params"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sum(c for (uid, _), c in service.received.items() if uid == row["uid"]) == 5
    assert row["status"] in ("PENDING", "RUNNING", "SUCCESS", "FAILURE")  # it became a job


def test_completion_needs_every_part_and_the_whole_checksum(server: Any, large_tif: Path) -> None:
    pid = make_product(server)
    data = large_tif.read_bytes()[: 2 * PART]
    session = start(server, pid, "two.tif", len(data))
    assert put_part(session, 1, data[:PART]).status_code == 200
    r = httpx.post(f"{session['session_url']}/complete", json={})
    assert r.status_code == 409 and "part(s) not received yet: 2" in r.text
    assert put_part(session, 2, data[PART:]).status_code == 200
    r = httpx.post(f"{session['session_url']}/complete", json={"sha256": "0" * 64})
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == "sha256"
    r = httpx.post(
        f"{session['session_url']}/complete", json={"sha256": hashlib.sha256(data).hexdigest()}
    )
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert r.json()["status"] == "PENDING"
    # Completing again answers the upload as it is; parts are gone; the 0.17 result shows the hash.
    again = httpx.post(f"{session['session_url']}/complete", json={})
    assert again.status_code == 200 and again.json()["status"] != "UPLOADING"
    doc = server.client("alice").get(f"{CAT}/products/{pid}/uploads/two.tif").json()
    assert doc["data"]["attributes"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert not (server.settings.data_dir / "multipart" / session["upload_uid"]).exists()


def test_step_one_is_checked_like_a_put_upload(server: Any) -> None:
    pid = make_product(server)
    c = server.client("alice")
    url = f"{CAT}/products/{pid}/images/multipart/a.tif"
    r = c.post(url, json={"multipart": {"size": 10, "part_size": 10}})
    assert r.status_code == 400 and "part_size" in r.text
    r = c.post(url, json={"multipart": {"size": 2**50, "part_size": 2**24}})
    assert r.status_code == 413
    r = c.post(url, json={"multipart": {"size": 10 * PART, "part_size": PART}, "nonsense": 1})
    assert r.status_code == 400
    r = server.client("bob").post(url, json={"multipart": {"size": 10 * PART, "part_size": PART}})
    assert r.status_code in (403, 404)
    # The single PUT of the 0.17 protocol cannot take a resumable upload's row.
    session = start(server, pid, "b.tif", 2 * PART)
    assert httpx.get(session["session_url"].replace("/multipart/", "/x/")).status_code in (404, 405)


def test_abort_and_abandoned_uploads_leave_nothing(server: Any, large_tif: Path) -> None:
    pid = make_product(server)
    data = large_tif.read_bytes()[:PART]
    folder = server.settings.data_dir / "multipart"
    aborted = start(server, pid, "ab.tif", 3 * PART)
    assert put_part(aborted, 1, data).status_code == 200
    assert httpx.delete(aborted["session_url"]).status_code == 204
    assert not (folder / aborted["upload_uid"]).exists()
    r = httpx.post(f"{aborted['session_url']}/urls",
                   json={"parts": [{"part_number": 2, "checksum_sha256": b64sha(data)}]})  # fmt: skip
    assert r.status_code == 409 and "FAILURE" in r.text
    r = httpx.put(f"{aborted['session_url']}/parts/2", content=data,
                  headers={"x-amz-checksum-sha256": b64sha(data)})  # fmt: skip
    assert r.status_code == 409

    idle = start(server, pid, "idle.tif", 3 * PART)
    assert put_part(idle, 1, data).status_code == 200
    repo = server.state.repo
    with repo.tx() as conn:  # the idle timeout has passed (no part, no heartbeat)
        conn.execute(sa.update(t.uploads).where(t.uploads.c.uid == idle["upload_uid"])
                     .values(lease_until=time.time() - 3600))  # fmt: skip
    thread = server.state.maintenance
    thread.maintenance._next_expiry = 0.0  # its next round looks at uploads (else within 30 s)
    thread.wake()
    wait_for(lambda: not (folder / idle["upload_uid"]).exists(), 30,
             what="maintenance to remove the abandoned parts")  # fmt: skip
    row = repo.one(t.uploads, uid=idle["upload_uid"])
    assert row["status"] == "FAILURE" and "stalled" in row["log"]
    assert httpx.get(idle["session_url"]).json()["status"] == "FAILURE"


def test_a_multi_file_scene_resumes_file_by_file(
    server: Any, large_tif: Path, tmp_path: Path
) -> None:
    pid = make_product(server)
    files = []
    for i in (1, 2):
        path = tmp_path / f"m{i}.tif"
        path.write_bytes(large_tif.read_bytes()[: 2 * PART + i])
        files.append(str(path))
    service = server.state.multipart
    with server.env(), Catalog() as catalog:
        catalog.upload_settings = settings(tmp_path)
        # The first run dies while sending the second file (its state dir is made unwritable
        # only for that file: simulate by sending the first file alone, keeping its state).
        catalog._keep_states = []
        catalog._send(Path(files[0]), pid, {"process_controls": {
            "upload_type": "file", "multi_file": {"image_files": ["m1.tif", "m2.tif"], "image_id": "scene"}}},
            "scene", False)  # fmt: skip
        catalog._keep_states = None
        first = dict(service.received)
        ids = catalog.upload_image(files, pid, multi=True, image_id="scene", progress=False)
    assert ids == ["m1.tif", "m2.tif"]
    after = dict(service.received)
    uid1 = server.state.repo.one(t.uploads, product_id=pid, upload_id="m1.tif")["uid"]
    # m1 was not sent again: its parts were counted once, before the second run.
    assert {k: v for k, v in after.items() if k[0] == uid1} == {
        k: v for k, v in first.items() if k[0] == uid1
    }
    assert server.state.repo.count(t.uploads, t.uploads.c.product_id == pid) == 2
    assert list((tmp_path / "state").glob("*.json")) == []


class CutThirdPut(httpx.HTTPTransport):
    """The connection drops during the third part PUT (once)."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.puts += 1
            if self.puts == 3:
                raise httpx.WriteError("connection reset by peer")
        return super().handle_request(request)


def test_a_cut_connection_is_retried(server: Any, large_tif: Path, tmp_path: Path) -> None:
    pid = make_product(server)
    path = tmp_path / "cut.tif"
    path.write_bytes(large_tif.read_bytes()[: 4 * PART])
    transport = CutThirdPut()
    with server.env(), Catalog() as catalog, httpx.Client(transport=transport) as transfer:
        upload = ResumableUpload(catalog, path, pid, "cut.tif", {}, settings(tmp_path),
                                 transfer=transfer)  # fmt: skip
        upload.run()
    assert transport.puts == 5 and sorted(upload.sent) == [1, 2, 3, 4]
    row = server.state.repo.one(t.uploads, product_id=pid, upload_id="cut.tif")
    assert row["params"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_upload_resumes_across_a_server_restart(server_factory: Any, large_tif: Path,
                                                   tmp_path: Path) -> None:  # fmt: skip
    first = server_factory(tmp_path / "data")
    pid = make_product(first)
    data = large_tif.read_bytes()[: 2 * PART]
    session = start(first, pid, "restart.tif", len(data))
    assert put_part(session, 1, data[:PART]).status_code == 200
    first.stop()
    second = server_factory(tmp_path / "data")  # its start-up sweep gives up the old holds
    session["session_url"] = session["session_url"].replace(first.url, second.url)
    held = httpx.get(session["session_url"]).json()
    assert [p["part_number"] for p in held["parts"]] == [1]
    assert put_part(session, 2, data[PART:]).status_code == 200
    r = httpx.post(
        f"{session['session_url']}/complete", json={"sha256": hashlib.sha256(data).hexdigest()}
    )
    assert r.status_code == 200 and r.json()["status"] == "PENDING", r.text


def test_session_routes_read_no_large_json_body(server: Any) -> None:
    """Routes under /uploads/ skip the app's body cap: the session's JSON routes check the
    session URL before reading anything, and read at most 1 MiB."""
    pid = make_product(server)
    session = start(server, pid, "json.tif", 2 * PART)
    big = b'{"parts": [' + b" " * (2 * 2**20) + b"]}"
    forged = session["session_url"].rsplit("/", 1)[0] + "/not-a-token"
    for url in (f"{forged}/urls", f"{forged}/complete"):
        assert httpx.post(url, content=big).status_code == 403
    for url in (f"{session['session_url']}/urls", f"{session['session_url']}/complete"):
        r = httpx.post(url, content=big)
        assert r.status_code == 413 and "1048576 bytes" in r.text
    r = httpx.post(f"{session['session_url']}/urls", content=b"{not json")
    assert r.status_code == 400 and "not JSON" in r.text


def test_parts_in_odd_chunks_are_hashed_and_kept_byte_for_byte(server: Any) -> None:
    """Parts of several receiving blocks, sent chunked in pieces that straddle the blocks: each
    part's SHA-256 is checked as it arrives, and completion hashes the parts kept on disk."""
    from rastercat.store.spool import BLOCK

    def chunked(data: bytes, size: int = 99_999) -> Any:
        return (data[i : i + size] for i in range(0, len(data), size))

    pid = make_product(server)
    part = 3 * BLOCK + 7
    data = os.urandom(part + BLOCK // 2)
    session = start(server, pid, "odd.tif", len(data), part=part)
    pieces = (data[:part], data[part:])
    urls = httpx.post(
        f"{session['session_url']}/urls",
        json={"parts": [{"part_number": n, "checksum_sha256": b64sha(p)}
                        for n, p in enumerate(pieces, 1)]},
    )  # fmt: skip
    assert urls.status_code == 200, urls.text
    for target, piece in zip(urls.json()["parts"], pieces, strict=True):
        r = httpx.put(target["url"], content=chunked(piece), headers=target["headers"])
        assert r.status_code == 200, r.text
    whole = hashlib.sha256(data).hexdigest()
    r = httpx.post(f"{session['session_url']}/complete", json={"sha256": whole})
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == whole
