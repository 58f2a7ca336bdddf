"""The initial schema, frozen: explicit tables as they stood at the first release.

Revision ID: 0001
Revises:

Later schema changes come as new revisions; this file never changes again (a database created by it
must upgrade to exactly the schema a fresh one gets).
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created() -> sa.Column:
    return sa.Column("created", sa.DateTime(timezone=True), nullable=False)


def _acl() -> list[sa.Column]:
    return [
        sa.Column("owners", sa.JSON, nullable=False),
        sa.Column("readers", sa.JSON, nullable=False),
        sa.Column("writers", sa.JSON, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("sub", sa.String(400), nullable=False, unique=True),
        sa.Column("namespace", sa.String(40), nullable=False, unique=True),
        sa.Column("org", sa.String(200)),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("tokens_valid_after", sa.Float, nullable=False),
        _created(),
    )
    op.create_table(
        "memberships",
        sa.Column(
            "user_pk", sa.Integer, sa.ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("group_name", sa.String(200), primary_key=True),
    )
    op.create_table(
        "products",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(400), nullable=False, unique=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("namespace", sa.String(40), nullable=False),
        sa.Column("attrs", sa.JSON, nullable=False),
        *_acl(),
        _created(),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bands",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(600), nullable=False, unique=True),
        sa.Column("product_uid", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(400), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("attrs", sa.JSON, nullable=False),
        *_acl(),
        _created(),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bands_product_uid", "bands", ["product_uid"])
    op.create_table(
        "images",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(800), nullable=False, unique=True),
        sa.Column("product_uid", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(400), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("attrs", sa.JSON, nullable=False),
        *_acl(),
        sa.Column("acquired", sa.Float),
        sa.Column("minx", sa.Float),
        sa.Column("miny", sa.Float),
        sa.Column("maxx", sa.Float),
        sa.Column("maxy", sa.Float),
        sa.Column("storage_key", sa.String(800)),
        sa.Column("band_names", sa.JSON),
        _created(),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_images_product_uid", "images", ["product_uid"])
    op.create_index("ix_images_product_id", "images", ["product_id"])
    op.create_table(
        "uploads",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("product_uid", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(400), nullable=False),
        sa.Column("upload_id", sa.String(400), nullable=False),
        sa.Column("image_key", sa.String(400), nullable=False),
        sa.Column("group_key", sa.String(400)),
        sa.Column("owner_pk", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("file_key", sa.String(800)),
        sa.Column("file_size", sa.BigInteger),
        sa.Column("log", sa.Text, nullable=False),
        sa.Column("failure_type", sa.String(40)),
        sa.Column("exception_name", sa.String(200)),
        sa.Column("runtime", sa.Float),
        sa.Column("lease_until", sa.Float),
        _created(),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_uploads_product_uid", "uploads", ["product_uid"])
    op.create_index("ix_uploads_product_id", "uploads", ["product_id"])
    op.create_index("ix_uploads_status", "uploads", ["status"])
    op.create_table(
        "deletion_tasks",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("product_uid", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(400), nullable=False),
        sa.Column("owner_pk", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        _created(),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "permission_jobs",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("product_uid", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _created(),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_images_product_acquired", "images", ["product_uid", "acquired"])
    op.create_index("ix_uploads_product_upload", "uploads", ["product_uid", "upload_id"])
    if op.get_bind().dialect.name == "sqlite":
        # Space and time indexed together: (lon, lat, acquired). Measured ~6x faster than a 2-D
        # R*Tree per bbox+date query on 1M rows, and ~1000x faster than a planner-chosen scan.
        op.execute(
            "CREATE VIRTUAL TABLE images_rtree USING rtree(pk, minx, maxx, miny, maxy, mint, maxt)"
        )
    else:
        op.create_index("ix_images_bbox", "images", ["minx", "maxx", "miny", "maxy"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE images_rtree")
    for name in ("permission_jobs", "deletion_tasks", "uploads", "images", "bands", "memberships",
                 "products", "users"):  # fmt: skip
        op.drop_table(name)
