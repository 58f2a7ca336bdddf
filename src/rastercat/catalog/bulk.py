"""Image records in bulk: one batch of up to ``bulk.max_records`` records, all or nothing.

Each record goes through the same rule as a single image (:meth:`CatalogService.prepare_image` and
:meth:`CatalogService.image_row`); what differs is that every refused record is collected and
named (its index, id and field) before anything is written, and that rows and their spatial index
entries are written with multi-row statements in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rastercat.catalog.principal import Principal
from rastercat.catalog.service import CatalogService, sub_key
from rastercat.errors import (
    Conflict,
    ConflictingBatch,
    InvalidBatch,
    InvalidInput,
    RastercatError,
)
from rastercat.store.ports import Tx
from rastercat.store.records import NewImage
from rastercat.store.sql.repo import utcnow


def record_error(
    cls: type[RastercatError], index: int, key: Any, field: str | None, message: str
) -> RastercatError:
    """One refused record, in the error format: a pointer into the body and index/id/field."""
    # The attribute itself ("cloud_fraction", not pydantic's "cloud_fraction.float" branch).
    field = field.split(".")[0] if field else None
    pointer = f"/data/{index}" + (f"/{field}" if field else "")
    shown = f" (id {key!r})" if key is not None else ""
    err = cls(f"record {index}{shown}: {message}", field=pointer, index=index, id=key)
    err.details["field"] = field
    return err


def _raw_key(pid: str, record: Any) -> Any:
    if not isinstance(record, dict):
        return None
    key = record.get("id") or record.get("key")
    return sub_key(pid, key) if isinstance(key, str) else key


class BulkImages:
    """Adds batches of image records to a product through the catalog's one image rule."""

    def __init__(self, catalog: CatalogService) -> None:
        self.catalog = catalog
        self.repo = catalog.repo

    def prepare(self, pid: str, records: Sequence[Any]) -> list[NewImage]:
        """Validate every record (no database access); InvalidBatch naming each refused one."""
        limit = self.catalog.settings.bulk.max_records
        if not records:
            raise InvalidInput("the batch has no records", field="data")
        if len(records) > limit:
            raise InvalidInput(
                f"the batch has {len(records)} records; at most {limit} are accepted per request "
                "(RASTERCAT_BULK__MAX_RECORDS): send several batches",
                field="data",
            )
        errors: list[RastercatError] = []
        prepared: list[NewImage] = []
        first_index: dict[str, int] = {}
        for index, record in enumerate(records):
            key = _raw_key(pid, record)
            if not isinstance(record, dict):
                errors.append(
                    record_error(InvalidInput, index, None, None, "must be a JSON object")
                )
                continue
            try:
                new = self.catalog.prepare_image(pid, record)
            except InvalidInput as exc:
                errors.append(record_error(InvalidInput, index, key, exc.field, exc.message))
                continue
            if new.key in first_index:
                errors.append(
                    record_error(
                        InvalidInput,
                        index,
                        new.key,
                        "id",
                        f"the id is also given to record {first_index[new.key]} of this batch",
                    )
                )
                continue
            first_index[new.key] = index
            prepared.append(new)
        if errors:
            raise InvalidBatch(
                f"{len(errors)} of {len(records)} record(s) refused; nothing was added", errors
            )
        return prepared

    def add(self, p: Principal, pid: str, records: Sequence[Any]) -> list[str]:
        """Validate and add a batch; returns the new image ids in record order."""
        return self.add_prepared(p, pid, self.prepare(pid, records))

    def add_prepared(self, p: Principal, pid: str, batch: Sequence[NewImage]) -> list[str]:
        """Add already prepared images in one transaction (ConflictingBatch naming each id that
        the product already has)."""
        level = "own" if any(new.acl for new in batch) else "write"
        now = utcnow()
        with self.repo.tx() as conn:
            product = self.catalog.product_for(conn, p, pid, level)
            self.check_new(conn, product, batch)
            rows = [self.catalog.image_row(product, new, now) for new in batch]
            return self.catalog.images.create_many(conn, rows)

    def check_new(self, conn: Tx, product: dict[str, Any], batch: Sequence[NewImage]) -> None:
        keys = [new.key for new in batch]
        existing = self.catalog.images.existing_keys(conn, product, keys)
        if existing:
            errors = [
                record_error(Conflict, i, key, "id", f"image {key!r} already exists in the product")
                for i, key in enumerate(keys)
                if key in existing
            ]
            raise ConflictingBatch(
                f"{len(errors)} of {len(keys)} record(s) name images that already exist in "
                f"product {product['id']!r}; nothing was added",
                errors,
            )
