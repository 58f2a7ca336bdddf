"""Which hrefs an administrator's settings allow: resolved paths inside a root, allowed buckets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rastercat.config import RegisterSettings
from rastercat.errors import Forbidden, InvalidInput
from rastercat.ingest.register import resolve_location


def test_a_sibling_folder_sharing_the_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "cogs").mkdir()
    (tmp_path / "cogs2").mkdir()
    (tmp_path / "cogs2" / "x.tif").write_bytes(b"x")
    (tmp_path / "cogs" / "y.tif").write_bytes(b"y")
    allowed = RegisterSettings(roots=[Path(str(tmp_path / "cogs") + "/")])
    with pytest.raises(Forbidden, match="RASTERCAT_REGISTER__ROOTS"):
        resolve_location(str(tmp_path / "cogs2" / "x.tif"), allowed)
    loc = resolve_location(str(tmp_path / "cogs" / "." / "y.tif"), allowed)
    assert loc.href == str((tmp_path / "cogs" / "y.tif").resolve()) and loc.name == "y.tif"


def test_a_root_that_is_a_symlink_is_resolved_too(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.tif").write_bytes(b"a")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    loc = resolve_location(
        str(tmp_path / "link" / "a.tif"), RegisterSettings(roots=[tmp_path / "link"])
    )
    assert loc.path == (tmp_path / "real" / "a.tif").resolve()


def test_buckets_and_malformed_hrefs() -> None:
    allowed = RegisterSettings(buckets=["archive"])
    loc = resolve_location("s3://archive/scenes/a.tif", allowed)
    assert (loc.bucket, loc.key, loc.name) == ("archive", "scenes/a.tif", "a.tif")
    for href in (
        "s3://archive/", "s3://archive/a/../b.tif", "s3://archive/dir/", "s3://archive/a//b.tif",
        "s3://archive/a.tif\x00.png", "/data/cogs/a\x00.tif",
    ):  # fmt: skip
        with pytest.raises(InvalidInput):
            resolve_location(href, allowed)
    with pytest.raises(Forbidden, match="RASTERCAT_REGISTER__BUCKETS"):
        resolve_location("s3://archive2/a.tif", allowed)
    with pytest.raises(Forbidden, match="RASTERCAT_REGISTER__ROOTS"):
        resolve_location("/vsicurl/http://127.0.0.1/x.tif", allowed)
    with pytest.raises(InvalidInput):
        resolve_location("", allowed)
