"""A Scene: one catalog image with its band metadata, read onto a GeoContext (protocol §5.1, §5.2)."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import shapely.geometry
from affine import Affine

from rastercat.client.scenes import _bands
from rastercat.client.scenes._clients import metadata_client as _metadata
from rastercat.client.scenes._clients import raster_client as _raster
from rastercat.client.scenes.dotdict import DotDict
from rastercat.client.scenes.geocontext import AOI, GeoContext, as_geometry
from rastercat.errors import InvalidInput, ServiceError

if TYPE_CHECKING:  # pragma: no cover
    from rastercat.client.metadata import Metadata
    from rastercat.client.raster import Raster

__all__ = ["Scene", "download_file", "parse_date"]

FORMATS = {"tif": "GTiff", "tiff": "GTiff", "png": "PNG", "jpg": "JPEG", "jpeg": "JPEG"}


def parse_date(value: Any) -> _dt.datetime | None:
    """An ISO-8601 string as a naive UTC datetime (as the 0.17 client returned), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.UTC).replace(tzinfo=None)
    return parsed


class Scene:
    """One image: ``geometry`` (WGS84 shapely), ``properties`` (a DotDict) with ``id``, ``product``,
    ``crs`` (``cs_code`` or ``proj4``), ``date`` and ``bands`` (``{name: band}``)."""

    def __init__(self, feature: Mapping[str, Any], bands: Mapping[str, Mapping[str, Any]]) -> None:
        try:
            geometry, scene_id = feature["geometry"], feature["id"]
        except KeyError as exc:
            raise InvalidInput(f"a scene feature needs {exc.args[0]!r}") from None
        self.geometry = as_geometry(geometry)
        properties = DotDict(feature.get("properties") or {})
        properties["id"] = scene_id
        properties["bands"] = DotDict(
            {name: DotDict(band) for name, band in _bands.bands_by_name(bands).items()}
        )
        properties["crs"] = properties.pop("cs_code", None) or properties.get("proj4")
        properties["date"] = parse_date(properties.get("acquired"))
        self.properties = properties

    @classmethod
    def from_id(cls, scene_id: str, metadata_client: Metadata | None = None) -> tuple[Scene, AOI]:
        """The scene and its native-grid context; NotFound until the image is processed."""
        with _metadata(metadata_client) as metadata:
            flat = metadata.get(scene_id)
            bands = metadata.get_bands_by_id(scene_id)
        try:
            feature = {"geometry": flat.pop("geometry"), "id": flat.pop("id"), "properties": flat}
        except KeyError as exc:
            raise ServiceError(f"/get/{scene_id} lacks {exc.args[0]!r}") from None
        scene = cls(feature, bands)
        return scene, scene.default_ctx()

    def default_ctx(self) -> AOI:
        """The image's own grid: its CRS, bounds and (square) pixel size, unaligned (§5.1)."""
        geotrans, size = self.properties.get("geotrans"), self.properties.get("raster_size")
        crs = self.properties.get("crs")
        if not geotrans or not size:
            return AOI(crs=crs, bounds_crs=crs, align_pixels=False)
        transform = Affine.from_gdal(*geotrans)
        cols, rows = size
        corners = [transform @ xy for xy in ((0, 0), (cols, 0), (cols, rows), (0, rows))]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        square = abs(transform.a) == abs(transform.e) and transform.b == transform.d == 0
        return AOI(
            resolution=abs(transform.a) if square else None,
            bounds=(min(xs), min(ys), max(xs), max(ys)),
            bounds_crs=crs,
            crs=crs,
            align_pixels=False,
        )

    def coverage(self, ctx: GeoContext | Any) -> float:
        """The fraction (0–1) of the context's WGS84 area this scene's footprint covers."""
        area = as_geometry(ctx)
        if area.area == 0:
            return 0.0
        return float(self.geometry.intersection(area).area / area.area)

    def ndarray(
        self,
        bands: str | Sequence[str],
        ctx: GeoContext,
        mask_nodata: bool = True,
        mask_alpha: bool | None = None,
        bands_axis: int = 0,
        raster_info: bool = False,
        resampler: str = "near",
        processing_level: str | None = None,
        scaling: Any = None,
        data_type: str | None = None,
        raster_client: Raster | None = None,
    ) -> np.ma.MaskedArray | tuple[np.ma.MaskedArray, dict[str, Any]]:
        """The scene's pixels on ``ctx`` as a masked (band, y, x) array (bands moved to ``bands_axis``).

        ``mask_alpha`` masks where the band named ``alpha`` is 0: by default when the product has
        one (``True`` requires it); ``mask_nodata`` masks each band's ``nodata``.
        ``raster_info=True`` also returns the georeferencing metadata (``upload_ndarray(raster_meta=)``).
        """
        request = _bands.prepare(
            bands, self.properties.bands, self.properties.get("product", ""), mask_alpha, scaling,
            data_type,
        )  # fmt: skip
        params = ctx.raster_params
        with _raster(raster_client) as raster:
            array, meta = raster.ndarray(
                self.properties.id,  # a single string, as the 0.17 Scene sends it
                bands=request.names,
                scales=request.scales,
                data_type=request.data_type,
                resampler=resampler,
                processing_level=processing_level,
                order="gdal",
                **params,
            )
        result = _bands.masked(array, request, mask_nodata, request.mask_alpha, bands_axis)
        return (result, meta) if raster_info else result

    def download(
        self,
        bands: str | Sequence[str],
        ctx: GeoContext,
        dest: str | os.PathLike[str] | IO[bytes] | None = None,
        format: str = "tif",
        resampler: str = "near",
        processing_level: str | None = None,
        raster_client: Raster | None = None,
    ) -> str | IO[bytes]:
        """Write the scene on ``ctx`` as one file (GeoTIFF, PNG or JPEG); returns where it went."""
        names = _bands.band_names(bands)
        unknown = [n for n in names if n not in self.properties.bands]
        if unknown:
            raise InvalidInput(
                f"band(s) {unknown} not in product {self.properties.get('product')!r}"
            )
        default = f"{self.properties.id}-{'-'.join(names)}"
        return download_file(
            [self.properties.id], names, ctx, dest, format, default, resampler, processing_level,
            raster_client,
        )  # fmt: skip

    def __repr__(self) -> str:
        p = self.properties
        lines = [
            f'Scene "{p.id}"',
            f'  * Product: "{p.get("product")}"',
            f'  * CRS: "{p.get("crs")}"',
        ]
        if p.get("date") is not None:
            lines.append(f"  * Date: {p.date.ctime()}")
        if p.bands:
            lines.append("  * Bands:")
            for name, band in p.bands.items():
                line = f"    * {name}"
                if band.get("dtype"):
                    line += f": {band['dtype']}"
                if band.get("data_range") is not None:
                    line += f", {list(band['data_range'])}"
                    if band.get("physical_range") is not None:
                        line += f" -> {list(band['physical_range'])}"
                lines.append(line)
        return "\n".join(lines)

    @property
    def __geo_interface__(self) -> dict[str, Any]:
        return dict(shapely.geometry.mapping(self.geometry))


def download_file(
    ids: list[str],
    bands: list[str],
    ctx: GeoContext,
    dest: str | os.PathLike[str] | IO[bytes] | None,
    format: str,
    default_name: str,
    resampler: str,
    processing_level: str | None,
    client: Raster | None,
) -> str | IO[bytes]:
    """POST /raster for ``ids`` on ``ctx`` and write the one file it returns (§5.4)."""
    if isinstance(dest, str | os.PathLike):
        suffix = Path(dest).suffix.lstrip(".").lower()
        format = suffix if suffix in FORMATS else format
    try:
        output_format = FORMATS[format.lower()]
    except KeyError:
        raise InvalidInput(f"format must be one of {sorted(FORMATS)}, not {format!r}") from None
    with _raster(client) as raster:
        result = raster.raster(
            ids, bands=bands, output_format=output_format, resampler=resampler,
            processing_level=processing_level, **ctx.raster_params,
        )  # fmt: skip
    if len(result["files"]) != 1:
        raise ServiceError(f"/raster returned {len(result['files'])} files, expected exactly one")
    data = next(iter(result["files"].values()))
    if dest is None or (isinstance(dest, str | os.PathLike) and Path(dest).is_dir()):
        path = Path(dest or ".") / f"{default_name}.{format.lower()}"
    elif isinstance(dest, str | os.PathLike):
        path = Path(dest)
    else:
        dest.write(data)
        return dest
    path.write_bytes(data)
    return str(path)
