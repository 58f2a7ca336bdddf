"""PostgreSQL: a GiST index over the footprint and the acquisition time together.

Revision ID: 0004
Revises: 0003

The footprint's GiST index (0002) knows no time: a 5-degree box over 18 months at 1M images read
every image of the box over ten years (~520 rows, each on its own heap page) to keep the ~80 in the
window. With ``acquired`` as the index's second column (``btree_gist`` lets a GiST index hold a
plain number) the window is applied inside the index, as SQLite's R*Tree does with its time axis.
It replaces the footprint-only index, which it serves as well (its first column); with both, the
planner took the smaller one whenever its statistics were thin. SQLite: nothing to do.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE INDEX ix_images_footprint_time ON images USING gist (footprint, acquired)")
    op.execute("DROP INDEX ix_images_footprint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_images_footprint ON images USING gist (footprint)")
    op.execute("DROP INDEX ix_images_footprint_time")
