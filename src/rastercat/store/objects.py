"""Object storage behind a small protocol; the embedded default is a local directory.

Keys are ``/``-separated relative paths. ``put_file`` moves a finished local file into place
atomically (rename), so a reader never sees a half-written object.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse

from rastercat.errors import InvalidInput, StoreError


class ObjectStore(Protocol):
    def put_file(self, src: Path, key: str) -> None: ...
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


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put_file(self, src: Path, key: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dest)
        except OSError:  # another filesystem: copy next to the target, then rename
            tmp = dest.with_name(dest.name + ".partial")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
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
        # Remove emptied folders up to the root, so deleting leaves nothing behind.
        parent = path.parent
        while parent != self.root:
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
        return contextlib.nullcontext()  # local paths need no configuration

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for p in sorted(base.rglob("*")):
            if p.is_file():
                yield p.relative_to(self.root).as_posix()


def open_object_store(url: str) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    raise InvalidInput(f"unsupported storage URL {url!r} (expected file://...)")
