"""From image ids to what the raster engine reads: permission-checked sources and band descriptions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.errors import InvalidInput
from rastercat.raster.types import BandInfo, SourceImage
from rastercat.store.external import image_gdal_path
from rastercat.store.objects import ObjectStore

#: The name of a band a caller may not read: no product band has it, so no request matches it.
HIDDEN_BAND = ""


def _range(value: Any) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


def band_info(row: dict[str, Any]) -> BandInfo:
    attrs = row["attrs"]
    return BandInfo(
        name=row["name"],
        dtype=attrs["dtype"],
        nodata=attrs.get("nodata"),
        data_range=_range(attrs.get("data_range")),
        physical_range=_range(attrs.get("physical_range")),
        default_range=_range(attrs.get("default_range")),
        is_alpha=row["name"] == "alpha" or attrs.get("color") == "Alpha",
        facts=dict(row),
    )


def source_image(
    row: dict[str, Any], objects: ObjectStore, readable: Collection[str] | None = None
) -> SourceImage:
    """The image as the engine reads it; with ``readable``, only those of its product's bands:
    the others get no name, so no request can draw their pixels."""
    attrs = row["attrs"]
    names = tuple(row["band_names"] or ())
    if readable is not None:
        names = tuple(n if n in readable else HIDDEN_BAND for n in names)
    return SourceImage(
        id=row["id"],
        path=image_gdal_path(objects, row["storage_key"]),
        band_names=names,
        crs_wkt=attrs["wkt"],
        geotrans=tuple(attrs["geotrans"]),  # type: ignore[arg-type]
        raster_size=(int(attrs["raster_size"][0]), int(attrs["raster_size"][1])),
        gdal_env=objects.gdal_env,
    )


def resolve(
    p: Principal,
    metadata: MetadataService,
    objects: ObjectStore,
    ids: Sequence[str],
    band_names: Sequence[str] | None,
) -> tuple[list[SourceImage], list[BandInfo]]:
    """Sources in request order and bands in request order; 404 for any unreadable id."""
    if len(ids) > 1000:
        raise InvalidInput("at most 1000 images can be read at once", field="ids")
    rows = metadata.get_images(p, list(dict.fromkeys(ids)), ignore_not_found=False)
    by_id = {r["id"]: r for r in rows}
    ordered = [by_id[i] for i in ids]
    for r in ordered:
        if not r["storage_key"] or not r["attrs"].get("wkt"):
            raise InvalidInput(
                f"image {r['id']!r} has no pixels (it was never uploaded)", field="ids"
            )
    # Band definitions come from the first image's product, but each image's pixels are drawn
    # only for bands the caller may read in that image's own product: an image of another product
    # with a same-named band it may not see contributes nothing to that band.
    readable = {
        pid: {b["name"]: b for b in metadata.bands_of_product(p, pid)}
        for pid in dict.fromkeys(r["product_id"] for r in ordered)
    }
    product_bands = readable[ordered[0]["product_id"]]
    names = list(band_names) if band_names else list(product_bands)
    if not names:
        raise InvalidInput("the product has no bands", field="bands")
    unknown = [n for n in names if n not in product_bands]
    if unknown:
        raise InvalidInput(
            f"unknown band(s) {', '.join(map(repr, unknown))}; the product has "
            f"{', '.join(product_bands) or 'no bands'}",
            field="bands",
        )
    sources = [source_image(r, objects, readable[r["product_id"]]) for r in ordered]
    return sources, [band_info(product_bands[n]) for n in names]
