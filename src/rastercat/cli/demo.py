"""``rastercat demo``: a small sample product, so there is something to look at on the first day.

The product (``<namespace>:rastercat-demo``: blue, green, red, nir and alpha; three dates, two
overlapping images each) is generated on the fly (``demo_landscape.py``) and sent through the
ordinary upload path, so its images are COGs with footprints and statistics like any upload.
Running it again adds only what is missing: no duplicate product, band or image.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rastercat.errors import Conflict, NotFound, RastercatError

DEMO_PRODUCT = "rastercat-demo"
_ACTIVE = ("WAITING", "PENDING", "RUNNING")

BAND_SPECS: tuple[dict[str, Any], ...] = tuple(
    {"name": name, "srcband": i, "srcfile": 0, "dtype": "UInt16", "nbits": 14, "type": "spectral",
     "data_range": [0, 10000], "default_range": [0, 2500], "physical_range": [0.0, 1.0],
     "color": color, "nodata": None}  # fmt: skip
    for i, (name, color) in enumerate(
        (("blue", "Blue"), ("green", "Green"), ("red", "Red"), ("nir", "Gray")), start=1
    )
) + (
    {"name": "alpha", "srcband": 5, "srcfile": 0, "dtype": "UInt16", "nbits": 1, "type": "mask",
     "data_range": [0, 1], "default_range": [0, 1], "color": "Alpha", "nodata": None},
)  # fmt: skip


def ensure_demo(catalog: Any, echo: Callable[[str], None], timeout: float = 600) -> str:
    """Create whatever part of the demo product is missing, wait until its images are processed,
    and return the product id. ``catalog`` is a :class:`rastercat.client.catalog.Catalog`."""
    from rastercat.cli import demo_landscape as demo

    pid = catalog.namespace_product(DEMO_PRODUCT)
    try:
        catalog.get_product(pid)
    except NotFound:
        _create(
            catalog.add_product,
            pid,
            title="rastercat demo",
            description="A synthetic landscape (fields, a river, woods) on three dates, made by "
            "`rastercat demo`: 30 m, blue/green/red/nir reflectance x 10000 and alpha.",
            start_datetime=demo.DATES[0][0],
            end_datetime=demo.DATES[-1][0],
            resolution=f"{demo.PIXEL:g}m",
            tags=["demo"],
        )
        echo(f"created product {pid}")
    for spec in BAND_SPECS:
        try:
            catalog.get_band(pid, spec["name"])
        except NotFound:
            _create(catalog.add_band, product_id=pid, **spec)
    pending: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rastercat-demo-") as tmp:
        land = None
        for image in demo.IMAGES:
            state = _state(catalog, pid, image.key)
            if state == "ready":
                continue
            if state != "processing":
                land = land if land is not None else demo.landscape()
                path = demo.write_image(land, image, Path(tmp))
                catalog.upload_image(str(path), pid, metadata={"acquired": image.acquired},
                                     progress=False)  # fmt: skip
                echo(f"uploaded {path.name}")
            pending.append(image.key)
        deadline = time.monotonic() + timeout
        for key in pending:
            catalog.wait_for_upload(pid, f"{key}.tif", timeout=max(deadline - time.monotonic(), 1))
    if pending:
        echo(f"processed {len(pending)} image(s)")
    return str(pid)


def _create(add: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Create unless a concurrent run (``serve --demo`` and ``rastercat demo``) just did."""
    try:
        add(*args, **kwargs)
    except Conflict:
        pass


def _state(catalog: Any, pid: str, key: str) -> str:
    """'ready' (the image exists), 'processing' (an earlier run's upload is still queued or
    running), or 'missing' (never uploaded, interrupted before its bytes arrived, or failed)."""
    try:
        catalog.get_image(pid, key)
        return "ready"
    except NotFound:
        pass
    try:
        doc = catalog.upload_result(pid, f"{key}.tif")
    except NotFound:
        return "missing"
    status = doc.get("data", {}).get("attributes", {}).get("status")
    return "processing" if status in _ACTIVE else "missing"


def save_files(directory: Path) -> list[Path]:
    """Write the demo's GeoTIFFs (what it uploads) into ``directory``."""
    from rastercat.cli import demo_landscape as demo

    directory.mkdir(parents=True, exist_ok=True)
    land = demo.landscape()
    return [demo.write_image(land, image, directory) for image in demo.IMAGES]


def viewer_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/"


@click.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only the product id.")
@click.option("--files", "files_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also save the demo's GeoTIFFs in this directory.")  # fmt: skip
@click.option("--timeout", type=float, default=600, show_default=True,
              help="Seconds to wait for processing.")  # fmt: skip
def demo(quiet: bool, files_dir: Path | None, timeout: float) -> None:
    """Create the demo product (once) in a running server and wait until it is processed.

    The server and token come from RASTERCAT_URL / RASTERCAT_TOKEN, or from what `rastercat serve`
    saved for the local user, who then owns the product."""
    from rastercat.client.catalog import Catalog

    echo: Callable[[str], None] = (lambda _line: None) if quiet else click.echo
    if files_dir is not None:
        save_files(files_dir)
    try:
        with Catalog() as catalog:
            pid = ensure_demo(catalog, echo, timeout=timeout)
            url = catalog.credentials.url
    except (RastercatError, TimeoutError) as exc:
        raise click.ClickException(str(getattr(exc, "message", exc))) from None
    if quiet:
        click.echo(pid)
        return
    click.echo(f"demo product: {pid}")
    click.echo(f"viewer: {viewer_url(url)}  (pick 'rastercat demo')")


def start_in_background(url: str, token: str, timeout: float = 60) -> threading.Thread:
    """For ``rastercat serve --demo``: once the server answers at ``url``, create the demo product
    as the local user (in a daemon thread; the server keeps running whatever happens here)."""

    def run() -> None:
        import httpx

        from rastercat.client.catalog import Catalog

        deadline = time.monotonic() + timeout
        while True:  # the server starts in this process right after this thread
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                click.echo("demo: the server did not answer; run `rastercat demo` later")
                return
            time.sleep(0.2)
        try:
            with Catalog(url, token) as catalog:
                pid = ensure_demo(catalog, lambda line: click.echo(f"demo: {line}"))
        except (RastercatError, TimeoutError) as exc:
            click.echo(f"demo: failed: {getattr(exc, 'message', exc)}")
            return
        click.echo(f"demo: product {pid} is ready; viewer: {viewer_url(url)}")

    thread = threading.Thread(target=run, name="rastercat-demo", daemon=True)
    thread.start()
    return thread
