"""The Catalog client: products, bands, images and uploads (wire protocol §2).

Method names, arguments and return values follow the ``descarteslabs`` 0.17 ``Catalog`` (responses are
the server's JSON:API documents, returned verbatim), so scripts written for the 2018 guide keep working::

    catalog = rastercat.Catalog()
    pid = catalog.add_product("my-product", title="Mine", description="Mine")["data"]["id"]
    catalog.add_band(pid, "blue", srcband=1, dtype="UInt16", nbits=14, data_range=[0, 10000], type="spectral")
    catalog.upload_image("blue.tif", pid)
    image = catalog.wait_for_image(pid, "blue")

Beyond 0.17: uploads return their upload id(s), and ``wait_for_image`` / ``wait_for_upload`` replace
hand-written polling loops. Missing required arguments raise ``TypeError`` as in 0.17; bad upload
arguments raise :class:`rastercat.errors.InvalidInput` before anything is sent.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rastercat.client import uploads
from rastercat.client._http import CATALOG_PATH, METADATA_PATH, Service
from rastercat.client.auth import Credentials
from rastercat.errors import InvalidInput, NotFound

PathLike = str | os.PathLike[str]


def _require(**args: Any) -> None:
    missing = [name for name, value in args.items() if value is None]
    if missing:
        raise TypeError(f"required argument(s) not provided: {', '.join(missing)}")


def _time_filter(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime | _dt.date) else value


class _MetadataService(Service):
    path = METADATA_PATH


class Catalog(Service):
    """Create and change products, bands and images, and upload rasters into them."""

    path = CATALOG_PATH
    # The 0.17 client's Catalog read timeout (protocol §1.2).
    timeout = 30.0

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(url, token, credentials=credentials, timeout=timeout)
        self._metadata: Service | None = None
        # (product id, image key) -> the upload ids sent for it, so wait_for_image can report failures.
        self._sent: dict[tuple[str, str], list[str]] = {}

    # -- helpers ------------------------------------------------------------------------------

    def namespace_product(self, product_id: str) -> str:
        """``product_id`` prefixed with the caller's namespace, unless it already is."""
        namespace = self.namespace
        if product_id.startswith(namespace + ":"):
            return product_id
        return f"{namespace}:{product_id}"

    def _pid(self, product_id: str, add_namespace: bool) -> str:
        if not isinstance(product_id, str) or not product_id:
            raise TypeError(f"product_id must be a non-empty string, got {product_id!r}")
        return self.namespace_product(product_id) if add_namespace else product_id

    @property
    def metadata_service(self) -> Service:
        """A Metadata-service session with the same credentials (for ``own_products``/``own_bands``)."""
        if self._metadata is None:
            self._metadata = _MetadataService(credentials=self.credentials)
        return self._metadata

    def close(self) -> None:
        if self._metadata is not None:
            self._metadata.close()
        super().close()

    @staticmethod
    def _global(set_global_permissions: bool) -> dict[str, str]:
        return {"set_global_permissions": "true"} if set_global_permissions else {}

    # -- products -----------------------------------------------------------------------------

    def own_products(self) -> list[dict[str, Any]]:
        """Products the caller owns (a Metadata search by the token's raw ``sub``)."""
        return self.metadata_service.post(
            "/products/search", json={"owner": self.credentials.sub}
        ).json()

    def own_bands(self) -> list[dict[str, Any]]:
        """Bands the caller owns (a Metadata search by the token's raw ``sub``)."""
        return self.metadata_service.post(
            "/bands/search", json={"owner": self.credentials.sub}
        ).json()

    def get_product(self, product_id: str, add_namespace: bool = False) -> dict[str, Any]:
        return self.get(f"/products/{self._pid(product_id, add_namespace)}").json()

    def add_product(
        self,
        product_id: str,
        title: str | None,
        description: str | None,
        add_namespace: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Create a product; the server prefixes the id with the caller's namespace."""
        _require(title=title, description=description)
        body = {
            "id": self._pid(product_id, add_namespace),
            "title": title,
            "description": description,
        }
        return self.post("/products", json={**kwargs, **body}).json()

    def replace_product(
        self,
        product_id: str,
        title: str | None,
        description: str | None,
        add_namespace: bool = False,
        set_global_permissions: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        _require(title=title, description=description)
        body = {**kwargs, "title": title, "description": description}
        return self.put(
            f"/products/{self._pid(product_id, add_namespace)}",
            json=body,
            params=self._global(set_global_permissions),
        ).json()

    def change_product(
        self,
        product_id: str,
        add_namespace: bool = False,
        set_global_permissions: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Update some attributes; ``set_global_permissions`` copies read/writers to bands and images."""
        return self.patch(
            f"/products/{self._pid(product_id, add_namespace)}",
            json=kwargs,
            params=self._global(set_global_permissions),
        ).json()

    def remove_product(
        self, product_id: str, add_namespace: bool = False, cascade: bool = False
    ) -> dict[str, Any] | None:
        """Delete a product; with ``cascade`` returns ``{"deletion_task": id}`` (else None)."""
        r = self.delete(
            f"/products/{self._pid(product_id, add_namespace)}",
            params={"cascade": str(bool(cascade))},
        )
        # Exactly as 0.17: only a bare application/json answer carries a document.
        if r.headers.get("content-type") == "application/json":
            return r.json()
        return None

    def product_deletion_status(self, deletion_task_id: str) -> dict[str, Any]:
        return self.get(f"/products/deletion_tasks/{deletion_task_id}").json()

    # -- bands --------------------------------------------------------------------------------

    def get_band(self, product_id: str, name: str, add_namespace: bool = False) -> dict[str, Any]:
        return self.get(f"/products/{self._pid(product_id, add_namespace)}/bands/{name}").json()

    def add_band(
        self,
        product_id: str,
        name: str,
        srcband: int | None = None,
        dtype: str | None = None,
        nbits: int | None = None,
        data_range: Sequence[float] | None = None,
        type: str | None = None,
        add_namespace: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Create band ``name``; its id is ``product_id + ":" + name``."""
        _require(
            name=name, srcband=srcband, dtype=dtype, nbits=nbits, data_range=data_range, type=type
        )
        body = {
            **kwargs,
            "name": name,
            "srcband": srcband,
            "dtype": dtype,
            "nbits": nbits,
            "data_range": data_range,
            "type": type,
        }
        return self.post(
            f"/products/{self._pid(product_id, add_namespace)}/bands", json=body
        ).json()

    def replace_band(
        self,
        product_id: str,
        name: str,
        srcband: int | None = None,
        dtype: str | None = None,
        nbits: int | None = None,
        data_range: Sequence[float] | None = None,
        type: str | None = None,
        add_namespace: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        _require(srcband=srcband, dtype=dtype, nbits=nbits, data_range=data_range, type=type)
        body = {
            **kwargs,
            "srcband": srcband,
            "dtype": dtype,
            "nbits": nbits,
            "data_range": data_range,
            "type": type,
        }
        pid = self._pid(product_id, add_namespace)
        return self.put(f"/products/{pid}/bands/{name}", json=body).json()

    def change_band(
        self, product_id: str, name: str, add_namespace: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """Update some attributes of a band, given by name or full id (e.g. ``colormap_name``)."""
        pid = self._pid(product_id, add_namespace)
        return self.patch(f"/products/{pid}/bands/{name}", json=kwargs).json()

    def remove_band(self, product_id: str, name: str, add_namespace: bool = False) -> None:
        self.delete(f"/products/{self._pid(product_id, add_namespace)}/bands/{name}")

    # -- images (metadata only) ---------------------------------------------------------------

    def get_image(
        self, product_id: str, image_id: str, add_namespace: bool = False
    ) -> dict[str, Any]:
        return self.get(
            f"/products/{self._pid(product_id, add_namespace)}/images/{image_id}"
        ).json()

    def add_image(
        self, product_id: str, image_id: str, add_namespace: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """Create image ``product_id:image_id`` without pixels (metadata only)."""
        _require(image_id=image_id)
        pid = self._pid(product_id, add_namespace)
        return self.post(f"/products/{pid}/images", json={**kwargs, "id": image_id}).json()

    def replace_image(
        self, product_id: str, image_id: str, add_namespace: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        pid = self._pid(product_id, add_namespace)
        return self.put(f"/products/{pid}/images/{image_id}", json=kwargs).json()

    def change_image(
        self, product_id: str, image_id: str, add_namespace: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        pid = self._pid(product_id, add_namespace)
        return self.patch(f"/products/{pid}/images/{image_id}", json=kwargs).json()

    def remove_image(self, product_id: str, image_id: str, add_namespace: bool = False) -> None:
        self.delete(f"/products/{self._pid(product_id, add_namespace)}/images/{image_id}")

    # -- uploads ------------------------------------------------------------------------------

    def _send(
        self,
        path: Path,
        product_id: str,
        metadata: Mapping[str, Any],
        image_key: str,
        progress: bool | None,
    ) -> str:
        """Step 1 (POST, authenticated) then step 2 (PUT of the bytes); returns the upload id."""
        body = dict(metadata)
        key = body.pop("image_id", None) or path.name
        response = self.post(f"/products/{product_id}/images/upload/{key}", json=body)
        # The URL is the raw body; be lenient about whitespace a proxy might add.
        uploads.put_file(response.text.strip(), path, progress=progress)
        self._sent.setdefault((product_id, image_key), []).append(key)
        return key

    def upload_image(
        self,
        files: PathLike | Sequence[PathLike],
        product_id: str,
        metadata: Mapping[str, Any] | None = None,
        multi: bool = False,
        image_id: str | None = None,
        *,
        progress: bool | None = None,
        **kwargs: Any,
    ) -> str | list[str]:
        """Upload a GeoTIFF/JPEG2000 (or, with ``multi=True``, the files of one image, in srcfile order).

        Processing is asynchronous: the image appears as ``product_id:<file stem>`` (or
        ``product_id:image_id`` for multi-file uploads); see :meth:`wait_for_image`. Returns the upload
        id (the file's basename), or the list of them for ``multi=True``. As in 0.17, ``image_id`` is
        ignored for a single file; ``metadata={"image_id": ...}`` names the upload instead.
        """
        meta = {**(metadata or {}), **kwargs}
        if multi:
            if isinstance(files, str | os.PathLike) or not isinstance(files, Sequence):
                raise InvalidInput("multi=True needs a list of files (in srcfile order)")
            if not files:
                raise InvalidInput("multi=True needs at least one file")
            if not image_id:
                raise InvalidInput(
                    "multi=True needs image_id (the id of the one image the files make)"
                )
            paths = [self._readable(f) for f in files]
            controls = {
                "upload_type": "file",
                "multi_file": {"image_files": [p.name for p in paths], "image_id": image_id},
            }
            meta.pop("image_id", None)  # each file's upload key must stay its basename
            return [
                self._send(
                    p, product_id, {**meta, "process_controls": controls}, image_id, progress
                )
                for p in paths
            ]
        if not isinstance(files, str | os.PathLike):
            raise InvalidInput("upload_image takes one file path; pass multi=True for a list")
        path = self._readable(files)
        key = meta.get("image_id") or path.name
        meta["process_controls"] = {"upload_type": "file"}
        return self._send(path, product_id, meta, os.path.splitext(key)[0], progress)

    @staticmethod
    def _readable(file: PathLike) -> Path:
        path = Path(file)
        if not path.is_file():
            raise InvalidInput(f"no such file: {path}")
        return path

    def upload_ndarray(
        self,
        ndarray: Any,
        product_id: str,
        image_id: str,
        proj4: str | None = None,
        wkt_srs: str | None = None,
        geotrans: Sequence[float] | None = None,
        raster_meta: Mapping[str, Any] | None = None,
        overviews: Sequence[int] | None = None,
        overview_resampler: str | None = None,
        add_namespace: bool = False,
        *,
        progress: bool | None = None,
        **kwargs: Any,
    ) -> str:
        """Upload a georeferenced array, 2-D or (rows, cols, bands); image ``product_id:image_id``.

        Georeferencing: ``geotrans`` plus ``proj4`` or ``wkt_srs``, or ``raster_meta`` (the metadata a
        raster read with ``raster_info=True`` returns), which overrides them. Returns the upload id.
        """
        if not image_id or not isinstance(image_id, str):
            raise InvalidInput("upload_ndarray needs image_id (a string)")
        array = uploads.check_ndarray(ndarray)
        body = uploads.ndarray_upload_body(
            proj4=proj4,
            wkt_srs=wkt_srs,
            geotrans=geotrans,
            raster_meta=raster_meta,
            overviews=overviews,
            overview_resampler=overview_resampler,
        )
        pid = self._pid(product_id, add_namespace)
        with uploads.npy_file(array) as path:
            return self._send(
                path, pid, {**kwargs, **body, "image_id": image_id}, image_id, progress
            )

    def upload_results(
        self,
        product_id: str,
        limit: int = 100,
        offset: int | None = None,
        status: str | None = None,
        updated: Any = None,
        created: Any = None,
        continuation_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of the product's upload results: ``{"data": [...], "meta": {"continuation_token"}}``."""
        body: dict[str, Any] = {"limit": limit}
        optional = {
            "offset": offset,
            "status": status,
            "updated": _time_filter(updated),
            "created": _time_filter(created),
            "continuation_token": continuation_token,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return self.post(f"/products/{product_id}/uploads", json=body).json()

    def iter_upload_results(
        self, product_id: str, status: str | None = None, updated: Any = None, created: Any = None
    ) -> Iterator[dict[str, Any]]:
        """Every upload result of the product, page after page."""
        token = None
        while True:
            page = self.upload_results(
                product_id,
                status=status,
                updated=updated,
                created=created,
                continuation_token=token,
            )
            yield from page["data"]
            token = page["meta"]["continuation_token"]
            if token is None:
                return

    def upload_result(self, product_id: str, upload_id: str) -> dict[str, Any]:
        """One upload's result, with its status and processing log."""
        return self.get(f"/products/{product_id}/uploads/{upload_id}").json()

    def wait_for_upload(
        self, product_id: str, upload_id: str, timeout: float = 600, poll: float = 1.0
    ) -> dict[str, Any]:
        """Poll an upload result until it succeeded (returned) or failed (IngestError); TimeoutError."""

        def check() -> dict[str, Any] | None:
            try:
                doc = self.upload_result(product_id, upload_id)
            except NotFound:
                return None  # not recorded yet
            uploads.raise_if_failed(upload_id, doc)
            return doc if uploads.upload_attributes(doc).get("status") == "SUCCESS" else None

        return uploads.poll(check, timeout=timeout, interval=poll, what=f"upload {upload_id}")

    def wait_for_image(
        self, product_id: str, image_id: str, timeout: float = 600, poll: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the image exists and return it (``get_image``); TimeoutError at the deadline.

        If this client sent the upload(s) for the image, a failed upload raises IngestError with the
        server's log at once instead of waiting for the deadline.
        """
        key = image_id[len(product_id) + 1 :] if image_id.startswith(product_id + ":") else image_id
        sent = self._sent.get((product_id, key), [])

        def check() -> dict[str, Any] | None:
            try:
                return self.get_image(product_id, key)
            except NotFound:
                pass
            for upload_id in sent:
                try:
                    uploads.raise_if_failed(upload_id, self.upload_result(product_id, upload_id))
                except NotFound:
                    continue
            return None

        return uploads.poll(check, timeout=timeout, interval=poll, what=f"image {product_id}:{key}")
