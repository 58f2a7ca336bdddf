"""The upload half of the Catalog client: the two-step signed upload, upload results, and waiting.

:class:`rastercat.client.catalog.Catalog` derives from :class:`CatalogUploads`; use ``Catalog``.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rastercat.client import uploads
from rastercat.client._http import Service
from rastercat.client.settings import UploadClientSettings
from rastercat.errors import InvalidInput, NotFound

PathLike = str | os.PathLike[str]


def _time_filter(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime | _dt.date) else value


class CatalogUploads(Service):
    """Uploads into products; the product, band and image calls live on ``Catalog``."""

    # (product id, image key) -> the upload ids sent for it, so wait_for_image can report failures.
    _sent: dict[tuple[str, str], list[str]]
    _upload_settings: UploadClientSettings | None = None
    # While a multi-file scene is sent: the resume states of its files sent so far (kept until the
    # last file is sent, so running the scene again skips the files that arrived).
    _keep_states: list[Path] | None = None

    @property
    def upload_settings(self) -> UploadClientSettings:
        """How large files are sent: threshold, part size, parallel parts, retries (defaults from
        ``RASTERCAT_UPLOAD_*``; assign an :class:`~rastercat.config.UploadClientSettings`)."""
        if self._upload_settings is None:
            self._upload_settings = UploadClientSettings()
        return self._upload_settings

    @upload_settings.setter
    def upload_settings(self, value: UploadClientSettings) -> None:
        self._upload_settings = value

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
        settings = self.upload_settings
        if path.stat().st_size >= settings.threshold_bytes:
            # Large files: in checksummed parts, in parallel, resumable after a crash.
            from rastercat.client.resumable import ResumableUpload

            upload = ResumableUpload(self, path, product_id, key, body, settings, progress=progress)
            key = upload.run(keep_state=self._keep_states is not None)
            if self._keep_states is not None:
                self._keep_states.append(upload.state.path)
            self._sent.setdefault((product_id, image_key), []).append(key)
            return key
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

        Files of at least ``upload_settings.threshold_bytes`` (64 MiB) are sent as resumable
        uploads: in checksummed parts, several at once, retried with backoff; calling again after
        a crash or Ctrl-C continues from the parts the server holds (file by file for a scene).
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
            self._keep_states = []
            try:
                sent = [
                    self._send(
                        p, product_id, {**meta, "process_controls": controls}, image_id, progress
                    )
                    for p in paths
                ]
                states = self._keep_states
            finally:
                self._keep_states = None
            if states:  # the whole scene arrived: nothing left to resume
                from rastercat.client.resumable import forget

                forget(states)
            return sent
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

    def upload_result(
        self, product_id: str, upload_id: str, wait: float | None = None
    ) -> dict[str, Any]:
        """One upload's result, with its status and processing log.

        ``wait`` (seconds, at most 60): the server holds the request until the upload has succeeded
        or failed, or that time has passed, and answers with the status as it then is.
        """
        path = f"/products/{product_id}/uploads/{upload_id}"
        if not wait or wait <= 0:
            return self.get(path).json()
        wait = min(wait, uploads.MAX_WAIT)
        return self.get(
            path,
            params={"wait": f"{wait:.3f}"},
            timeout=(self._client.timeout.read or self.timeout) + wait,
        ).json()

    def wait_for_upload(
        self, product_id: str, upload_id: str, timeout: float = 600, poll: float = 1.0
    ) -> dict[str, Any]:
        """Wait until an upload succeeded (returned) or failed (IngestError); TimeoutError.

        The server holds each request until the upload finishes (long polling), so the result comes
        as soon as it exists; ``poll`` only spaces out requests to a server that answers at once.
        """
        deadline = time.monotonic() + timeout

        def check() -> dict[str, Any] | None:
            remaining = deadline - time.monotonic()
            try:
                doc = self.upload_result(product_id, upload_id, wait=max(remaining, 0))
            except NotFound:
                return None  # not recorded yet
            uploads.raise_if_failed(upload_id, doc)
            return doc if uploads.upload_attributes(doc).get("status") == "SUCCESS" else None

        return uploads.poll(check, timeout=timeout, interval=poll, what=f"upload {upload_id}")

    def wait_for_image(
        self, product_id: str, image_id: str, timeout: float = 600, poll: float = 1.0
    ) -> dict[str, Any]:
        """Wait until the image exists and return it (``get_image``); TimeoutError at the deadline.

        If this client sent the upload(s) for the image, it waits on them (long polling: the answer
        comes as soon as processing ends), and a failed upload raises IngestError with the server's
        log at once instead of waiting for the deadline.
        """
        key = image_id[len(product_id) + 1 :] if image_id.startswith(product_id + ":") else image_id
        sent = self._sent.get((product_id, key), [])
        deadline = time.monotonic() + timeout

        def image() -> dict[str, Any] | None:
            try:
                return self.get(f"/products/{product_id}/images/{key}").json()
            except NotFound:
                return None

        def check() -> dict[str, Any] | None:
            found = image()
            if found is not None:
                return found
            for upload_id in sent:
                remaining = deadline - time.monotonic()
                try:
                    doc = self.upload_result(product_id, upload_id, wait=max(remaining, 0))
                except NotFound:
                    continue
                uploads.raise_if_failed(upload_id, doc)
                if uploads.upload_attributes(doc).get("status") == "SUCCESS":
                    return image()  # a multi-file scene's members all succeed at once
            return None

        return uploads.poll(check, timeout=timeout, interval=poll, what=f"image {product_id}:{key}")
