"""An index on an image's product and key: how one image is found when it is added, changed,
replaced or deleted.

Revision ID: 0006
Revises: 0005

Without it each lookup read every image of the product through ``product_uid`` and compared keys:
``add_image`` into a product of 20,000 images took 15-20 ms instead of 4 (measured with
``benchmarks/bench_bulk.py``'s one-POST-per-record peer), growing with the product.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_images_product_key", "images", ["product_uid", "key"])


def downgrade() -> None:
    op.drop_index("ix_images_product_key", table_name="images")
