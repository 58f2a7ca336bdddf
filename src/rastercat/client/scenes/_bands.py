"""Band selection and client-side masking shared by ``Scene.ndarray`` and ``SceneCollection.mosaic``.

The server returns raw pixels; masking (nodata, alpha == 0) happens here, as in the 0.17 client (§5.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rastercat.errors import InvalidInput

_DISPLAY = "display"


def band_names(bands: str | Sequence[str]) -> list[str]:
    """A space-separated string or a list of band names, as a non-empty list."""
    names = bands.split() if isinstance(bands, str) else [str(b) for b in bands]
    if not names:
        raise InvalidInput("no bands given", field="bands")
    return names


@dataclass(frozen=True)
class BandRequest:
    """What to ask the server for, and how to turn its answer into the caller's array."""

    names: list[str]
    """Bands sent in the request (alpha appended last when masking by it)."""
    drop_alpha: bool
    """Alpha was appended only for masking; drop it from the result."""
    data_type: str | None
    scales: list[Any] | None
    nodata: list[Any]
    """Per requested band: the value to mask, or None (no nodata, or the band is scaled)."""
    mask_alpha: bool = False
    """Mask where the last requested band (alpha) is 0: asked for, or the default with an alpha band."""


def _scales(
    scaling: Any, names: list[str], meta: Mapping[str, Mapping[str, Any]]
) -> list[Any] | None:
    if scaling is None or scaling == "raw":
        return None
    if scaling == _DISPLAY:
        out: list[Any] = []
        for name in names:
            band = meta[name]
            span = band.get("default_range") or band.get("data_range")
            out.append(None if name == "alpha" or not span else [span[0], span[1], 0, 255])
        return out
    if isinstance(scaling, str) or not isinstance(scaling, Sequence):
        raise InvalidInput(
            f"scaling must be None, 'raw', 'display' or one entry per band, not {scaling!r}",
            field="scaling",
        )
    return [None if s is None else list(s) for s in scaling]


def prepare(
    bands: str | Sequence[str],
    meta: Mapping[str, Mapping[str, Any]],
    product: str,
    mask_alpha: bool | None,
    scaling: Any = None,
    data_type: str | None = None,
) -> BandRequest:
    """Validate ``bands`` against the product's band metadata ``{name: band}``, client-side.

    ``mask_alpha=None`` (the default of ``ndarray``/``mosaic``/``stack``) masks by the alpha band
    when the product has one and not otherwise, as later descarteslabs clients do; ``True`` insists
    on an alpha band (InvalidInput without one, as the 0.17 client's ValueError).
    """
    names = band_names(bands)
    unknown = [n for n in names if n not in meta]
    if unknown:
        raise InvalidInput(
            f"band(s) {', '.join(map(repr, unknown))} not in product {product!r}; "
            f"available: {', '.join(sorted(meta))}",
            field="bands",
        )
    if "alpha" in names[:-1]:
        raise InvalidInput("the 'alpha' band must be the last band requested", field="bands")
    drop_alpha = False
    if mask_alpha is None:
        mask_alpha = "alpha" in meta
    if mask_alpha:
        if "alpha" not in meta:
            raise InvalidInput(
                f"Cannot mask alpha: product {product!r} has no band named 'alpha'. "
                "Try setting 'mask_alpha=False'.",
                field="mask_alpha",
            )
        if names[-1] != "alpha":
            names = [*names, "alpha"]
            drop_alpha = True
    scales = _scales(scaling, names, meta)
    if scales is not None and len(scales) == len(names) - drop_alpha and drop_alpha:
        scales = [*scales, None]  # the caller scaled what they asked for, not the hidden alpha
    if scales is not None and len(scales) != len(names):
        raise InvalidInput(f"scaling has {len(scales)} entries for {len(names)} bands")
    if data_type is None:
        if scaling == _DISPLAY:
            data_type = "Byte"
        else:
            dtypes = {str(meta[n].get("dtype")) for n in names if n != "alpha"}
            if len(dtypes) > 1:
                raise InvalidInput(
                    f"bands {names} have different dtypes {sorted(dtypes)}; pass data_type=...",
                    field="bands",
                )
            data_type = dtypes.pop() if dtypes else str(meta["alpha"].get("dtype"))
    nodata = [
        meta[n].get("nodata") if scales is None or scales[i] is None else None
        for i, n in enumerate(names)
    ]
    return BandRequest(names, drop_alpha, data_type, scales, nodata, bool(mask_alpha))


def masked(
    array: np.ndarray,
    request: BandRequest,
    mask_nodata: bool,
    mask_alpha: bool | None,
    bands_axis: int,
) -> np.ma.MaskedArray:
    """The server's (band, y, x) or (y, x) array, masked and with the bands on ``bands_axis``.

    ``mask_alpha=None`` follows what :func:`prepare` decided for ``request``."""
    if mask_alpha is None:
        mask_alpha = request.mask_alpha
    if array.ndim == 2:
        array = array[np.newaxis]
    mask = np.zeros(array.shape, dtype=bool)
    if mask_nodata:
        for i, value in enumerate(request.nodata):
            if value is not None:
                mask[i] = array[i] == value
    if mask_alpha:
        mask |= (array[-1] == 0)[np.newaxis]
    if request.drop_alpha:
        array, mask = array[:-1], mask[:-1]
    result = np.ma.MaskedArray(array, mask=mask)
    return np.ma.MaskedArray(np.moveaxis(result, 0, bands_axis))


def bands_by_name(bands: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Re-key ``{band_id: band}`` by band name (derived bands keep their ``derived:`` id)."""
    out: dict[str, dict[str, Any]] = {}
    for key, band in bands.items():
        name = key if key.startswith("derived") else band.get("name", key)
        out[str(name)] = dict(band)
    return out
