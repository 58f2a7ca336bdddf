"""A counter of changes to ``products``, kept by the database itself.

Revision ID: 0007
Revises: 0006

Every search needs the products its caller may read. It read every product's ACL, and decoded and
checked each one: ~9 ms per 1,000 products in the catalog, readable or not (88 ms at 10,000). Now a
process keeps the ACLs it read, and each search reads one row instead: ``product_epoch.version``,
which triggers on ``products`` raise in the same transaction as any insert, update or delete, by
whatever code or SQL makes it. A search that reads the version its cache was built at sees the
same products in its snapshot as that cache does; any other version, and the ACLs are read again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BUMP = "UPDATE product_epoch SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "product_epoch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO product_epoch (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION rastercat_product_epoch() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER products_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products "
            "FOR EACH STATEMENT EXECUTE FUNCTION rastercat_product_epoch()"
        )
        return
    for event in ("insert", "update", "delete"):
        op.execute(
            f"CREATE TRIGGER products_epoch_{event} AFTER {event.upper()} ON products "
            f"BEGIN {_BUMP}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER products_epoch ON products")
        op.execute("DROP FUNCTION rastercat_product_epoch()")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER products_epoch_{event}")
    op.drop_table("product_epoch")
