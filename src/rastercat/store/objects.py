"""Object storage behind a small protocol; the embedded default is a local directory.

Keys are ``/``-separated relative paths. ``put_file`` moves a finished local file into place
atomically (rename), so a reader never sees a half-written object; with ``durable=True`` (an
image's COG, before its record is committed) the bytes are on disk when it returns.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse

from rastercat.errors import InvalidInput, StoreError


class ObjectStore(Protocol):
    def put_file(self, src: Path, key: str, *, durable: bool = False) -> None:
        """Move ``src`` to ``key``. ``durable``: the object survives a crash or power cut once
        this returns (a record that names it is committed next)."""
        ...

    def gdal_path(self, key: str) -> str: ...
    def fetch(self, key: str, dest_dir: Path) -> Path: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def gdal_env(self) -> contextlib.AbstractContextManager[Any]:
        """What :meth:`gdal_path` paths must be opened inside (e.g. object-store credentials)."""
        ...


@runtime_checkable
class DirectUploads(Protocol):
    """A store that clients can upload to without passing through the API."""

    def presign_put(self, key: str, expires: int | None = None) -> str: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(f"invalid object key {key!r}")
    return key


def sync_file(path: Path, *, drop_cache: bool = False) -> None:
    """Write ``path``'s data to disk (``fdatasync``); ``drop_cache``: then drop its pages from
    the page cache.

    The sync: without it a power cut after the image record is committed can leave the record
    naming a COG whose bytes never reached the disk. The drop: the ingest that wrote the COG has
    read it for the last time (checksum, statistics), and measured on this project's machine,
    COGs kept in the page cache made each next conversion find new memory: its system time grew
    from 1.2-1.4 s to 2.6-3.2 s for a 500 MiB COG, while dropped pages are reused at once. A
    reader of the image later reads it from disk (and GDAL's block cache)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        if drop_cache:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sync_folder(folder: Path) -> None:
    """Write a folder's entries to disk (a renamed file's new name survives a power cut)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PUT_RETRIES = 20
"""How often a put tries again when a concurrent delete removed its freshly made folder."""


class LocalObjectStore:
    """Objects as files under ``root``.

    Deleting an object removes the folders it leaves empty, except top-level prefixes
    (``uploads``, ``products``) that every writer shares. Making a folder with
    ``mkdir(parents=True)`` is not atomic, so a deletion can still remove a deeper folder (say
    ``products/<uid>``) between a put's ``mkdir`` and its rename: puts then try again, and
    listings ignore folders that vanish while they are walked.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put_file(self, src: Path, key: str, *, durable: bool = False) -> None:
        """``durable``: the file's bytes and its folder entry are written to disk before this
        returns, and the file's pages leave the page cache (see :func:`sync_file`)."""
        dest = self.path(key)
        for attempt in range(PUT_RETRIES):
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                self._move(src, dest)
                if durable:
                    sync_file(dest, drop_cache=True)
                    sync_folder(dest.parent)
                return
            except (FileNotFoundError, FileExistsError):
                # The source is gone (a caller's bug), or a deletion pruned a folder we just made
                # (mkdir then says ENOENT, or EEXIST when the folder vanished between its own
                # mkdir and is_dir): only the latter is worth another try.
                if not src.exists() or attempt == PUT_RETRIES - 1:
                    raise

    @staticmethod
    def _move(src: Path, dest: Path) -> None:
        try:
            os.replace(src, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another file system: copy next to the target (a short unique name: the target's
            # own may already be 255 bytes long), then rename.
            tmp = dest.parent / f".put-{uuid.uuid4().hex[:12]}.partial"
            try:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
            src.unlink(missing_ok=True)

    def gdal_path(self, key: str) -> str:
        return str(self.path(key))

    def fetch(self, key: str, dest_dir: Path) -> Path:
        path = self.path(key)
        if not path.exists():
            raise StoreError(f"object {key!r} is missing from storage")
        return path

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        # Remove emptied folders, so deleting leaves nothing behind; never a top-level prefix,
        # which writers share all the time. A folder that is not empty (or is gone) ends it.
        parent = path.parent
        while parent.parent != self.root and parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def gdal_env(self) -> contextlib.AbstractContextManager[Any]:
        import rasterio

        # Opening a file makes GDAL list its folder to look for sidecars unless told otherwise:
        # slow when files sit in big folders, and rastercat never uses sidecars.
        return rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a folder), in sorted order within each folder. Folders that a
        concurrent deletion removes while they are walked are skipped, not an error."""
        base = self.root / prefix if prefix else self.root
        # os.walk ignores folders it cannot list (onerror=None), unlike Path.rglob.
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            here = Path(folder)
            for name in sorted(files):
                yield (here / name).relative_to(self.root).as_posix()


def open_object_store(url: str) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    raise InvalidInput(f"unsupported storage URL {url!r} (expected file://...)")
