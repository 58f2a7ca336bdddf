"""Can an existing file be recorded as it is? The upload rules decide, then the COG checks.

The file is untrusted like an upload: it is probed with the same driver allow-list and declared-
size limits (a VRT, or a header declaring terabytes, is refused with the upload's own message), and
the product's bands must map onto it as for an upload. Only a GeoTIFF whose bands are exactly the
product's bands in order, and which passes rio-cogeo's validation and the block-bounds check of
:func:`~rastercat.ingest.verify.verify_cog`, is recorded in place; anything else is converted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rastercat.config import Limits
from rastercat.errors import IngestError
from rastercat.ingest.gdal_env import ingest_env
from rastercat.ingest.pipeline import describe_cog
from rastercat.ingest.plan import make_plan
from rastercat.ingest.probe import probe_file
from rastercat.ingest.types import BandSpec, IngestRequest
from rastercat.ingest.verify import verify_cog


def band_specs(rows: Iterable[dict[str, Any]]) -> tuple[BandSpec, ...]:
    """The product's band rows (in band order) as the pipeline's band specs."""
    return tuple(
        BandSpec(
            name=b["name"],
            srcband=int(b["attrs"]["srcband"]),
            srcfile=int(b["attrs"].get("srcfile") or 0),
            jpx_layer=int(b["attrs"].get("jpx_layer") or 0),
            dtype=b["attrs"]["dtype"],
            nbits=b["attrs"].get("nbits"),
            type=b["attrs"].get("type", "spectral"),
            nodata=b["attrs"].get("nodata"),
            color=b["attrs"].get("color"),
        )
        for b in rows
    )


@dataclass(frozen=True)
class Inspection:
    """The verdict on one existing file."""

    in_place: bool
    reason: str = ""
    """Why it cannot be recorded in place (empty when it can)."""
    band_names: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    """What ingest infers (see :func:`describe_cog`), when in place."""
    log: tuple[str, ...] = ()


def inspect_existing(path: Path, bands: tuple[BandSpec, ...], limits: Limits) -> Inspection:
    """Raise :class:`IngestError` for a file that an upload would refuse; otherwise say whether it
    can be recorded in place (and what ingest would infer about it) or must be converted."""
    if not bands:
        raise IngestError("the product has no bands: add bands before registering files")
    lines: list[str] = []
    request = IngestRequest(upload_type="file", files=(path,), bands=bands, hash_inputs=False)
    with ingest_env():
        sources = [probe_file(0, path, limits)]
        plan = make_plan(request, sources)
    src = sources[0]
    lines.append(
        f"{path}: {src.driver}, {src.width} x {src.height} pixels, {src.count} band(s) "
        f"{','.join(src.dtypes)}"
    )
    if src.driver != "GTiff":
        return Inspection(False, f"a {src.driver} file is not a COG", log=tuple(lines))
    if plan.passthrough is None:
        return Inspection(
            False,
            "its bands are not exactly the product's bands in order (count, data type, nodata "
            "or alpha differ)",
            log=tuple(lines),
        )
    try:
        verify_cog(path, decode=False)
    except IngestError as exc:
        return Inspection(False, exc.message, log=tuple(lines))
    lines.append(
        "a valid COG (rio-cogeo validation, every tile within the file): recorded in place"
    )
    attributes = describe_cog(request, plan, sources, path, lines.append)
    names = tuple(b.spec.name for b in plan.bands)
    return Inspection(True, "", names, attributes, tuple(lines))
