"""Step 1 refuses upload names that could never be stored, before any byte is sent: a 400 naming
the field, never a 500 after the upload."""

from __future__ import annotations

import pytest
from _upload_helpers import CAT

BODY = {"process_controls": {"upload_type": "file"}}


def _begin(up, pid: str, raw_key: str, body: dict | None = None):
    return up.client.post(f"{CAT}/products/{pid}/images/upload/{raw_key}", json=body or BODY)


@pytest.mark.parametrize(
    "raw_key",
    [
        "%2E",  # "." once decoded (a client would normalize a literal "." away)
        "%2E%2E",
        "a..tif",
        "x" * 256 + ".tif",  # 260 characters: longer than one file name may be
        "x" * 297 + ".tif",
        "é" * 130 + ".tif",  # 134 characters but 264 bytes
        "bad%5Cname.tif",  # a backslash
    ],
)
def test_unstorable_upload_names_are_400_at_step_one(up, clean, raw_key):
    pid = up.product()
    r = _begin(up, pid, raw_key)
    assert r.status_code == 400, r.text
    err = r.json()["errors"][0]
    assert err["source"]["pointer"] == "key"
    assert "upload file name" in err["detail"]
    assert up.client.post(f"{CAT}/products/{pid}/uploads", json={}).json()["data"] == []


def test_the_longest_storable_name_is_accepted_and_stored(up, clean, tmp_path):
    import numpy as np

    from helpers import write_geotiff

    pid = up.product()
    name = "n" * 251 + ".tif"  # exactly 255 bytes
    path = write_geotiff(tmp_path / "t.tif", np.ones((8, 8), "uint16"))
    url = up.begin(pid, name)
    assert up.put(url, path.read_bytes()).status_code == 200
    assert up.wait(pid, name)["status"] == "SUCCESS"


def test_multi_file_names_are_checked_like_upload_names(up, clean):
    pid = up.product()
    long = "m" * 256 + ".tif"
    body = {
        "process_controls": {
            "upload_type": "file",
            "multi_file": {"image_files": ["a.tif", long], "image_id": "scene"},
        }
    }
    r = _begin(up, pid, "a.tif", body)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == "multi_file"


def test_an_image_id_of_a_dot_is_refused_everywhere(up):
    pid = up.product()
    r = up.client.post(f"{CAT}/products/{pid}/images", json={"id": "."})
    assert r.status_code == 400, r.text
    r = _begin(up, pid, "x.tif", {**BODY, "image_id": "."})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == "id"
