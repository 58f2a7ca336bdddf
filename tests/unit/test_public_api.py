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


# The status of every public error class, written out: a class that loses its status (and falls
# back to 500) or changes it fails here.
EXPECTED_STATUS = {
    "InvalidInput": 400, "BadRequestError": 400, "InvalidBatch": 400, "IngestError": 400,
    "Unauthenticated": 401, "Forbidden": 403, "NotFound": 404, "NotFoundError": 404,
    "Conflict": 409, "ConflictError": 409, "ConflictingBatch": 409, "PayloadTooLarge": 413,
    "RateLimited": 429, "ServiceError": 500, "ServerError": 500, "StoreError": 503,
    "BatchError": 500, "RastercatError": 500,
}  # fmt: skip


def test_every_error_has_its_status_and_descends_from_the_root():
    classes = [n for n in errors.__all__ if isinstance(getattr(errors, n), type)]
    assert set(classes) == set(EXPECTED_STATUS)
    for name in classes:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.RastercatError)
        assert status_for(cls("x")) == EXPECTED_STATUS[name], name
    assert set(STATUS_CODES) == set(errors.HTTP_ERRORS)
    assert all(STATUS_CODES[cls] == cls.status for cls in STATUS_CODES)
    assert issubclass(errors.InvalidInput, ValueError) and issubclass(errors.NotFound, LookupError)
