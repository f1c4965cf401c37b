"""knowledge base

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import relaydesk.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_articles_slug")),
    )
    op.create_table(
        "kb_article_variants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("questions", JSON, nullable=False),
        sa.Column("updated_at", relaydesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_article_variants_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article_variants")),
        sa.UniqueConstraint(
            "article_id", "language", name=op.f("uq_kb_article_variants_article_id_language")
        ),
    )
    with op.batch_alter_table("kb_article_variants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_article_variants_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("kb_article_variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_article_variants_article_id"))
    op.drop_table("kb_article_variants")
    op.drop_table("kb_articles")
