"""Helpers for upload tests (imported by name: tests/uploads is on sys.path): the two-step upload
by hand over HTTP, and the list of files in a data directory that no record needs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from helpers import wait_for

CAT = "/metadata/v1/catalog"
DONE = ("SUCCESS", "FAILURE")


def band(name: str, srcband: int = 1, dtype: str = "UInt16", srcfile: int = 0) -> dict[str, Any]:
    nbits = {"Byte": 8, "UInt16": 16}[dtype]
    return {
        "name": name, "srcband": srcband, "srcfile": srcfile, "dtype": dtype, "nbits": nbits,
        "data_range": [0, 10000], "type": "spectral",
    }  # fmt: skip


def multi_body(files: list[str], image_id: str) -> dict[str, Any]:
    """The step-1 body of one file of a multi-file scene."""
    return {
        "process_controls": {
            "upload_type": "file",
            "multi_file": {"image_files": files, "image_id": image_id},
        }
    }


class Uploader:
    """The wire protocol by hand: step 1 with the user's token, step 2 with none."""

    def __init__(self, server: Any, user: str = "alice") -> None:
        self.server = server
        self.client = server.client(user)
        self.anon = httpx.Client(timeout=60)

    def product(self, bands: list[dict[str, Any]] | None = None) -> str:
        pid = f"up-{uuid.uuid4().hex[:10]}"
        r = self.client.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D"})
        assert r.status_code == 201, r.text
        pid = r.json()["data"]["id"]
        for b in bands if bands is not None else [band("b1")]:
            r = self.client.post(f"{CAT}/products/{pid}/bands", json=b)
            assert r.status_code == 201, r.text
        return pid

    def begin(self, pid: str, key: str, body: dict[str, Any] | None = None) -> str:
        body = body if body is not None else {"process_controls": {"upload_type": "file"}}
        r = self.client.post(f"{CAT}/products/{pid}/images/upload/{key}", json=body)
        assert r.status_code == 200, r.text
        assert r.text.startswith("http") and not r.text.endswith("\n")
        return r.text

    def put(self, url: str, content: Any, **kw: Any) -> httpx.Response:
        return self.anon.put(url, content=content, **kw)

    def upload(self, pid: str, path: Path, body: dict[str, Any] | None = None,
               key: str | None = None) -> str:  # fmt: skip
        """Both steps; returns the upload id."""
        key = key or path.name
        r = self.put(self.begin(pid, key, body), path.read_bytes())
        assert r.status_code == 200, r.text
        return key

    def result(self, pid: str, upload_id: str) -> dict[str, Any]:
        r = self.client.get(f"{CAT}/products/{pid}/uploads/{upload_id}")
        assert r.status_code == 200, r.text
        return r.json()["data"]["attributes"]

    def wait(self, pid: str, upload_id: str, timeout: float = 60) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            attrs = self.result(pid, upload_id)
            return attrs if attrs["status"] in DONE else None

        return wait_for(done, timeout, what=f"upload {upload_id} to finish")

    def image(self, pid: str, key: str) -> dict[str, Any] | None:
        r = self.client.get(f"{CAT}/products/{pid}/images/{key}")
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return r.json()["data"]["attributes"]

    def close(self) -> None:
        self.client.close()
        self.anon.close()


def stray_files(server: Any) -> list[str]:
    """Files in the data directory that nothing points to once every job has finished."""
    import sqlalchemy as sa

    from rastercat.store.sql.repo import t

    data = server.settings.data_dir
    with server.state.repo.tx() as conn:
        keys = {r[0] for r in conn.execute(sa.select(t.images.c.storage_key)) if r[0]}
        active = {
            r[0]
            for r in conn.execute(
                sa.select(t.uploads.c.file_key).where(t.uploads.c.status.in_(("WAITING",)))
            )
            if r[0]
        }
    stray = [k for k in _files(data / "objects") if k not in keys | active]
    for sub in ("work", "incoming"):
        stray += [f"{sub}/{k}" for k in _files(data / sub)]
    return stray


def _files(root: Path) -> list[str]:
    # os.walk ignores folders that vanish while it runs (a worker removing emptied folders).
    return [
        (Path(d) / f).relative_to(root).as_posix() for d, _, names in os.walk(root) for f in names
    ]


def assert_no_stray_files(server: Any) -> None:
    """Raw uploads are deleted just after the job's final status is committed: allow a moment."""
    last: list[list[str]] = []

    def clean() -> bool:
        last[:] = [stray_files(server)]
        return not last[0]

    try:
        wait_for(clean, 10, what="leftover files to be removed")
    except AssertionError:
        raise AssertionError(f"files left in the data directory: {last[0]}") from None
