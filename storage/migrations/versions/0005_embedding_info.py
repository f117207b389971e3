"""embedding info: what made a vector (the parts of a fused vector, input fingerprints)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("embeddings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "info",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("embeddings", schema=None) as batch_op:
        batch_op.drop_column("info")
