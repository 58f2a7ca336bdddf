"""The curated public API, and no work at import time."""

from __future__ import annotations

import subprocess
import sys

import rastercat
from rastercat import errors
from rastercat.api.errors import STATUS_CODES, status_for


def test_public_names():
    assert sorted(rastercat.__all__) == [
        "Catalog", "Metadata", "Raster", "__version__", "errors", "load", "properties", "scenes",
    ]  # fmt: skip
    for name in rastercat.__all__:
        assert getattr(rastercat, name) is not None
    assert rastercat.scenes.Scene.from_id and rastercat.scenes.display and rastercat.scenes.search


def test_import_is_cheap_and_does_no_work():
    code = (
        "import sys, rastercat; "
        "heavy = [m for m in ('fastapi', 'rasterio', 'sqlalchemy', 'httpx', 'numpy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_error_has_a_status_and_descends_from_the_root():
    classes = [getattr(errors, n) for n in errors.__all__]
    for cls in classes:
        assert issubclass(cls, errors.RastercatError)
        assert status_for(cls("x")) in {400, 401, 403, 404, 409, 413, 429, 500, 503}
    assert set(STATUS_CODES) <= set(classes)
    assert issubclass(errors.InvalidInput, ValueError) and issubclass(errors.NotFound, LookupError)
