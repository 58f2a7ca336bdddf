"""Client-side settings: how the SDK and ``rastercat upload`` send large files.

Lives with the SDK (which imports no server module); ``rastercat.config`` re-exports it under its
documented name.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class UploadClientSettings(BaseSettings):
    """How the SDK and ``rastercat upload`` send large files (client side; ``RASTERCAT_UPLOAD_*``
    environment variables, or pass an instance to the SDK)."""

    model_config = SettingsConfigDict(env_prefix="RASTERCAT_UPLOAD_", extra="ignore")

    threshold_bytes: int = Field(default=64 * 2**20, ge=0)
    """Files of at least this size are sent as a resumable upload in parts; smaller ones with one
    PUT (the 0.17 protocol)."""
    part_bytes: int = Field(default=16 * 2**20, ge=2**16)
    """Size of each part (raised when a file would otherwise need more parts than the server
    allows). Memory used is about ``parallel`` x ``part_bytes``."""
    parallel: int = Field(default=4, ge=1, le=64)
    """Parts sent at once."""
    retries: int = Field(default=8, ge=0)
    """Tries again for each part (and for each API call) after a failure, with exponential backoff."""
    backoff: float = Field(default=0.5, ge=0)
    """First wait before a retry, in seconds; doubled each time (at most 30 s), with jitter."""
    state_dir: Path | None = None
    """Where the state that lets an interrupted upload resume is kept; defaults to the user's
    cache directory (``platformdirs.user_cache_dir("rastercat")/uploads``)."""

    @property
    def resolved_state_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        import platformdirs

        return Path(platformdirs.user_cache_dir("rastercat", appauthor=False)) / "uploads"
