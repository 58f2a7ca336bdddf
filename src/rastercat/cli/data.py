"""Data commands, thin over the SDK: upload files into a product, search a product's images."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rastercat.errors import RastercatError


@click.command()
@click.argument("product_id")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--multi", is_flag=True, help="The FILES are one image (in srcfile order).")
@click.option("--image-id", default=None, help="The image id of a --multi upload.")
@click.option("--acquired", default=None, help="Acquisition date/time (ISO-8601) of the image(s).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until processed.")
@click.option("--timeout", type=float, default=3600, show_default=True)
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=None,
    help="Parts of a large file sent at once [RASTERCAT_UPLOAD_PARALLEL, 4].",
)
@click.option(
    "--part-size",
    type=click.IntRange(1, 5120),
    default=None,
    help="Part size in MiB for large files [RASTERCAT_UPLOAD_PART_BYTES, 16 MiB].",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="A progress bar per file (default: for large files on a terminal).",
)
def upload(product_id: str, files: tuple[Path, ...], multi: bool, image_id: str | None,
           acquired: str | None, wait: bool, timeout: float, parallel: int | None,
           part_size: int | None, progress: bool | None) -> None:  # fmt: skip
    """Upload GeoTIFF/JPEG2000 FILES into PRODUCT_ID (the server and token come from
    RASTERCAT_URL / RASTERCAT_TOKEN, or from what `rastercat serve` saved).

    Files of 64 MiB or more (RASTERCAT_UPLOAD_THRESHOLD_BYTES) are sent in checksummed parts, in
    parallel; after Ctrl-C, a crash or a cut connection, running the same command again continues
    from the parts the server already holds."""
    from rastercat.client.catalog import Catalog
    from rastercat.config import UploadClientSettings

    if multi and not image_id:
        raise click.BadParameter("--multi needs --image-id", param_hint="--image-id")
    metadata = {"acquired": acquired} if acquired else None
    overrides: dict[str, int] = {}
    if parallel is not None:
        overrides["parallel"] = parallel
    if part_size is not None:
        overrides["part_bytes"] = part_size * 2**20
    try:
        with Catalog() as catalog:
            catalog.upload_settings = UploadClientSettings(**overrides)  # type: ignore[arg-type]
            if multi:
                ids = catalog.upload_image([str(f) for f in files], product_id, multi=True,
                                           image_id=image_id, metadata=metadata,
                                           progress=progress)  # fmt: skip
                uploads = list(ids) if isinstance(ids, list) else [ids]
                uploads = uploads[-1:]  # the scene is processed with its last file
            else:
                uploads = [
                    str(
                        catalog.upload_image(
                            str(f), product_id, metadata=metadata, progress=progress
                        )
                    )
                    for f in files
                ]
            for upload_id in uploads:
                if not wait:
                    click.echo(f"{upload_id}\tuploaded")
                    continue
                doc = catalog.wait_for_upload(product_id, upload_id, timeout=timeout)
                attrs = doc.get("data", doc).get("attributes", {})
                click.echo(
                    f"{upload_id}\t{attrs.get('status', 'SUCCESS')}\t{attrs.get('image_id', '')}"
                )
    except RastercatError as exc:
        raise click.ClickException(exc.message) from None


@click.command()
@click.argument("products", nargs=-1, required=True)
@click.option("--bbox", default=None, help="minx,miny,maxx,maxy in longitude/latitude.")
@click.option("--start", default=None, help="Earliest acquisition date/time.")
@click.option("--end", default=None, help="Latest acquisition date/time.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--geojson", "as_geojson", is_flag=True, help="Print a GeoJSON FeatureCollection.")
def search(products: tuple[str, ...], bbox: str | None, start: str | None, end: str | None,
           limit: int, as_geojson: bool) -> None:  # fmt: skip
    """Search the images of PRODUCTS; prints id, acquired date and size (or GeoJSON)."""
    from rastercat.client.metadata import Metadata

    geom = None
    if bbox:
        try:
            x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
        except ValueError:
            raise click.BadParameter("expected minx,miny,maxx,maxy", param_hint="--bbox") from None
        geom = {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        }
    try:
        with Metadata() as metadata:
            fc = metadata.search(products=list(products), geom=geom, start_datetime=start,
                                 end_datetime=end, limit=limit)  # fmt: skip
    except RastercatError as exc:
        raise click.ClickException(exc.message) from None
    if as_geojson:
        click.echo(json.dumps(fc))
        return
    for f in fc["features"]:
        props = f.get("properties", {})
        size = props.get("raster_size") or ["?", "?"]
        click.echo(f"{f['id']}\t{props.get('acquired', '')}\t{size[0]}x{size[1]}")
