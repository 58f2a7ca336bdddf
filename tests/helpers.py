"""Helpers shared by tests: polling with a deadline, and small real rasters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


def wait_for(
    predicate: Any, timeout: float = 60, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll until ``predicate()`` returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def app_routes(app: Any) -> list[Any]:
    """Every route of ``app`` with its full path (``path``, ``methods``, ``endpoint``,
    ``matches``), included routers expanded: FastAPI 0.137 and later keeps each included router as
    one node of ``app.routes``, with no ``path`` of its own (a loop over ``app.routes`` that reads
    ``path`` sees none of their routes)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before 0.137: app.routes is flat already
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def write_geotiff(
    path: Path,
    data: np.ndarray,
    *,
    crs: str = "EPSG:32643",
    transform: tuple[float, ...] = (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0),
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a GeoTIFF with rasterio; ``data`` is (bands, rows, cols) or (rows, cols)."""
    import rasterio
    from affine import Affine

    arr = data if data.ndim == 3 else data[np.newaxis]
    profile = {
        "driver": "GTiff",
        "width": arr.shape[2],
        "height": arr.shape[1],
        "count": arr.shape[0],
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": Affine.from_gdal(*transform),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        if tags:
            dst.update_tags(**tags)
    return path


def insert_images(
    repo: Any,
    product: dict[str, Any],
    records: dict[str, dict[str, Any]],
    storage: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Image records ``{key: attributes}`` written straight through the store's one image writer
    (``Images.create_many``: the rows, permissions and spatial index of bulk records), thousands
    per second instead of one request each; the product's permissions. ``storage`` gives some keys
    storage columns (``{key: {"storage_key": ...}}``). Returns the image ids."""
    from rastercat.store.sql.images import Images, image_columns, new_image_row
    from rastercat.store.sql.repo import utcnow

    now = utcnow()
    storage = storage or {}
    rows = [
        new_image_row(product, key, {**image_columns(dict(attrs)), **storage.get(key, {})}, {}, now)
        for key, attrs in records.items()
    ]
    with repo.tx() as conn:
        return Images(repo).create_many(conn, rows)


def migrated_repo(request: Any, tmp_path: Path) -> Any:
    """A migrated catalog for a test parametrized over ``["sqlite", "postgresql"]``: a SQLite file
    in ``tmp_path``, or the session's PostgreSQL database (the ``pg_url`` fixture). The caller
    disposes of ``repo.engine``."""
    from rastercat.store.sql.engine import make_engine, migrate
    from rastercat.store.sql.repo import Repo

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine)
    return Repo(engine)
