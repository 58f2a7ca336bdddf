"""Table definitions used by queries. The schema itself is created by the Alembic migrations.

On PostgreSQL ``images`` also has a PostGIS ``footprint`` column (revision 0002); it is left out here
so that the same ``select(images)`` runs on both databases (``Repo`` reaches it on its own).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("sub", sa.String(400), nullable=False, unique=True),
    sa.Column("namespace", sa.String(40), nullable=False, unique=True),
    sa.Column("org", sa.String(200)),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("tokens_valid_after", sa.Float, nullable=False, default=0.0),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column(
        "user_pk", sa.Integer, sa.ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("group_name", sa.String(200), primary_key=True),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(400), nullable=False, unique=True),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("namespace", sa.String(40), nullable=False),
    sa.Column("attrs", sa.JSON, nullable=False),
    sa.Column("owners", sa.JSON, nullable=False),
    sa.Column("readers", sa.JSON, nullable=False),
    sa.Column("writers", sa.JSON, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
)

product_epoch = sa.Table(
    "product_epoch",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # Raised by triggers on every change to ``products`` (migration 0007): one row, id 1.
    sa.Column("version", sa.BigInteger, nullable=False),
)

user_epoch = sa.Table(
    "user_epoch",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # Raised by triggers on every change to ``users`` and ``memberships`` (migration 0008).
    sa.Column("version", sa.BigInteger, nullable=False),
)

bands = sa.Table(
    "bands",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(600), nullable=False, unique=True),
    sa.Column("product_uid", sa.String(32), nullable=False, index=True),
    sa.Column("product_id", sa.String(400), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("attrs", sa.JSON, nullable=False),
    sa.Column("owners", sa.JSON, nullable=False),
    sa.Column("readers", sa.JSON, nullable=False),
    sa.Column("writers", sa.JSON, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(800), nullable=False, unique=True),
    sa.Column("product_uid", sa.String(32), nullable=False, index=True),
    sa.Column("product_id", sa.String(400), nullable=False, index=True),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("attrs", sa.JSON, nullable=False),
    sa.Column("owners", sa.JSON, nullable=False),
    sa.Column("readers", sa.JSON, nullable=False),
    sa.Column("writers", sa.JSON, nullable=False),
    sa.Column("acquired", sa.Float, index=True),
    sa.Column("minx", sa.Float),
    sa.Column("miny", sa.Float),
    sa.Column("maxx", sa.Float),
    sa.Column("maxy", sa.Float),
    sa.Column("storage_key", sa.String(800)),
    sa.Column("band_names", sa.JSON),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("product_uid", sa.String(32), nullable=False, index=True),
    sa.Column("product_id", sa.String(400), nullable=False, index=True),
    sa.Column("upload_id", sa.String(400), nullable=False),
    sa.Column("image_key", sa.String(400), nullable=False),
    sa.Column("group_key", sa.String(400)),
    sa.Column("owner_pk", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("file_key", sa.String(800)),
    sa.Column("file_size", sa.BigInteger),
    sa.Column("log", sa.Text, nullable=False, default=""),
    sa.Column("failure_type", sa.String(40)),
    sa.Column("exception_name", sa.String(200)),
    sa.Column("runtime", sa.Float),
    sa.Column("lease_until", sa.Float),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)

deletion_tasks = sa.Table(
    "deletion_tasks",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("product_uid", sa.String(32), nullable=False),
    sa.Column("product_id", sa.String(400), nullable=False),
    sa.Column("owner_pk", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("deleted", sa.Integer, nullable=False, default=0),
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)

permission_jobs = sa.Table(
    "permission_jobs",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True),
    sa.Column("product_uid", sa.String(32), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)
