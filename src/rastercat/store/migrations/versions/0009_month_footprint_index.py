"""PostgreSQL: a GiST index over the month of acquisition, then the footprint's envelope.

Revision ID: 0009
Revises: 0008

The (footprint, acquired) index of 0004 is split by space first: a 20-degree box over one month at
1M images read ~240 of its pages (the box's images of all ten years) to find ~60 in the window,
0.7 ms; a 60-degree box over a week 4 ms. Split by month first (the whole number of average
Gregorian months since 1970, ``store/sql/areas.py``), then by envelope, the same search reads the
box in one or two months' subtrees: 0.19 ms and 0.7 ms. Long windows are the other way round (a 0.2-degree
box over ten years descends 120 months' subtrees: 2 ms against 0.05 ms), so searches use it only
for short windows (``areas.months_pay``). Its second column is ``ST_Envelope(footprint)``, not the
footprint itself, so that the planner cannot take it for a search that does not ask for it (with
the footprint as is, it took it for long windows too). Built in ~7 s at 1M images, while writes
wait. SQLite: nothing to do (its R*Tree has a time axis).
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_images_month_envelope ON images USING gist "
        "((floor(acquired / 2629746.0)::int4), ST_Envelope(footprint))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_images_month_envelope")
