"""Search indexes for many images: ``images.acquired`` on every database, and on PostgreSQL a
PostGIS footprint (the image's lon/lat bounding box, EPSG:4326) with a GiST index.

Revision ID: 0002
Revises: 0001

SQLite keeps its (lon, lat, time) R*Tree from 0001. On PostgreSQL the footprint column replaces the
plain B-tree over the bbox columns, which cannot answer a two-sided range on two axes; it is filled
from the bbox columns here, and kept current by ``Repo.index_image``.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_images_acquired", "images", ["acquired"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("ALTER TABLE images ADD COLUMN footprint geometry(Polygon, 4326)")
    op.execute(
        "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, 4326) "
        "WHERE minx IS NOT NULL AND miny IS NOT NULL AND maxx IS NOT NULL AND maxy IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_images_footprint ON images USING gist (footprint)")
    op.drop_index("ix_images_bbox", table_name="images")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_images_bbox", "images", ["minx", "maxx", "miny", "maxy"])
        op.execute("DROP INDEX ix_images_footprint")
        op.execute("ALTER TABLE images DROP COLUMN footprint")
    op.drop_index("ix_images_acquired", table_name="images")
