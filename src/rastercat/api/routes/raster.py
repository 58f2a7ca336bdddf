"""Raster service routes (wire protocol §4), mounted at ``/raster/v1``.

Reads run in a worker thread (GDAL off the event loop) once one of the app's read slots is free.
``/npz`` is never compressed at the HTTP layer: the client reads the raw socket stream.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Response
from fastapi.responses import StreamingResponse

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.catalog.sources import resolve
from rastercat.errors import InvalidInput
from rastercat.protocol.bodies import json_object
from rastercat.protocol.dl017.documents import flat_band
from rastercat.raster import dltile as dl
from rastercat.raster.encode import blosc_stream, default_basename, npz_bytes, raster_files
from rastercat.raster.grid import plan_grid
from rastercat.raster.read import RasterResult, read
from rastercat.raster.request import RasterRequest, parse_cutline
from rastercat.raster.types import GDAL_TO_NUMPY

router = APIRouter()
AnyBody = Body(default_factory=dict)


def _read(state: Any, p: Any, body: Any) -> tuple[RasterRequest, RasterResult, list[Any]]:
    body = json_object(body)
    req = RasterRequest.parse(body)
    sources, bands = resolve(p, state.metadata, state.objects, req.id_list, req.bands)
    # The npz metadata describes each band as the Metadata service shows it.
    bands = [replace(b, metadata=flat_band(b.facts)) for b in bands]
    work = np.result_type(*(np.dtype(GDAL_TO_NUMPY[b.dtype]) for b in bands))
    dtype = np.dtype(GDAL_TO_NUMPY[req.ot]) if req.ot else work
    grid = plan_grid(req, sources, state.settings.limits, len(bands), dtype, work)
    cutline = parse_cutline(req.shape) if req.shape else None
    result = read(
        sources,
        bands,
        grid,
        resampling=req.resampleAlg or "near",
        scales=req.scales,
        out_dtype=req.ot,
        cutline=cutline,
    )
    return req, result, bands


@router.post("/npz")
async def npz(state: StateDep, p: PrincipalDep, body: Any = AnyBody) -> Response:
    # The read and its encoding take one of the app's read slots (waiting, if need be, here).
    return await state.read_slots.run(_npz, state, p, body)


def _npz(state: Any, p: Any, body: Any) -> Response:
    req, result, _ = _read(state, p, body)
    if (req.of or "npz") == "blosc":
        return StreamingResponse(
            blosc_stream(result.metadata, result.data), media_type="application/octet-stream"
        )
    return Response(npz_bytes(result.metadata, result.data), media_type="application/octet-stream")


@router.post("/raster")
async def raster(state: StateDep, p: PrincipalDep, body: Any = AnyBody) -> Response:
    return await state.read_slots.run(_raster, state, p, body)


def _raster(state: Any, p: Any, body: Any) -> Response:
    req, result, bands = _read(state, p, body)
    fmt = req.of or "GTiff"
    name = default_basename(req.id_list, [b.name for b in bands])
    payload = raster_files(result.metadata, result.data, result.mask, result.grid, bands, fmt, name)  # type: ignore[arg-type]
    return Response(payload, media_type="application/octet-stream")


@router.get("/dlkeys/from_latlon/{lat}/{lon}")
def dltile_from_latlon(
    p: PrincipalDep, lat: float, lon: float, resolution: float, tilesize: int, pad: int = 0
) -> dict:
    return dl.dltile_from_latlon(lat, lon, resolution, tilesize, pad)


@router.post("/dlkeys/from_shape")
def dltiles_from_shape(p: PrincipalDep, body: Any = AnyBody) -> dict:
    body = json_object(body)
    try:
        return dl.dltiles_from_shape(
            body["shape"],
            body["resolution"],
            body["tilesize"],
            body.get("pad", 0),
            body.get("maxtiles", 5000),
            start_zone=body.get("start_zone"),
            start_ti=body.get("start_ti"),
            start_tj=body.get("start_tj"),
        )
    except KeyError as exc:
        raise InvalidInput(f"missing {exc.args[0]!r}", field=str(exc.args[0])) from None


@router.get("/dlkeys/{key}")
def dltile(p: PrincipalDep, key: str) -> dict:
    return dl.dltile_from_key(key)
