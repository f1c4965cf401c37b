"""outreach notifications, proactive updates and surveys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import relaydesk.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outreach_update_plans",
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("next_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.String(length=32), nullable=True),
        sa.Column("updated_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_outreach_update_plans_journey_id_journeys"),
        ),
        sa.PrimaryKeyConstraint("journey_id", name=op.f("pk_outreach_update_plans")),
    )
    op.create_table(
        "outreach_surveys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("resolved_by", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column(
            "questions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("ask_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", relaydesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_outreach_surveys_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_outreach_surveys_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_outreach_surveys_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_outreach_surveys_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_surveys")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outreach_surveys_event_id")),
    )
    with op.batch_alter_table("outreach_surveys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outreach_surveys_customer", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_surveys_journey_id"), ["journey_id"], unique=False
        )
        batch_op.create_index("ix_outreach_surveys_open", ["customer_id", "status"], unique=False)

    op.create_table(
        "outreach_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column(
            "variables",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("send_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("sent_channel", sa.String(length=100), nullable=True),
        sa.Column("journey_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_outreach_notifications_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_outreach_notifications_journey_id_journeys"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_outreach_notifications_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_notifications")),
    )
    with op.batch_alter_table("outreach_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outreach_notifications_customer", ["customer_id", "send_at"], unique=False
        )

    op.create_table(
        "outreach_survey_answers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("question", sa.String(length=40), nullable=False),
        sa.Column("metric", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("resolved_by", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("answered_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_outreach_survey_answers_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_outreach_survey_answers_message_id_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["outreach_surveys.id"],
            name=op.f("fk_outreach_survey_answers_survey_id_outreach_surveys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_survey_answers")),
    )
    with op.batch_alter_table("outreach_survey_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outreach_survey_answers_metric", ["metric", "answered_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outreach_survey_answers_survey_id"), ["survey_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outreach_survey_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_survey_answers_survey_id"))
        batch_op.drop_index("ix_outreach_survey_answers_metric")

    op.drop_table("outreach_survey_answers")
    with op.batch_alter_table("outreach_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_outreach_notifications_customer")

    op.drop_table("outreach_notifications")
    with op.batch_alter_table("outreach_surveys", schema=None) as batch_op:
        batch_op.drop_index("ix_outreach_surveys_open")
        batch_op.drop_index(batch_op.f("ix_outreach_surveys_journey_id"))
        batch_op.drop_index("ix_outreach_surveys_customer")

    op.drop_table("outreach_surveys")
    op.drop_table("outreach_update_plans")
