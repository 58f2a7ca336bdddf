"""Run by the tests as a subprocess: one SDK upload, then wait for its result; prints the status.

argv: url token product file state_dir part_bytes parallel
"""

from __future__ import annotations

import sys
from pathlib import Path

from rastercat.client.catalog import Catalog
from rastercat.config import UploadClientSettings


def main() -> None:
    url, token, product, file, state_dir, part_bytes, parallel = sys.argv[1:8]
    with Catalog(url=url, token=token) as catalog:
        catalog.upload_settings = UploadClientSettings(
            threshold_bytes=0, part_bytes=int(part_bytes), parallel=int(parallel),
            state_dir=Path(state_dir), backoff=0.05,
        )  # fmt: skip
        upload_id = catalog.upload_image(file, product, progress=False)
        doc = catalog.wait_for_upload(product, str(upload_id), timeout=600)
        print(doc["data"]["attributes"]["status"], doc["data"]["attributes"].get("sha256"))


if __name__ == "__main__":
    main()
