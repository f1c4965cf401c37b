"""console audit log and admin: audit_log; index on journeys' last activity for the inbox

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:45:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import relaydesk.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("before", _json(), nullable=False),
        sa.Column("after", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_created", ["created_at"], unique=False)
        batch_op.create_index("ix_audit_log_target", ["target_kind", "target"], unique=False)
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.create_index("ix_journeys_last_activity", ["last_activity_at"], unique=False)
        batch_op.create_index(
            "ix_journeys_owner_activity",
            ["owner_type", "owner_agent_id", "last_activity_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index("ix_journeys_owner_activity")
        batch_op.drop_index("ix_journeys_last_activity")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target")
        batch_op.drop_index("ix_audit_log_created")
    op.drop_table("audit_log")
