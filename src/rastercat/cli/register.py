"""``rastercat register PRODUCT HREF...``: record existing files in place, thin over the SDK."""

from __future__ import annotations

import click

from rastercat.errors import RastercatError


@click.command()
@click.argument("product_id")
@click.argument("hrefs", nargs=-1, required=True)
@click.option("--batch-size", type=int, default=100, show_default=True,
              help="Files per request (each request is checked whole).")  # fmt: skip
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until files that must be converted are processed.")  # fmt: skip
@click.option("--timeout", type=float, default=3600, show_default=True)
def register(product_id: str, hrefs: tuple[str, ...], batch_size: int, wait: bool,
             timeout: float) -> None:  # fmt: skip
    """Register existing files (absolute paths on the server under RASTERCAT_REGISTER__ROOTS, or
    s3://bucket/key in a bucket of RASTERCAT_REGISTER__BUCKETS) as images of PRODUCT_ID, without
    copying them. Prints href, status and image id per file: SUCCESS when recorded in place,
    else the status of its conversion."""
    from rastercat.client.catalog import Catalog

    try:
        with Catalog() as catalog:
            results = catalog.register_images(product_id, hrefs, batch_size=batch_size)
            for result in results:
                status = result["status"]
                if status == "PENDING" and wait:
                    doc = catalog.wait_for_upload(product_id, result["upload_uid"], timeout=timeout)
                    status = doc.get("data", doc).get("attributes", {}).get("status", status)
                how = "in place" if result["in_place"] else "converted"
                click.echo(f"{result['href']}\t{status}\t{result['id']}\t{how}")
    except RastercatError as exc:
        raise click.ClickException(exc.message) from None
