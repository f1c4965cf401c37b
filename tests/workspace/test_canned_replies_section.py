"""The workspace file's ``canned_replies:`` section: validated with file and line (an
unknown {variable} included), applied idempotently, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.helpers.workspace import apply_text

from relaydesk.canned.models import CannedReply
from relaydesk.hub import Hub
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace

SECTION = """version: 1
canned_replies:
  - name: shipped
    title: Order shipped
    texts:
      en: "Hi {customer.first_name}, order {journey.order_number} left today."
      sv: "Hej {customer.first_name}!"
  - name: braces
    title: Literal braces
    texts:
      en: "Use {{curly}} braces, {agent.name}"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(WorkspaceFileError) as caught:
        parse_workspace(text, "ws.yaml")
    return caught.value.lines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SECTION.replace("{journey.order_number}", "{journey.order_nr}"),
            "ws.yaml:6: canned_replies[0].texts.en: unknown variable {journey.order_nr} (known:",
        ),
        (
            SECTION.replace("Hej {customer.first_name}!", "Hej {customer.first_name!"),
            "ws.yaml:7: canned_replies[0].texts.sv: a lone '{'",
        ),
        (
            SECTION.replace("Hej {customer.first_name}!", "Hej }"),
            "ws.yaml:7: canned_replies[0].texts.sv: a lone '}'",
        ),
        (
            SECTION.replace("name: braces", "name: shipped"),
            "ws.yaml:8: canned_replies[1].name: 'shipped' appears twice",
        ),
        (
            SECTION.replace("name: braces", "name: Bad Name"),
            "ws.yaml:8: canned_replies[1].name: String should match pattern",
        ),
        (
            SECTION.replace("      sv: ", "      swedish: "),
            "ws.yaml:7: canned_replies[0].texts.swedish.[key]: String should match pattern",
        ),
        (
            "version: 1\ncanned_replies:\n  - name: x\n    title: X\n    texts: {}\n",
            "ws.yaml:5: canned_replies[0].texts: give at least one text",
        ),
        (
            "version: 1\ncanned_replies:\n  - name: x\n    title: X\n    texts: {en: hi}\n"
            "    tags: [a]\n",
            "ws.yaml:6: canned_replies[0].tags: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_sections_name_the_line(text: str, expected: str) -> None:
    assert problems(text)[0].startswith(expected)


async def test_apply_creates_updates_and_is_idempotent(hub: Hub) -> None:
    first = await apply_text(hub, SECTION)
    assert {(c.kind, c.name, c.action) for c in first.changes} >= {
        ("canned_reply", "shipped", "created"),
        ("canned_reply", "braces", "created"),
    }
    again = await apply_text(hub, SECTION)
    assert {c.action for c in again.changes if c.kind == "canned_reply"} == {"unchanged"}
    changed = await apply_text(hub, SECTION.replace("title: Order shipped", "title: Shipped!"))
    [update] = [c for c in changed.changed if c.kind == "canned_reply"]
    assert (update.name, update.action, update.fields) == ("shipped", "updated", ["title"])
    async with hub.db.read() as session:
        rows = {r.name: r for r in (await session.scalars(select(CannedReply))).all()}
    assert rows["shipped"].title == "Shipped!"
    assert rows["shipped"].texts["sv"] == "Hej {customer.first_name}!"
    assert rows["braces"].texts == {"en": "Use {{curly}} braces, {agent.name}"}


async def test_a_bad_file_writes_no_canned_reply(hub: Hub) -> None:
    with pytest.raises(WorkspaceFileError):
        await apply_text(hub, SECTION.replace("{agent.name}", "{agent.nickname}"))
    async with hub.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CannedReply)) == 0
