"""Coordinate reference systems named in requests: parsed by pyproj, handed to GDAL only as WKT.

A CRS string from a request is hostile. GDAL's own parser (``OSRSetFromUserInput``, behind
``rasterio.crs.CRS.from_user_input``) fetches URLs, opens files and ``/vsi…`` paths and reads them
as WKT, so an ``srs`` of ``http://10.0.0.5:6379/`` makes the server probe its network. pyproj
resolves names only from its own database; its WKT is all GDAL ever sees. Grid files named
inside a CRS (``+nadgrids=``, ``PARAMETERFILE[…]``) are refused too: PROJ would open them (or
fetch them) when the CRS is used to transform.
"""

from __future__ import annotations

import re

import pyproj
from pyproj.exceptions import CRSError as PyprojCRSError
from rasterio.crs import CRS
from rasterio.errors import CRSError

from rastercat.errors import InvalidInput

#: Longer than any real WKT or PROJJSON (a few kB); bounds parsing work.
MAX_CRS_CHARS = 32_768

_EPSG = re.compile(r"^epsg:(\d{1,9})$", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.\-]*:/", re.IGNORECASE)
_WINDOWS_PATH = re.compile(r"^[a-z]:[\\/]", re.IGNORECASE)
_INIT = re.compile(r"\+init=(\S*)", re.IGNORECASE)
_INIT_OK = re.compile(r"^[a-z][a-z0-9_]*:[a-z0-9_]+$", re.IGNORECASE)
#: Grid files named in a WKT export: as parameters, or in a PROJ string that GDAL keeps (a WKT1
#: ``EXTENSION["PROJ4", …]`` becomes a ``REMARK`` and back). The null grid is built into PROJ.
_GRID_FILE = re.compile(r'PARAMETERFILE\[\s*"[^"]*"\s*,\s*"([^"]*)"')
_GRID_LIST = re.compile(r"\+(?:nadgrids|geoidgrids|grids)=([^\s\"\]]+)", re.IGNORECASE)
_BUILTIN_GRIDS = frozenset({"null"})


def _grid_files(wkt: str) -> list[str]:
    named = _GRID_FILE.findall(wkt)
    named += [g for found in _GRID_LIST.findall(wkt) for g in found.split(",")]
    return [g for g in named if g.lstrip("@").lower() not in _BUILTIN_GRIDS]


def _refuse(field: str, value: str, why: str) -> InvalidInput:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return InvalidInput(
        f"Invalid {field}: {shown!r} {why}; give an EPSG code (EPSG:4326), a PROJ string, "
        "WKT or PROJJSON",
        field=field,
    )


def _refuse_references(text: str, field: str) -> None:
    """Refuse what names something outside pyproj's database: URLs, paths, /vsi names."""
    lowered = text.lower()
    if _URL.match(text) or lowered.startswith("file:"):
        raise _refuse(field, text, "is a URL, not a coordinate reference system")
    if "/vsi" in lowered:
        raise _refuse(field, text, "names a GDAL virtual file, not a coordinate reference system")
    if text.startswith(("/", "\\", "./", "../", "~", "@")) or _WINDOWS_PATH.match(text):
        raise _refuse(field, text, "is a file path, not a coordinate reference system")
    for init in _INIT.findall(text):
        # PROJ reads ``+init=<file>:<id>`` from a file; only ``+init=epsg:4326`` style is allowed.
        if not _INIT_OK.match(init):
            raise _refuse(field, text, "names an init file")


def request_wkt(value: object, field: str) -> str:
    """pyproj's WKT of a request's CRS string; :class:`InvalidInput` naming ``field``.

    Accepts ``EPSG:n`` (and other authorities), PROJ strings, WKT and PROJJSON.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"Invalid {field}: a CRS must be a non-empty string", field=field)
    text = value.strip()
    if len(text) > MAX_CRS_CHARS:
        raise InvalidInput(
            f"Invalid {field}: a CRS is at most {MAX_CRS_CHARS} characters", field=field
        )
    _refuse_references(text, field)
    try:
        wkt = pyproj.CRS.from_user_input(text).to_wkt()
    except (PyprojCRSError, TypeError, ValueError) as exc:
        raise _refuse(field, text, f"is not a known CRS ({exc})") from None
    if not wkt:
        raise _refuse(field, text, "cannot be written as WKT")
    for init in _INIT.findall(wkt):
        if not _INIT_OK.match(init):
            raise _refuse(field, text, "names an init file")
    grids = _grid_files(wkt)
    if grids:
        raise _refuse(field, text, f"depends on grid file {grids[0]!r}")
    return wkt


def request_crs(value: object, field: str) -> CRS:
    """The rasterio CRS of a request's CRS string (see :func:`request_wkt`).

    GDAL receives pyproj's WKT or, for a bare ``EPSG:n``, the code: GDAL resolves it from its own
    database, so outputs keep GDAL's definition of the code (with all its authority nodes).
    """
    wkt = request_wkt(value, field)
    assert isinstance(value, str)
    epsg = _EPSG.match(value.strip())
    try:
        return CRS.from_epsg(int(epsg.group(1))) if epsg else CRS.from_wkt(wkt)
    except CRSError as exc:
        raise _refuse(field, value.strip(), f"is not usable ({exc})") from None
