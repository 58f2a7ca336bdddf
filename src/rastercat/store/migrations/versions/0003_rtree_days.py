"""The SQLite R*Tree's time axis in days instead of seconds.

Revision ID: 0003
Revises: 0002

An R*Tree chooses node splits by area and margin, so its axes must be on comparable scales. In
seconds, the time axis (3e8 for 10 years) dwarfed longitude and latitude (360 x 180 degrees): nodes
were split almost only by time, and a query over a small area and a few years visited most of the
tree (49 ms at 1M images; 0.6 ms in days). The tree is rebuilt from the rows' own bbox and
acquisition columns, which stay the truth. PostgreSQL has no R*Tree: nothing to do there.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_REBUILD = """
INSERT INTO images_rtree (pk, minx, maxx, miny, maxy, mint, maxt)
SELECT pk, minx, maxx, miny, maxy, COALESCE(acquired, 0) / {unit}, COALESCE(acquired, 0) / {unit}
FROM images
WHERE minx IS NOT NULL AND miny IS NOT NULL AND maxx IS NOT NULL AND maxy IS NOT NULL
ORDER BY pk
"""


def _rebuild(unit: float) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # A fresh tree, not updated entries: the node structure itself was shaped by the old scale.
    op.execute("DROP TABLE images_rtree")
    op.execute(
        "CREATE VIRTUAL TABLE images_rtree USING rtree(pk, minx, maxx, miny, maxy, mint, maxt)"
    )
    op.execute(_REBUILD.format(unit=repr(unit)))


def upgrade() -> None:
    _rebuild(86400.0)


def downgrade() -> None:
    _rebuild(1.0)
