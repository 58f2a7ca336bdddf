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
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rastercat.client._http import CATALOG_PATH, METADATA_PATH, Service
from rastercat.client.auth import Credentials
from rastercat.client.catalog_uploads import CatalogUploads

BATCH_TIMEOUT = 600.0
"""Seconds a bulk or register request may take: the server answers once the whole batch is
checked and stored (10,000 records, or files checksummed in full), not the Catalog's 30 s."""


def _require(**args: Any) -> None:
    missing = [name for name, value in args.items() if value is None]
    if missing:
        raise TypeError(f"required argument(s) not provided: {', '.join(missing)}")


def _time_filter(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime | _dt.date) else value


class _MetadataService(Service):
    path = METADATA_PATH


class Catalog(CatalogUploads):
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

    def add_images(
        self,
        product_id: str,
        records: Iterable[dict[str, Any]],
        add_namespace: bool = False,
        batch_size: int = 10_000,
    ) -> dict[str, Any]:
        """Create many images (metadata only) from records shaped like :meth:`add_image`'s
        arguments (``{"id": ..., "acquired": ..., "geometry": ...}``).

        Each request of up to ``batch_size`` records (the server's cap,
        ``RASTERCAT_BULK__MAX_RECORDS``, is 10,000 by default) is all or nothing: a refused record
        raises :class:`~rastercat.errors.InvalidInput` (or ``Conflict`` for existing ids) naming
        every refused record, and nothing of that batch is added; earlier batches stay added.
        Returns ``{"data": [{"id": ..., "type": "image"}, ...], "meta": {"count": n}}``.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        pid = self._pid(product_id, add_namespace)
        added: list[dict[str, Any]] = []
        for batch in _batches(records, batch_size):
            doc = self.post(
                f"/products/{pid}/images/bulk", json={"data": batch}, timeout=BATCH_TIMEOUT
            ).json()
            added.extend(doc["data"])
        return {"data": added, "meta": {"count": len(added)}}

    def register_image(
        self,
        product_id: str,
        href: str,
        image_id: str | None = None,
        add_namespace: bool = False,
        **attributes: Any,
    ) -> dict[str, Any]:
        """Record an existing file as an image without copying it: ``href`` is an absolute path
        on the server under ``RASTERCAT_REGISTER__ROOTS`` or ``s3://bucket/key`` in a bucket of
        ``RASTERCAT_REGISTER__BUCKETS``. A valid COG whose bands are the product's is recorded
        in place (``status`` SUCCESS); another file is converted by an ingest job (``status``
        PENDING; :meth:`wait_for_image` waits for it). Returns the result of the file."""
        item = {"href": href, **attributes}
        if image_id is not None:
            item["id"] = image_id
        return self.register_images(product_id, [item], add_namespace=add_namespace)[0]

    def register_images(
        self,
        product_id: str,
        items: Iterable[str | dict[str, Any]],
        add_namespace: bool = False,
        batch_size: int = 100,
    ) -> list[dict[str, Any]]:
        """:meth:`register_image` for many files (hrefs, or ``{"href": ..., "id": ..., **attrs}``),
        ``batch_size`` per request; each request is checked whole before any file of it is
        recorded. Returns one result per file, in order."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        pid = self._pid(product_id, add_namespace)
        records = ({"href": i} if isinstance(i, str) else dict(i) for i in items)
        results: list[dict[str, Any]] = []
        for batch in _batches(records, batch_size):
            doc = self.post(
                f"/products/{pid}/images/register", json={"data": batch}, timeout=BATCH_TIMEOUT
            ).json()
            results.extend(doc["data"])
        return results


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
