"""review risk on titles: the review queue's order, kept instead of aggregated per request

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same derivation as storage.queue.refresh_review_risk, for the titles already stored.
BACKFILL = """
UPDATE titles SET
  review_needed = (
    (SELECT count(*) FROM rating_suggestions s WHERE s.title_id = titles.id)
    > (SELECT count(*) FROM rating_decisions d WHERE d.title_id = titles.id)),
  review_max_age = COALESCE(
    (SELECT max(s.min_age) FROM rating_suggestions s WHERE s.title_id = titles.id), -1),
  review_min_confidence = COALESCE(
    (SELECT min(s.confidence) FROM rating_suggestions s WHERE s.title_id = titles.id), 2.0)
"""


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_needed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("review_max_age", sa.Integer(), server_default="-1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("review_min_confidence", sa.Float(), server_default="2.0", nullable=False)
        )
    # Outside the batch: SQLite's batch mode cannot carry an index with DESC columns.
    op.create_index(
        "ix_titles_review_risk",
        "titles",
        [
            sa.literal_column("review_needed DESC"),
            sa.literal_column("review_max_age DESC"),
            "review_min_confidence",
            sa.literal_column("id DESC"),
        ],
        unique=False,
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_titles_review_risk", table_name="titles")
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.drop_column("review_min_confidence")
        batch_op.drop_column("review_max_age")
        batch_op.drop_column("review_needed")
