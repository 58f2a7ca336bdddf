"""Settings, read from ``RASTERCAT_*`` environment variables (nested groups use ``__``).

Nothing here is built at import time: call :func:`load_settings` (or construct :class:`Settings`)
where settings are needed and pass the object down.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rastercat.client.settings import UploadClientSettings  # noqa: F401 (documented here too)


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("rastercat", appauthor=False))


def default_child_memory() -> int:
    """Half of this machine's physical memory: one runaway conversion cannot take it all, while a
    normal one (GDAL streams by blocks) stays far below. 0 (unlimited) where the size is unknown."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return 0


class Limits(BaseModel):
    """Caps that protect the server from hostile or careless requests."""

    max_upload_bytes: int = 20 * 2**30
    """Largest accepted upload body (413 above)."""
    max_request_body_bytes: int = 4 * 2**20
    """Largest body of any other request (JSON of searches, reads, catalog changes): 413 above,
    answered before the body is read or the token checked. Uploads have their own limit."""
    max_image_pixels: int = 40_000 * 40_000
    """Largest declared width x height of an uploaded raster."""
    max_image_side: int = 200_000 // 2
    """Largest declared width or height of an uploaded raster."""
    max_decoded_bytes: int = 16 * 2**30
    """Largest declared width x height x bands x itemsize of an uploaded raster."""
    max_output_bytes: int = 48 * 2**20
    """Largest requested output (width x height x bands x itemsize) of a raster read."""
    max_output_side: int = 32_768
    """Largest requested output width or height of a raster read."""
    max_read_bytes: int = 2**30
    """Largest memory one raster read may allocate: the working canvas, the warped window, masks,
    the output and the encoder's copies (estimated by ``rastercat.raster.grid.read_memory``)."""
    max_concurrent_reads: int = 0
    """Raster reads (and point queries) running at once; more wait for a slot. 0 sizes it for the
    machine: two per core, but no more ``max_read_bytes`` reads than fit in half the memory."""
    max_concurrent_tiles: int = 0
    """Tile renders running at once, in slots of their own: a map's tiles never queue behind
    large raster reads (in the mixed soak, a mosaic read took a second and tiles waited seconds
    behind them). A tile is at most ``tilesize`` 1024 squared. 0: two per core."""
    max_extra_properties: int = 10

    def concurrent_tiles(self) -> int:
        """``max_concurrent_tiles``, or two per core when it is 0."""
        if self.max_concurrent_tiles > 0:
            return self.max_concurrent_tiles
        return 2 * (os.cpu_count() or 1)

    def concurrent_reads(self) -> int:
        """``max_concurrent_reads``, or the machine's size when it is 0."""
        if self.max_concurrent_reads > 0:
            return self.max_concurrent_reads
        by_cores = 2 * (os.cpu_count() or 1)
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):  # not a POSIX system
            return by_cores
        return max(1, min(by_cores, memory // 2 // max(self.max_read_bytes, 1)))


class IngestSettings(BaseModel):
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    """In-process ingest workers started by ``rastercat serve``."""
    queue: str = "local"
    """``local`` (in-process workers polling the job table) or ``celery``."""
    broker_url: str = "redis://127.0.0.1:6379/0"
    max_attempts: int = 3
    """Runs of one job at most, counting runs whose worker died or lost its lease; past it the job
    ends FAILURE (a file that crashes or exhausts its worker cannot be retried forever)."""
    lease_seconds: float = 60.0
    """Seconds a claimed job stays owned without a heartbeat; a running job's heartbeat renews it
    every third of this, so only a job whose worker died (or hung) is claimed again."""
    child_memory_bytes: int = Field(default_factory=default_child_memory)
    """Memory limit (``RLIMIT_DATA``) of each conversion child process (``isolate``); a conversion
    above it ends FAILURE and the pool goes on. Default: half the machine's memory; 0: unlimited.
    Keep it above ~400 MiB: a child needs ~130 MiB for its imports, and GDAL stalls when it cannot
    create its compression threads."""
    poll_interval: float = 0.2
    arrival_interval: float = 1.0
    """Seconds between looks at the bucket for direct uploads that have arrived (S3 store)."""
    compression: str = "ZSTD"
    compression_level: int = 1
    isolate: bool = True
    """Run each conversion of the in-process workers in a child process (all cores, no GIL
    contention with the API); ``rastercat worker`` processes always convert in-process."""
    nice: int = Field(default=10, ge=0, le=19)
    """Niceness added to each conversion child process (``isolate``; 0 to 19): when the machine is
    busy, the API's requests (tiles, searches, reads) get the CPU before conversions do; on an
    idle machine a conversion runs as fast as with 0."""


class S3Settings(BaseModel):
    """An S3-compatible object store (AWS, MinIO, Ceph, moto...). Unset credentials and region fall
    back to the usual AWS environment and config files (boto3's and GDAL's own lookup)."""

    bucket: str | None = None
    """Set to store objects in this bucket instead of ``storage_url``."""
    prefix: str = ""
    """Key prefix inside the bucket (e.g. ``rastercat/``), so one bucket can hold several catalogs."""
    endpoint_url: str | None = None
    """e.g. ``http://127.0.0.1:9000`` for a self-hosted service; None means AWS itself."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    presign_ttl: int = 3600
    """Lifetime in seconds of presigned URLs made outside the upload protocol (upload URLs live
    ``upload_url_ttl`` seconds, the lifetime after which abandoned uploads expire)."""
    direct_uploads: bool = True
    """Upload URLs are presigned PUT URLs straight to the bucket (bytes never pass through the API);
    False sends uploads through the API, for buckets that clients cannot reach."""


class StacSettings(BaseModel):
    """The STAC API at ``/stac/v1`` (products as Collections, images as Items)."""

    default_limit: int = 10
    """Items per page when a request gives no ``limit``."""
    max_limit: int = 10_000
    """Largest page; a larger ``limit`` is clamped to it (the STAC API spec says clamp, not refuse)."""
    asset_url_ttl: int = 3600
    """Lifetime in seconds of the signed asset URLs in items (the COG and the thumbnail)."""
    title: str = "rastercat"
    description: str = (
        "Products and images of this rastercat catalog as STAC Collections and Items."
    )
    license: str = "proprietary"
    """A Collection's ``license`` when its product gives none (an SPDX id, or ``proprietary``)."""


class BulkSettings(BaseModel):
    """Image records added in bulk (``POST .../products/{id}/images/bulk``)."""

    max_records: int = 10_000
    """Most records in one request (400 above): one request is one transaction."""
    max_body_bytes: int = 32 * 2**20
    """Largest body of the bulk route, its own cap (413 above) instead of the general JSON one:
    10,000 records with a footprint polygon and a few properties measure 3-6 MiB."""


class RegisterSettings(BaseModel):
    """Existing files recorded in place (``rastercat register``), without copying them. Nothing
    is registrable until an administrator lists where from; anything else is a 403."""

    roots: list[Path] = Field(default_factory=list)
    """Local folders whose files may be registered (JSON list), e.g. ``["/data/cogs"]``. Paths
    are resolved (symlinks, ``..``) before the check."""
    buckets: list[str] = Field(default_factory=list)
    """S3 buckets whose objects may be registered (JSON list); read with the ``s3`` group's
    endpoint and credentials."""


class MultipartSettings(BaseModel):
    """Resumable uploads in parts (``/uploads/multipart/...``): see :mod:`rastercat.catalog.multipart`."""

    min_part_bytes: int = Field(default=2**20, ge=1)
    """Smallest part (except the last) the API accepts when it receives the parts itself (local
    storage). On S3 storage S3's own minimum of 5 MiB applies."""
    max_part_bytes: int = Field(default=5 * 2**30, ge=1)
    """Largest part: S3's own maximum."""
    max_parts: int = Field(default=10_000, ge=1, le=10_000)
    """Most parts of one file: S3's own maximum."""
    session_ttl: int = Field(default=7 * 86_400, gt=0)
    """Lifetime in seconds of a resumable upload's session URL. The upload itself lives as long as
    data (or the client's heartbeat) keeps arriving: it is abandoned after ``upload_idle_timeout``
    seconds without either, and maintenance then removes (or aborts, on S3) its parts."""


class Settings(BaseSettings):
    """Everything the server needs; one instance per app."""

    model_config = SettingsConfigDict(
        env_prefix="RASTERCAT_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8765
    database_url: str | None = None
    """Defaults to a SQLite file in ``data_dir``."""
    storage_url: str | None = None
    """Defaults to ``file://<data_dir>/objects``."""
    public_url: str | None = None
    """Base URL clients use to reach this server (upload URLs); defaults to the request's own."""
    upload_url_ttl: int = 3600
    upload_idle_timeout: float = Field(default=300.0, gt=0)
    """Seconds without data after which a PUT of an upload in progress is given up (the URL can
    be used again while it is valid). A transfer that keeps receiving data never expires, however
    slow; an upload URL that was never used expires ``upload_url_ttl`` + 60 s after it was made."""
    secret: SecretStr | None = None
    """Signs tokens and upload URLs. Set it (the same value) on every API replica and admin machine
    to keep them stateless; unset, a ``secret.key`` file in ``data_dir`` is created and used."""
    start_workers: bool = True
    local_signin: bool = False
    """Hand the local user's token (``local-credentials.json``) to a browser on this machine, so
    the viewer signs in by itself (``GET /viewer/v1/local-token``). Off unless set, or turned on by
    ``rastercat serve`` when it binds a loopback address only; even then only requests from a
    loopback client to a loopback name, with no proxy headers, get it. Set it to false when a
    reverse proxy on this machine forwards to the server without adding ``X-Forwarded-For``."""
    token_days: float = Field(default=90, gt=0, le=36_500)
    """Lifetime of new user tokens, in days (``rastercat token --days`` overrides it). Keep it well
    above the 500 s the 0.17 client expects a token to remain valid for."""
    memory_trim_interval: float = Field(default=2.0, ge=0)
    """Seconds between looks at the API process's own memory: grown by 64 MiB since the last
    time, its freed heap memory goes back to the system (glibc's ``malloc_trim``; 0 turns it
    off). Threads that read rasters leave freed memory in malloc arenas of their own, which glibc
    keeps resident otherwise: measured under a mixed load (``benchmarks/soak.py``), the process
    grew by 200–300 MiB in 5 minutes without it and stayed level with it (+9 MiB), at the same
    throughput (:mod:`rastercat.heap`)."""
    gc_threshold: int = Field(default=10_000, ge=0)
    """New Python containers between the cyclic collector's passes over the youngest generation,
    in ``rastercat serve`` (Python's default is 700); the objects the process holds once its app
    has started are frozen too, so those passes never walk them. 0 leaves the collector as Python
    sets it. Measured at 1M images: with Python's settings, 1,800 searches set off 1,278 passes
    and 4 full ones of ~40 ms each; with these, none (:mod:`rastercat.collector`)."""
    limits: Limits = Field(default_factory=Limits)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    stac: StacSettings = Field(default_factory=StacSettings)
    bulk: BulkSettings = Field(default_factory=BulkSettings)
    registration: RegisterSettings = Field(
        default_factory=RegisterSettings,
        # ``RASTERCAT_REGISTER__*`` in the environment; a field named ``register`` would shadow
        # the ABC method of the same name.
        validation_alias=AliasChoices("register", "registration", "RASTERCAT_REGISTER"),
    )
    multipart: MultipartSettings = Field(default_factory=MultipartSettings)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'catalog.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "objects").as_uri()

    @property
    def secret_path(self) -> Path:
        return self.data_dir / "secret.key"


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` accepts connections from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (from CLI flags) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
