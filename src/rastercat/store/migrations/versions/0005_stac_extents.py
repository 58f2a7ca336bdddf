"""Indexes that answer a product's extent (STAC Collection ``extent``) without reading its images.

Revision ID: 0005
Revises: 0004

The extent is min(minx), min(miny), max(maxx), max(maxy), min(acquired) and max(acquired) over a
product's images. Computed over the rows it read every row (the bbox and date columns sit after the
large ``attrs`` JSON column): ~300 ms per 100,000 images. With an index on (product_uid, column)
each of the six is a single index seek on SQLite and PostgreSQL alike (both turn min/max under an
equality into "first entry of the index range"), so the extent stays exact and current as images
come and go, in any number of server processes, at well under a millisecond for any product size.
(product_uid, acquired) exists since 0001. A single covering index over all six columns would still
be scanned in full for the bbox (only its second column is ordered).
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("minx", "miny", "maxx", "maxy")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_images_product_{column}", "images", ["product_uid", column])


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_images_product_{column}", table_name="images")
