"""A counter of changes to ``users`` and ``memberships``, kept by the database itself.

Revision ID: 0008
Revises: 0007

A search authenticated its caller by reading the user's row and groups first: on PostgreSQL that
read, with the ``BEGIN`` of the transaction holding it, cost a third of a search's round trips. A
process now remembers each caller it authenticated, with ``user_epoch.version`` as it was, and a
search of a remembered caller checks that version (and the products', migration 0007) in its own
statement: the rows come back only if no user, group membership or product changed since
(``rastercat.store.sql.guards``). Triggers raise the version in the same transaction as any insert,
update or delete of either table, by whatever code or SQL makes it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BUMP = "UPDATE user_epoch SET version = version + 1 WHERE id = 1"
_TABLES = ("users", "memberships")


def upgrade() -> None:
    op.create_table(
        "user_epoch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO user_epoch (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION rastercat_user_epoch() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "
                f"{table} FOR EACH STATEMENT EXECUTE FUNCTION rastercat_user_epoch()"
            )
        return
    for table in _TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(
                f"CREATE TRIGGER {table}_epoch_{event} AFTER {event.upper()} ON {table} "
                f"BEGIN {_BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_epoch ON {table}")
        op.execute("DROP FUNCTION rastercat_user_epoch()")
    else:
        for table in _TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_epoch_{event}")
    op.drop_table("user_epoch")
