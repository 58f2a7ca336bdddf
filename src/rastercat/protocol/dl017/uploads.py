"""The upload result shape (§2.8): one upload job as the Catalog service lists and shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rastercat.protocol.dl017.documents import iso


def upload_doc(row: Mapping[str, Any], full: bool = False) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "status": row["status"],
        "created": iso(row["created"]),
        "updated": iso(row["updated"]),
        "attempts": row["attempts"],
        "image_id": f"{row['product_id']}:{row['image_key']}",
        "upload_uid": row["uid"],
        "file_size": row["file_size"],
        "exception_name": row["exception_name"],
        "failure_type": row["failure_type"],
        "peak_memory_usage": 0,
        "runtime": row["runtime"],
    }
    if row["params"].get("sha256"):  # a resumable upload's whole-file SHA-256 (hex)
        attrs["sha256"] = row["params"]["sha256"]
    if full:
        attrs.update(labels=[row["product_id"], row["image_key"]], logs=row["log"], stacktrace=None)
    return {"id": row["upload_id"], "type": "upload", "attributes": attrs}
