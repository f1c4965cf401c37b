"""Tables: an article (slug, tags, status) and its per-language variants."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relaydesk.db import Base, new_id


class KbArticle(Base):
    """One answer, identified by a slug that appears in help-centre URLs and pack intents."""

    __tablename__ = "kb_articles"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="published")
    """draft | published — only published articles reach the help centre and the bot."""
    revision: Mapped[int] = mapped_column(default=1)
    """Bumped on every change, so caches of the knowledge base notice edits."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    variants: Mapped[list[KbVariant]] = relationship(
        back_populates="article",
        cascade="all, delete-orphan",
        order_by="KbVariant.language",
        lazy="selectin",
    )


class KbVariant(Base):
    """The article in one language: title, body (Markdown) and the questions it answers."""

    __tablename__ = "kb_article_variants"
    __table_args__ = (UniqueConstraint("article_id", "language"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    article_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    questions: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime]

    article: Mapped[KbArticle] = relationship(back_populates="variants")
