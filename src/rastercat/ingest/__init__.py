"""Ingest: turn uploaded rasters (GeoTIFF, JPEG2000, ``.npy``) into verified COGs.

Two halves: the file processing (``probe``, ``to_cog``, ``verify``, ``footprint``, ``stats``,
``pipeline``, ``inplace``: no database, no queue; entry points :func:`process`, :func:`verify_cog`,
:func:`clean_work_dir`) and the job side that feeds it (``jobs``, ``lease``, ``worker``,
``isolated``, ``celery_app``, ``register``), which reads and writes the catalog through
``rastercat.store.sql`` repositories.
"""

from __future__ import annotations

from rastercat.ingest.pipeline import clean_work_dir, process
from rastercat.ingest.types import BandSpec, IngestRequest, IngestResult
from rastercat.ingest.verify import verify_cog

__all__ = ["BandSpec", "IngestRequest", "IngestResult", "clean_work_dir", "process", "verify_cog"]
