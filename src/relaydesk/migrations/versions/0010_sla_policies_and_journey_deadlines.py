"""sla policies and journey deadlines

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import relaydesk.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, relaydesk.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("calendar", sa.String(length=100), nullable=False),
        sa.Column("target_seconds", sa.Double(), nullable=False),
        _when("started_at", nullable=False),
        _when("due_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("met_at"),
        _when("breached_at"),
        sa.Column("remaining_seconds", sa.Double(), nullable=True),
        _when("warn_at"),
        _when("warned_at"),
        _when("breach_escalated_at"),
        _when("priority_raised_at"),
        _when("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_sla_clocks_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("journey_id", "kind", name=op.f("pk_sla_clocks")),
    )
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clocks_breached", ["breached_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_breached")
    op.drop_table("sla_clocks")
