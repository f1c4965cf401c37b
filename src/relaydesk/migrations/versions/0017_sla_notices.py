"""sla notices: escalations addressed to an agent, kept until seen

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import relaydesk.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("clock", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("due_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dismissed_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_sla_notices_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_sla_notices_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_notices")),
    )
    with op.batch_alter_table("sla_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sla_notices_agent_open", ["agent_id", "dismissed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_notices_agent_open")
    op.drop_table("sla_notices")
