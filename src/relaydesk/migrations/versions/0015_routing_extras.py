"""routing extras: indexes for the kept agent pool, customers' wait notices

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import relaydesk.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_agents_updated_at", "agents", ["updated_at"])
    op.create_index("ix_agent_loads_updated_at", "agent_loads", ["updated_at"])
    op.create_table(
        "routing_wait_notices",
        sa.Column("journey_id", sa.Uuid(), sa.ForeignKey("journeys.id"), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Double(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("sent_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("routing_wait_notices")
    op.drop_index("ix_agent_loads_updated_at", "agent_loads")
    op.drop_index("ix_agents_updated_at", "agents")
