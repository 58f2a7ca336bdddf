"""Completing a resumable upload: the parts become the upload's file, which then takes exactly
the path of a finished PUT (:meth:`UploadService.stored`: the same job, the same checks).

Local storage: the parts are concatenated, streaming, into one file whose SHA-256 the API computes
(and compares with the client's); S3: ``CompleteMultipartUpload`` assembles them in the bucket.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from rastercat.catalog.upload_claims import Claim
from rastercat.errors import Conflict, InvalidInput
from rastercat.store.multipart import ASSEMBLED, LocalParts, Part, S3Parts

if TYPE_CHECKING:
    from rastercat.catalog.multipart import MultipartService


def complete(svc: MultipartService, token: str, body: Any) -> dict[str, Any]:
    """Assemble the parts into the upload's file, then queue its job exactly as a finished PUT
    does. Completing an upload that already completed answers its current state."""
    row = svc.session_row(token)
    if row["status"] != "UPLOADING":
        return svc.doc(row)
    claimed = body.get("sha256") if isinstance(body, dict) else None
    if claimed is not None and (
        not isinstance(claimed, str) or len(claimed) != 64
        or any(ch not in "0123456789abcdef" for ch in claimed.lower())
    ):  # fmt: skip
        raise InvalidInput("'sha256' must be the file's SHA-256 in hex", field="sha256")
    claim = svc.hold(row)
    mp = row["params"]["multipart"]
    parts = svc.listed(row)
    have = {p.number: p for p in parts}
    missing = [n for n in range(1, mp["part_count"] + 1) if n not in have]
    if missing:
        shown = ", ".join(str(n) for n in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise Conflict(f"{len(missing)} part(s) not received yet: {shown}")
    for n, p in have.items():
        if n > mp["part_count"] or p.size != svc.expected_size(mp, n):
            raise Conflict(f"part {n} has {p.size} bytes, not {svc.expected_size(mp, n)}")
    ordered = [have[n] for n in range(1, mp["part_count"] + 1)]
    if isinstance(svc.parts, LocalParts):
        return _complete_local(svc, claim, ordered, claimed)
    assert isinstance(svc.parts, S3Parts)
    return _complete_s3(svc, claim, ordered, claimed)


def _record_sha(svc: MultipartService, claim: Claim, sha: str | None, *, computed: bool) -> Claim:
    """Record the whole file's SHA-256: ``computed`` by the API (local parts, assembled here), or
    the client's, which the ingest job checks against the object it fetches (S3 assembles the
    parts in the bucket; the API never sees the bytes)."""
    if sha is None:
        return claim
    params = {**claim.row["params"], "sha256": sha.lower(), "sha256_checked": computed}
    with svc.repo.tx() as conn:
        svc.uploads.rows.update_if(conn, claim.row["pk"], {"params": params}, file_key=claim.key)
    return Claim(svc.repo, {**claim.row, "params": params}, claim.attempt, svc.idle)


def _complete_local(
    svc: MultipartService, claim: Claim, parts: list[Part], claimed: str | None
) -> dict[str, Any]:
    assert isinstance(svc.parts, LocalParts)
    row, mp = claim.row, claim.row["params"]["multipart"]
    # The assembled file gets a key of its own, swapped in by one conditional update: of two
    # completions at once exactly one goes on, and it never deletes the other's file.
    final = f"uploads/{row['uid']}/{uuid.uuid4().hex[:12]}/{row['upload_id']}"
    with svc.repo.tx() as conn:
        swapped = svc.uploads.rows.update_if(
            conn,
            row["pk"],
            {"file_key": final, "lease_until": time.time() + svc.idle},
            status="UPLOADING",
            file_key=claim.key,
        )
    if not swapped:
        raise Conflict("this upload is being completed by another request")
    mine = Claim(svc.repo, {**row, "file_key": final}, "complete", svc.idle)
    svc.incoming.mkdir(parents=True, exist_ok=True)
    tmp = svc.incoming / f"{row['uid']}.multipart.part"
    try:
        with mine.kept():
            sha = svc.parts.assemble(row["uid"], parts, tmp)
        if claimed is not None and claimed.lower() != sha:
            raise InvalidInput(
                f"'sha256' {claimed} is not the SHA-256 of the parts put together ({sha}): "
                "the file changed while it was sent; start the upload again",
                field="sha256",
            )
        mine = _record_sha(svc, mine, sha, computed=True)
        stored = svc.uploads._stored(mine, tmp, mp["size"])
    except BaseException:
        with svc.repo.tx() as conn:  # give the session its parts back
            svc.uploads.rows.update_if(
                conn, row["pk"], {"file_key": claim.key}, status="UPLOADING", file_key=final
            )
        raise
    finally:
        tmp.unlink(missing_ok=True)
    svc.parts.abort(row["uid"], mp["key"], mp["session"])
    return {**svc.doc(stored), "sha256": sha}


def _complete_s3(
    svc: MultipartService, claim: Claim, parts: list[Part], claimed: str | None
) -> dict[str, Any]:
    assert isinstance(svc.parts, S3Parts)
    mp = claim.row["params"]["multipart"]
    if any(p.etag != ASSEMBLED for p in parts):  # else S3 completed it before a crash of ours
        with claim.kept():
            svc.parts.complete(mp["key"], mp["session"], parts)
    claim = _record_sha(svc, claim, claimed, computed=False)
    # Two completions at once: S3 completes once; the loser must not delete the object.
    stored = svc.uploads.stored(claim, mp["size"], delete_on_loss=False)
    return {**svc.doc(stored), "sha256": claimed}
