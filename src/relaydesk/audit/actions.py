"""The only writes to the audit log. Callers record in the same transaction as the change,
so an edit and its audit row commit (or roll back) together."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.audit.models import AuditEntry
from relaydesk.db import new_id

REDACTED = "[redacted]"
SECRET_WORDS = ("password", "secret", "token", "api_key", "private_key")
MAX_TEXT = 300
"""Longer strings (article bodies, …) are summarised by length, not copied."""


def _secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS) or lowered.endswith("_key")


def redact(value: Any, key: str = "") -> Any:
    """A copy safe to store: secret-looking keys keep only ``env:NAME`` references, long
    texts become a length summary."""
    if key and _secret(key):
        if isinstance(value, str) and value.startswith("env:"):
            return value
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"<{len(value)} characters>"
    return value


def difference(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, on each side (a field missing on one side is left out)."""
    keys = sorted(set(before) | set(after))
    changed = [k for k in keys if before.get(k) != after.get(k)]
    return (
        {k: redact(before[k], k) for k in changed if k in before},
        {k: redact(after[k], k) for k in changed if k in after},
    )


async def record(
    session: AsyncSession,
    *,
    actor: str,
    actor_name: str | None,
    action: str,
    target_kind: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Write one entry with the changed fields only; nothing when nothing changed."""
    old, new = difference(before or {}, after or {})
    if before is not None and after is not None and not old and not new:
        return None
    entry = AuditEntry(
        id=new_id(),
        created_at=clock.now(),
        actor=actor[:200],
        actor_name=(actor_name or None) and actor_name[:200],
        action=action[:64],
        target_kind=target_kind[:32],
        target=target[:320],
        before=old,
        after=new,
    )
    session.add(entry)
    await session.flush()
    return entry
