"""routing and assignment

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:45:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import relaydesk.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, relaydesk.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agent_loads",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("load", sa.Double(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        _time("last_assigned_at", nullable=True),
        _time("updated_at", nullable=False),
        sa.CheckConstraint(
            "load >= 0 AND load <= 1.000001", name=op.f("ck_agent_loads_load_range")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_loads_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_loads")),
    )
    op.create_table(
        "routing_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel_class", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=True),
        _time("accepted_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "weight > 0 AND weight <= 1", name=op.f("ck_routing_assignments_weight_range")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_routing_assignments_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_routing_assignments_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_routing_assignments_journey_id_journeys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_assignments")),
    )
    with op.batch_alter_table("routing_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routing_assignments_agent_status", ["agent_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_routing_assignments_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_routing_assignments_journey_time", ["journey_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_routing_assignments_one_holder",
            ["journey_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('offered', 'active')"),
            postgresql_where=sa.text("status IN ('offered', 'active')"),
        )
    op.create_table(
        "routing_decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("inputs", _json(), nullable=False),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_routing_decisions_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_routing_decisions_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routing_decisions_journey_time", ["journey_id", "created_at"], unique=False
        )
    op.create_table(
        "routing_queue",
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        _time("enqueued_at", nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        _time("sla_due_at", nullable=True),
        sa.Column("excluded", _json(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("understood", _json(), nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journeys.id"], name=op.f("fk_routing_queue_journey_id_journeys")
        ),
        sa.PrimaryKeyConstraint("journey_id", name=op.f("pk_routing_queue")),
    )


def downgrade() -> None:
    op.drop_table("routing_queue")
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_decisions_journey_time")
    op.drop_table("routing_decisions")
    with op.batch_alter_table("routing_assignments", schema=None) as batch_op:
        batch_op.drop_index("uq_routing_assignments_one_holder")
        batch_op.drop_index("ix_routing_assignments_journey_time")
        batch_op.drop_index(batch_op.f("ix_routing_assignments_customer_id"))
        batch_op.drop_index("ix_routing_assignments_agent_status")
    op.drop_table("routing_assignments")
    op.drop_table("agent_loads")
