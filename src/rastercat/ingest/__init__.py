"""Ingest: turn uploaded rasters (GeoTIFF, JPEG2000, ``.npy``) into verified COGs.

The processing here is pure (no database, no queue); the worker in ``rastercat.ingest.worker``
feeds it jobs. Entry points: :func:`process`, :func:`verify_cog`, :func:`clean_work_dir`.
"""

from __future__ import annotations

from rastercat.ingest.pipeline import clean_work_dir, process
from rastercat.ingest.types import BandSpec, IngestRequest, IngestResult
from rastercat.ingest.verify import verify_cog

__all__ = ["BandSpec", "IngestRequest", "IngestResult", "clean_work_dir", "process", "verify_cog"]
