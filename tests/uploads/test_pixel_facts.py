"""What ingest recorded about an image's pixels (its grid, CRS, files, statistics) cannot be
changed by a PATCH or PUT of the image: a null ``geotrans`` used to be accepted, and every read of
the image's pixels then failed with a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _upload_helpers import CAT, Uploader

from helpers import write_geotiff


@pytest.fixture
def processed(up: Uploader, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    pid = up.product()
    path = write_geotiff(tmp_path / "a.tif", np.full((1, 32, 32), 7, dtype="uint16"))
    assert up.wait(pid, up.upload(pid, path))["status"] == "SUCCESS"
    image = up.image(pid, "a")
    assert image is not None and image["geotrans"]
    return pid, image


@pytest.mark.parametrize(
    "change",
    [
        {"geotrans": None},
        {"raster_size": None},
        {"geotrans": [0, 1, 0, 0, 0, -1]},
        {"wkt": "nonsense"},
        {"files": ["elsewhere.tif"]},
    ],  # fmt: skip
)
def test_pixel_facts_of_a_processed_image_cannot_change(
    up: Uploader, processed: tuple[str, dict[str, Any]], change: dict[str, Any]
) -> None:
    pid, before = processed
    (field,) = change
    for method in ("PATCH", "PUT"):
        r = up.client.request(method, f"{CAT}/products/{pid}/images/a", json=change)
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["source"]["pointer"] == field
    assert up.image(pid, "a") == before  # nothing stored changed
    r = up.client.post(
        "/raster/v1/npz", json={"ids": [f"{pid}:a"], "bands": ["b1"], "outsize": [8, 8]}
    )
    assert r.status_code == 200, r.text


def test_user_attributes_still_change_and_a_replace_may_send_the_facts_back(
    up: Uploader, processed: tuple[str, dict[str, Any]]
) -> None:
    pid, before = processed
    r = up.client.patch(f"{CAT}/products/{pid}/images/a", json={"cloud_fraction": 0.25})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["cloud_fraction"] == 0.25
    same = {
        "geotrans": before["geotrans"],
        "raster_size": before["raster_size"],
        "cloud_fraction": 0.5,
    }
    r = up.client.put(f"{CAT}/products/{pid}/images/a", json=same)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["geotrans"] == before["geotrans"]
