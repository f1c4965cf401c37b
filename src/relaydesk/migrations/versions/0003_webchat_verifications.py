"""web chat email verifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:22:41.252317
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import relaydesk.channels.webchat.models  # registers the table (see below)
import relaydesk.db

# The import above puts webchat_verifications into the metadata that autogenerate and
# `relaydesk db check` compare with, until relaydesk/models.py imports it like every table.

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webchat_verifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_webchat_verifications_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_verifications")),
    )
    with op.batch_alter_table("webchat_verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webchat_verifications_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_webchat_verifications_email", ["email", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_webchat_verifications_visitor", ["channel", "visitor", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webchat_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_webchat_verifications_visitor")
        batch_op.drop_index("ix_webchat_verifications_email")
        batch_op.drop_index(batch_op.f("ix_webchat_verifications_customer_id"))
    op.drop_table("webchat_verifications")
