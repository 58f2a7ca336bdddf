"""Raster service routes (wire protocol §4), mounted at ``/raster/v1``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
