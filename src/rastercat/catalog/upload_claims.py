"""A PUT's hold on its upload while the bytes arrive (step 2 of the upload protocol).

An upload URL takes one PUT at a time: the PUT that starts first marks the UPLOADING row as
receiving (``file_key`` names where its bytes will be stored, ``lease_until`` is set) and a second
one gets 409. The lease is renewed while bytes keep arriving, at most every few seconds, so a slow
transfer of any length is never expired; the maintenance sweep ends a row whose lease lapsed (no
data for ``idle`` seconds, or a process that died mid-transfer). A PUT that ends without storing
(client gone, body too large, cancelled) gives the row back: the URL can be used again while it is
valid.

Every change is conditional on the row still being held by this PUT (``file_key`` is unique per
PUT), so a PUT that lost its hold never changes another's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rastercat.errors import Conflict
from rastercat.store.sql.repo import Repo, utcnow
from rastercat.store.sql.uploads import Uploads

log = logging.getLogger("rastercat.uploads")


def renew_interval(idle: float) -> float:
    """How often a receiving PUT renews its lease: a few seconds, well within ``idle``."""
    return max(0.05, min(5.0, idle / 4))


@dataclass(frozen=True)
class Claim:
    repo: Repo
    row: dict[str, Any]
    """The upload row as it was claimed (``file_key`` and ``lease_until`` set)."""
    attempt: str
    idle: float

    @property
    def key(self) -> str:
        return str(self.row["file_key"])

    @classmethod
    def take(cls, repo: Repo, row: dict[str, Any], idle: float) -> Claim:
        """Mark ``row`` as receiving for this PUT; 409 when another PUT holds it or it has moved on."""
        # The attempt in the key keeps a losing PUT from replacing or deleting the winner's file;
        # the file name stays the user's, which the processing log quotes.
        attempt = uuid.uuid4().hex[:12]
        key = f"uploads/{row['uid']}/{attempt}/{row['upload_id']}"
        lease = time.time() + idle
        rows = Uploads(repo)
        with repo.tx() as conn:
            taken = rows.update_if(
                conn,
                row["pk"],
                {"file_key": key, "lease_until": lease, "updated": utcnow()},
                status="UPLOADING",
                file_key=None,
                lease_until=None,
            )
            if not taken:
                current = rows.find_pk(conn, row["pk"])
                if current is not None and current["status"] == "UPLOADING":
                    raise Conflict(
                        "this upload URL is receiving data in another request: one PUT at a time"
                    )
                raise Conflict("this upload URL has already been used: request a new one")
        return cls(repo, {**row, "file_key": key, "lease_until": lease}, attempt, idle)

    def _update_if_held(self, values: dict[str, Any]) -> bool:
        """Set ``values`` while this request holds the upload."""
        with self.repo.tx() as conn:
            return Uploads(self.repo).update_if(
                conn, self.row["pk"], values, status="UPLOADING", file_key=self.key
            )

    def renew(self) -> bool:
        """Data arrived: keep the row receiving. False when this PUT no longer holds it."""
        return self._update_if_held({"lease_until": time.time() + self.idle, "updated": utcnow()})

    @contextlib.contextmanager
    def kept(self) -> Iterator[None]:
        """Renew the hold every few seconds while the block runs (server-side work on the
        received file, when no data arrives)."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(renew_interval(self.idle)):
                try:
                    self.renew()
                except Exception:  # the database is busy: the next renewal may succeed
                    log.warning("could not renew the hold of upload %s", self.row["uid"])

        thread = threading.Thread(target=renew, name="rastercat-upload-hold", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def release(self) -> None:
        """Give the row back (UPLOADING, no PUT in progress) if this PUT still holds it."""
        self._update_if_held({"file_key": None, "lease_until": None, "updated": utcnow()})


def lost_hold(idle: float) -> Conflict:
    return Conflict(
        f"this upload ended while its data was arriving (no data for {idle:g} s, or its product "
        "was deleted): request a new upload URL"
    )
