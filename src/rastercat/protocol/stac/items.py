"""STAC Items from image rows: properties, the Projection, Raster and EO extensions, and assets.

An Item carries what a client needs to read the pixels without opening the file: the footprint,
the grid (``proj:*``), the band types (``raster:bands``) and an asset href that GDAL opens as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from rastercat.protocol.stac.links import Links
from rastercat.protocol.timestamps import utc_text

STAC_VERSION = "1.1.0"
PROJECTION = "https://stac-extensions.github.io/projection/v1.2.0/schema.json"
"""v1.2.0 has both ``proj:code`` (odc-stac, v2 readers) and ``proj:epsg`` (stackstac); v2.0.0 forbids
the latter."""
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

RASTER_TYPES = {
    "Byte": "uint8", "Int8": "int8", "UInt16": "uint16", "Int16": "int16", "UInt32": "uint32",
    "Int32": "int32", "UInt64": "uint64", "Int64": "int64", "Float32": "float32",
    "Float64": "float64",
}  # fmt: skip

HIDDEN = frozenset(
    {"geometry", "wkt", "proj4", "geotrans", "raster_size", "cs_code", "read", "owners",
     "writers", "extra_properties", "statistics", "acquired"}
)  # fmt: skip
"""Image attributes that are not Item properties as such: the footprint (the Item's geometry),
the grid (``proj:*``), permissions, and what is spread out elsewhere (extra properties,
statistics, the date)."""


@dataclass(frozen=True)
class AssetHrefs:
    """Where an image's files can be read; both are URLs a client opens with no extra header."""

    data: Callable[[dict[str, Any]], str | None]
    thumbnail: Callable[[dict[str, Any]], str | None]


def iso(value: datetime | float | None) -> str | None:
    """A date (or seconds since 1970) as STAC writes it: RFC 3339 in UTC with ``Z``."""
    return None if value is None else utc_text(value, z=True)


@lru_cache(maxsize=512)
def epsg_of(cs_code: str | None, wkt: str | None) -> int | None:
    """The EPSG code of an image's CRS: ingest records ``cs_code`` as ``EPSG:n`` when one exists;
    otherwise the WKT is matched against pyproj's database (cached: many images share a CRS)."""
    if cs_code and cs_code.upper().startswith("EPSG:"):
        try:
            return int(cs_code.split(":", 1)[1])
        except ValueError:
            pass
    if not wkt:
        return None
    import pyproj

    try:
        return pyproj.CRS.from_wkt(wkt).to_epsg()
    except pyproj.exceptions.CRSError:
        return None


def projection(attrs: dict[str, Any]) -> dict[str, Any]:
    """``proj:*`` properties from the image's grid (empty when it has no pixels)."""
    out: dict[str, Any] = {}
    gt, size = attrs.get("geotrans"), attrs.get("raster_size")
    epsg = epsg_of(attrs.get("cs_code"), attrs.get("wkt"))
    if epsg is not None:
        out["proj:code"] = f"EPSG:{epsg}"
        out["proj:epsg"] = epsg  # stackstac reads only this older field
    elif attrs.get("wkt"):
        out["proj:code"] = None
        out["proj:wkt2"] = attrs["wkt"]
    if gt and size:
        c, a, b, f, d, e = (float(v) for v in gt)
        width, height = int(size[0]), int(size[1])
        out["proj:shape"] = [height, width]
        out["proj:transform"] = [a, b, c, d, e, f]
        xs = [c + a * px + b * py for px, py in ((0, 0), (width, 0), (0, height), (width, height))]
        ys = [f + d * px + e * py for px, py in ((0, 0), (width, 0), (0, height), (width, height))]
        out["proj:bbox"] = [min(xs), min(ys), max(xs), max(ys)]
    return out


def _scale_offset(attrs: dict[str, Any]) -> dict[str, float]:
    """``physical = offset + scale * stored``, from the band's data and physical ranges."""
    data, phys = attrs.get("data_range"), attrs.get("physical_range")
    if not data or not phys or data[1] == data[0]:
        return {}
    scale = (float(phys[1]) - float(phys[0])) / (float(data[1]) - float(data[0]))
    offset = float(phys[0]) - scale * float(data[0])
    if scale == 1.0 and offset == 0.0:
        return {}
    return {"scale": scale, "offset": offset}


def _statistics(band: dict[str, Any], stats: Any) -> dict[str, Any] | None:
    if not isinstance(stats, list):
        return None
    srcband = band["attrs"].get("srcband")
    srcfile = band["attrs"].get("srcfile") or 0
    for s in stats:
        if (
            isinstance(s, dict)
            and s.get("srcband") == srcband
            and (s.get("srcfile") or 0) == srcfile
        ):
            keys = {"min": "minimum", "max": "maximum", "mean": "mean", "stddev": "stddev"}
            out = {v: s[k] for k, v in keys.items() if isinstance(s.get(k), int | float)}
            return out or None
    return None


def raster_band(band: dict[str, Any], stats: Any = None) -> dict[str, Any]:
    attrs = band["attrs"]
    out: dict[str, Any] = {}
    if attrs.get("dtype") in RASTER_TYPES:
        out["data_type"] = RASTER_TYPES[attrs["dtype"]]
    if attrs.get("nodata") is not None:
        out["nodata"] = attrs["nodata"]
    if attrs.get("nbits"):
        out["bits_per_sample"] = attrs["nbits"]
    if attrs.get("resolution"):
        out["spatial_resolution"] = attrs["resolution"]
    if attrs.get("data_unit"):
        out["unit"] = attrs["data_unit"]
    out.update(_scale_offset(attrs))
    statistics = _statistics(band, stats)
    if statistics:
        out["statistics"] = statistics
    return out


_MICRONS = {"nm": 1e-3, "um": 1.0, "µm": 1.0, "micrometer": 1.0, "m": 1e6, "mm": 1e3}


def eo_band(band: dict[str, Any]) -> dict[str, Any]:
    attrs = band["attrs"]
    out: dict[str, Any] = {"name": band["name"]}
    if attrs.get("name_common"):
        out["common_name"] = attrs["name_common"]
    if attrs.get("description"):
        out["description"] = attrs["description"]
    factor = _MICRONS.get(str(attrs.get("wavelength_unit") or "nm").lower(), 1e-3)
    if attrs.get("wavelength_center") is not None:
        out["center_wavelength"] = float(attrs["wavelength_center"]) * factor
    if attrs.get("wavelength_fwhm") is not None:
        out["full_width_half_max"] = float(attrs["wavelength_fwhm"]) * factor
    return out


def is_spectral(band: dict[str, Any]) -> bool:
    return band["attrs"].get("type", "spectral") == "spectral"


def cog_bands(row: dict[str, Any], bands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The product's bands in the COG's order (COG band i+1 holds ``band_names[i]``)."""
    by_name = {b["name"]: b for b in bands}
    names = row.get("band_names") or [b["name"] for b in bands]
    return [by_name[n] for n in names if n in by_name]


def properties(row: dict[str, Any]) -> dict[str, Any]:
    attrs = row["attrs"]
    props: dict[str, Any] = {}
    extra = attrs.get("extra_properties") or {}
    if isinstance(extra, dict):
        props.update(extra)  # the image's own fields win a clash of names
    props.update({k: v for k, v in attrs.items() if k not in HIDDEN and v is not None})
    when = iso(row.get("acquired"))
    props["datetime"] = when
    if when is None:  # STAC: a null datetime needs a range; the image's record time is all we know
        props["start_datetime"] = props["end_datetime"] = iso(row["created"])
    props["created"] = iso(row["created"])
    props["updated"] = iso(row["modified"])
    props.update(projection(attrs))
    return props


def item(
    row: dict[str, Any], bands: Sequence[dict[str, Any]], links: Links, hrefs: AssetHrefs
) -> dict[str, Any]:
    """The STAC Item of an image row (``bands``: its product's band rows)."""
    attrs = row["attrs"]
    geometry = attrs.get("geometry")
    pid, iid = row["product_id"], row["id"]
    doc: dict[str, Any] = {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJECTION, RASTER, EO],
        "id": iid,
        "collection": pid,
        "geometry": geometry,
    }
    if geometry and row.get("minx") is not None:
        doc["bbox"] = [row["minx"], row["miny"], row["maxx"], row["maxy"]]
    doc["properties"] = properties(row)
    doc["links"] = [
        links.link("self", links.item(pid, iid), "application/geo+json"),
        links.link("parent", links.collection(pid), "application/json"),
        links.link("collection", links.collection(pid), "application/json"),
        links.link("root", links.root(), "application/json"),
    ]
    doc["assets"] = assets(row, bands, hrefs)
    return doc


def assets(
    row: dict[str, Any], bands: Sequence[dict[str, Any]], hrefs: AssetHrefs
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    data = hrefs.data(row) if row.get("storage_key") else None
    if data is None:
        return out
    ordered = cog_bands(row, bands)
    stats = row["attrs"].get("statistics")
    asset: dict[str, Any] = {
        "href": data,
        "type": COG_TYPE,
        "title": "Cloud-optimized GeoTIFF",
        "roles": ["data"],
        "raster:bands": [raster_band(b, stats) for b in ordered],
    }
    if any(is_spectral(b) for b in ordered):
        asset["eo:bands"] = [eo_band(b) for b in ordered]
    out["data"] = asset
    thumb = hrefs.thumbnail(row)
    if thumb is not None:
        out["thumbnail"] = {
            "href": thumb,
            "type": "image/png",
            "title": "Thumbnail",
            "roles": ["thumbnail"],
        }
    return out
