"""Article bodies are Markdown: safe HTML for the help centre, plain text for chat replies.

Raw HTML in a body is escaped, never passed through (``html: False``), and markdown-it's
link validation drops ``javascript:``-style URLs, so an article cannot script the help
centre. Chat channels mostly show plain text, so the bot gets the body without markup.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def to_html(body: str) -> str:
    """The body as HTML that is safe to embed in a page."""
    html: str = _md().render(body)
    return html


def to_text(body: str) -> str:
    """The body without Markdown: paragraphs kept, links as ``label (url)``."""
    blocks: list[str] = []
    for token in _md().parse(body):
        if token.type == "inline":
            blocks.append(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
    text = "\n".join(b for b in blocks if b.strip())
    return re.sub(r"[ \t]+", " ", text).strip()


def _inline_text(children: list[Token]) -> str:
    out: list[str] = []
    href: str | None = None
    label_start = 0
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append(child.content)
        elif child.type == "link_open":
            href, label_start = str(child.attrs.get("href") or ""), len(out)
        elif child.type == "link_close" and href is not None:
            label = "".join(out[label_start:]).strip()
            if href and href != label:
                out.append(f" ({href})")
            href = None
    return "".join(out)


def snippet(body: str, length: int = 200) -> str:
    """The first ``length`` characters of the plain text, cut at a word."""
    text = " ".join(to_text(body).split())
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"
