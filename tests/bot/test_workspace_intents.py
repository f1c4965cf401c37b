"""The workspace's own intents: the ``bot:`` section, its validation, storage and model."""

from __future__ import annotations

import httpx
import pytest
from tests.helpers.workspace import apply_text

from relaydesk.bot.intents import definition_version, workspace_pack
from relaydesk.bot.listeners import runtime_for
from relaydesk.bot.runtime import DEFAULT_MODELS, train
from relaydesk.bot.schemas import default_pack
from relaydesk.hub import Hub
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace

# A clinic that books appointments, in Swedish, German and Italian (not the pack's business,
# nor mostly its languages): pack: none replaces the default pack.
CLINIC = """
version: 1
knowledge_base:
  starter_articles: false
  articles:
    - slug: opening-hours
      variants:
        sv: {title: Öppettider, body: "Vi har öppet 8-17 på vardagar."}
bot:
  pack: none
  facts:
    personnummer:
      entity: order_number
      prompt: {sv: "Vilket är ditt bokningsnummer?"}
  intents:
    book_appointment:
      bot_may_resolve: false
      required_facts: [personnummer]
      signals: [purchase_intent]
      examples:
        sv: [jag vill boka en tid, kan jag få en tid hos läkaren, boka tid imorgon,
             finns det lediga tider nästa vecka, jag behöver boka ett besök]
        de: [ich möchte einen Termin buchen, kann ich einen Termin beim Arzt bekommen,
             Termin für morgen vereinbaren, gibt es freie Termine nächste Woche]
        it: [vorrei prenotare un appuntamento, posso avere un appuntamento dal medico]
    opening_hours:
      bot_may_resolve: true
      article: opening-hours
      examples:
        sv: [när har ni öppet, vilka är era öppettider, har ni öppet på lördag,
             hur dags stänger ni, är mottagningen öppen idag]
        de: [wann haben Sie geöffnet, was sind Ihre Öffnungszeiten, haben Sie samstags offen,
             wann schließen Sie]
        it: [quando siete aperti, qual è l'orario di apertura, siete aperti sabato]
    prescription:
      bot_may_resolve: false
      examples:
        sv: [jag behöver förnya mitt recept, kan ni skriva ut mer medicin, receptet har gått ut,
             jag vill ha ett nytt recept, förnya recept på min medicin]
        de: [ich brauche ein neues Rezept, können Sie mein Rezept verlängern,
             mein Rezept ist abgelaufen, Rezept für meine Medikamente erneuern]
        it: [ho bisogno di una nuova ricetta, potete rinnovare la mia ricetta]
"""


def _error(text: str) -> str:
    with pytest.raises(WorkspaceFileError) as caught:
        parse_workspace(text, "clinic.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "phrase"),
    [
        (
            "        it: [quando siete aperti",
            "        xx: [quando siete aperti",
            "unknown language",
        ),
        ("      required_facts: [personnummer]", "      required_facts: [ssn]", "unknown fact"),
        ("      signals: [purchase_intent]", "      signals: [upsell]", "unknown signal"),
    ],
)
def test_validation_errors_name_file_and_line(old: str, new: str, phrase: str) -> None:
    text = CLINIC.replace(old, new)
    message = _error(text)
    line = next(
        i
        for i, row in enumerate(text.splitlines(), 1)
        if row == new.rstrip() or row.startswith(new)
    )
    assert message.startswith(f"clinic.yaml:{line}:"), message
    assert phrase in message


def test_a_new_intent_needs_enough_examples_and_replace_needs_two_intents() -> None:
    few = """
version: 1
bot:
  intents:
    warranty:
      examples:
        en: [is my kettle under warranty, warranty claim]
"""
    message = _error(few)
    assert message.startswith("clinic.yaml:6:"), message  # the examples: line
    assert "at least 5 examples (has 2)" in message
    # Extending an intent the pack has needs no minimum: the pack's examples stay.
    parse_workspace(few.replace("warranty:", "billing:"), "ok.yaml")
    alone = """
version: 1
bot:
  pack: none
  intents:
    only:
      examples: {en: [a one, a two, a three, a four, a five]}
"""
    assert "at least two intents" in _error(alone)


async def test_unknown_article_is_refused_with_its_line_and_nothing_written(hub: Hub) -> None:
    text = CLINIC.replace("article: opening-hours", "article: visiting-hours")
    with pytest.raises(WorkspaceFileError) as caught:
        await apply_text(hub, text, "clinic.yaml")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "visiting-hours" in row)
    assert str(caught.value).startswith(f"clinic.yaml:{line}: bot.intents.opening_hours.article")
    assert "visiting-hours" in str(caught.value)
    async with hub.db.read() as session:
        from relaydesk.bot.queries import intents_definition

        assert await intents_definition(session) is None  # nothing half-written


async def test_apply_is_idempotent_and_empty_section_returns_to_the_pack(hub: Hub) -> None:
    def bot_changes(report: object) -> list[str]:
        return [c.action for c in report.changes if c.kind == "bot"]  # type: ignore[attr-defined]

    assert bot_changes(await apply_text(hub, CLINIC)) == ["created"]
    assert bot_changes(await apply_text(hub, CLINIC)) == ["unchanged"]
    edited = CLINIC.replace("hur dags stänger ni", "hur dags stänger mottagningen")
    assert bot_changes(await apply_text(hub, edited)) == ["updated"]
    no_section = "version: 1\n"
    assert bot_changes(await apply_text(hub, no_section)) == []  # absent: left alone
    assert bot_changes(await apply_text(hub, "version: 1\nbot: {}\n")) == ["deleted"]
    assert bot_changes(await apply_text(hub, "version: 1\nbot: {}\n")) == ["unchanged"]


def test_extend_adds_and_overrides_pack_intents() -> None:
    definition = {
        "intents": {
            "warranty": {
                "bot_may_resolve": True,
                "signals": ["purchase_intent"],
                "examples": {
                    "en": ["is this under warranty", "warranty claim for my kettle"],
                    "pl": ["czy to jest na gwarancji", "reklamacja gwarancyjna", "gwarancja"],
                },
            },
            "billing": {"bot_may_resolve": True, "examples": {"en": ["why two invoices"]}},
        }
    }
    base = default_pack()
    pack = workspace_pack(definition)
    assert set(pack.intents) == set(base.intents) | {"warranty"}
    assert pack.intents["warranty"].bot_may_resolve is True
    assert pack.intents["billing"].bot_may_resolve is True  # overridden
    assert pack.intents["billing"].article == base.intents["billing"].article  # kept
    assert pack.intents["billing"].required_facts == base.intents["billing"].required_facts
    assert pack.examples["billing"]["en"][-1] == "why two invoices"
    assert len(pack.examples["billing"]["en"]) == len(base.examples["billing"]["en"]) + 1
    assert base.intents["billing"].bot_may_resolve is False  # the shared pack is untouched
    assert definition_version(definition) == definition_version(dict(reversed(definition.items())))


def test_replace_keeps_only_the_workspace_intents() -> None:
    loaded = parse_workspace(CLINIC, "clinic.yaml")
    assert loaded.spec.bot is not None
    from relaydesk.bot.schemas import stored_form

    pack = workspace_pack(stored_form(loaded.spec.bot))
    assert set(pack.intents) == {"book_appointment", "opening_hours", "prescription"}
    assert pack.facts["personnummer"].prompt_for("sv") == "Vilket är ditt bokningsnummer?"
    assert pack.missing_facts("book_appointment", {})[0].id == "personnummer"
    assert set(pack.languages) == {"sv", "de", "it"}
    model = train(stored_form(loaded.spec.bot), "clinic").model
    assert model.classify("kan jag boka en tid på fredag")[0] == "book_appointment"
    assert model.classify("Wann haben Sie am Montag geöffnet?")[0] == "opening_hours"
    assert model.classify("mi serve una ricetta nuova")[0] == "prescription"


async def test_parse_api_and_intents_api_use_the_workspace_model(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    await apply_text(hub, CLINIC)
    got = (await client.get("/api/v1/bot/intents")).json()
    assert got["intents"] == ["book_appointment", "opening_hours", "prescription"]
    version = got["version"]
    assert version and got["bot"]["pack"] == "none"
    body = (await client.post("/api/v1/bot/parse", json={"text": "jag vill boka en tid"})).json()
    assert body["intent"] == "book_appointment"
    assert body["language"] == "sv"
    assert runtime_for(hub)._last is not None and runtime_for(hub)._last.version == version

    # Replace through the API: the new model trains in the background; once it is ready the
    # parse answers with it.
    bot = dict(got["bot"])
    bot["intents"] = {
        **bot["intents"],
        "cancel_booking": {
            "examples": {
                "sv": ["jag vill avboka min tid", "avboka besöket", "kan jag avboka"],
                "de": ["ich möchte meinen Termin absagen", "Termin stornieren"],
            }
        },
    }
    put = await client.put("/api/v1/bot/intents", json=bot)
    assert put.status_code == 200, put.text
    new_version = put.json()["version"]
    assert new_version != version and "cancel_booking" in put.json()["intents"]
    future = DEFAULT_MODELS.known(new_version)
    assert future is not None
    future.result(timeout=120)
    body = (
        await client.post("/api/v1/bot/parse", json={"text": "jag måste avboka min tid"})
    ).json()
    assert body["intent"] == "cancel_booking"

    # Back to the default pack.
    assert (await client.put("/api/v1/bot/intents", json={})).json()["version"] is None
    assert "order_status" in (await client.get("/api/v1/bot/intents")).json()["intents"]


async def test_intents_api_rejects_bad_input(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    few = {"intents": {"warranty": {"examples": {"en": ["warranty"]}}}}
    response = await client.put("/api/v1/bot/intents", json=few)
    assert response.status_code == 422
    assert "at least 5 examples" in response.text
    article = {"intents": {"billing": {"article": "no-such-article"}}}
    response = await client.put("/api/v1/bot/intents", json=article)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "intents.billing.article"
    assert (await anonymous.get("/api/v1/bot/intents")).status_code == 401
    assert (await anonymous.put("/api/v1/bot/intents", json={})).status_code == 401


async def test_applying_new_intents_starts_training_in_the_worker(hub: Hub) -> None:
    import uuid

    from relaydesk.bot.queries import intents_definition
    from relaydesk.worker import Worker

    unique = f"jag vill boka ett läkarbesök {uuid.uuid4().hex[:6]}"  # a version never trained
    text = CLINIC.replace("jag behöver boka ett besök", unique)
    await apply_text(hub, text)
    async with hub.db.read() as session:
        stored = await intents_definition(session)
    assert stored is not None
    assert DEFAULT_MODELS.known(stored[0]) is None  # a version this process never saw
    await Worker(hub).drain()
    future = DEFAULT_MODELS.known(stored[0])
    assert future is not None  # started by the WorkspaceApplied listener, not by a turn
    assert "book_appointment" in future.result(timeout=120).pack.intents
