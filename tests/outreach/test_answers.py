"""Reading survey answers (pure), the customer's time zone and daytime, summary maths."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from relaydesk.outreach.answers import COMMENT, Answer, button_id, is_request, read_answer
from relaydesk.outreach.config import Daytime
from relaydesk.outreach.daytime import customer_zone, next_daytime
from relaydesk.outreach.summary import Tally, metric_figures
from relaydesk.outreach.texts import OutreachTexts, localized_time

TEXTS = OutreachTexts.load()


@pytest.mark.parametrize(
    ("question", "text", "language", "score", "comment"),
    [
        ("ces", "very easy", "en", 7, None),
        ("ces", "Very easy!", "en", 7, None),
        ("ces", "Sangat mudah", "id", 7, None),
        ("ces", "agak sulit", "id", 3, None),
        ("ces", "mycket lätt", "sv", 7, None),
        ("ces", "Mycket svårt, tog tre samtal", "sv", 1, "tog tre samtal"),
        ("ces", "sehr einfach", "de", 7, None),
        ("ces", "6", "en", 6, None),
        ("ces", "6/7", "en", 6, None),
        ("ces", "6 - quick and kind", "en", 6, "quick and kind"),
        ("ces", "7\ufe0f\u20e3", "en", 7, None),
        ("ces", "very easy", "sv", 7, None),  # another language's words still count
        ("csat", "very satisfied", "en", 5, None),
        ("csat", "4", "en", 4, None),
        ("nps", "0", "en", 0, None),
        ("nps", "10 would recommend", "en", 10, "would recommend"),
        ("ves_confidence", "strongly agree", "en", 7, None),
        ("ves_understanding", "instämmer helt", "sv", 7, None),
        ("ves_understanding", "sangat setuju", "id", 7, None),
    ],
)
def test_answers_in_many_languages_and_forms(
    question: str, text: str, language: str, score: int, comment: str | None
) -> None:
    answer = read_answer(question, text, None, language, TEXTS)
    assert answer is not None
    assert (answer.question, answer.score, answer.comment) == (question, score, comment)


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("ces", "8"),  # out of the 1-7 scale
        ("ces", "0"),
        ("csat", "6"),
        ("nps", "11"),
        ("ces", "not easy"),  # a phrase must start the message, so no false "easy"
        ("ces", "Where is my order 12345?"),
        ("ces", "12345"),
        ("ces", ""),
        ("nps", "very easy"),  # NPS takes numbers only
    ],
)
def test_what_is_not_an_answer_goes_the_usual_way(question: str, text: str) -> None:
    assert read_answer(question, text, None, "en", TEXTS) is None


def test_buttons_answer_only_their_own_question() -> None:
    answer = read_answer("ces", "5", button_id("ces", 5), "en", TEXTS)
    assert answer is not None and answer.score == 5
    assert read_answer("ces", "3", button_id("nps", 3), "en", TEXTS) is None
    assert read_answer("csat", "x", button_id("csat", 9), "en", TEXTS) is None


def test_comments_keep_the_customers_words_and_no_means_none() -> None:
    answer = read_answer("comment", "  The agent was GREAT ", None, "en", TEXTS)
    assert answer is not None and answer.comment == "The agent was GREAT"
    for text, language in (("no", "en"), ("Nej tack", "sv"), ("tidak", "id")):
        answer = read_answer("comment", text, None, language, TEXTS)
        assert answer is not None and answer.comment is None and answer.score is None


def test_customer_zone_from_timezone_phone_country_then_workspace() -> None:
    assert customer_zone("America/Chicago", "SE", ["+46701234567"], "UTC").key == "America/Chicago"
    assert customer_zone(None, None, ["+6281234567890"], "UTC").key == "Asia/Jakarta"
    assert customer_zone("Not/AZone", None, ["bogus", "+46701234567"], "UTC").key == (
        "Europe/Stockholm"
    )
    assert customer_zone(None, "se", [], "UTC").key == "Europe/Stockholm"
    assert customer_zone(None, None, [], "Europe/Berlin").key == "Europe/Berlin"


def test_next_daytime_moves_night_and_closed_days_to_the_next_morning() -> None:
    zone = customer_zone("Asia/Jakarta", None, [], "UTC")  # UTC+7
    day = Daytime(start=time(9), end=time(18), days=[1, 2, 3, 4, 5])
    monday_noon = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 12:00 in Jakarta
    assert next_daytime(monday_noon, zone, day) == monday_noon
    monday_night = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 22:00
    assert next_daytime(monday_night, zone, day).isoformat() == "2026-12-08T09:00:00+07:00"
    early = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # 07:30
    assert next_daytime(early, zone, day).isoformat() == "2026-12-07T09:00:00+07:00"
    friday_evening = datetime(2026, 12, 11, 12, 0, tzinfo=UTC)  # 19:00 Friday
    assert next_daytime(friday_evening, zone, day).isoformat() == "2026-12-14T09:00:00+07:00"
    with pytest.raises(ValueError, match="after"):
        Daytime(start=time(18), end=time(9))


def test_localized_day_and_time() -> None:
    at = datetime(2026, 12, 10, 14, 0, tzinfo=customer_zone("Europe/Stockholm", None, [], "UTC"))
    assert localized_time(at, "en") == "Thursday 14:00"
    assert localized_time(at, "sv") == "torsdag 14:00"
    assert localized_time(at, "id") == "Kamis 14:00"
    assert localized_time(at, "xx") == "Thursday 14:00"


def tally(counts: dict[int, int]) -> Tally:
    result = Tally()
    for score, count in counts.items():
        result.add(score, count)
    return result


def test_nps_is_promoters_minus_detractors_and_means_are_means() -> None:
    nps = metric_figures("nps", tally({10: 3, 9: 1, 8: 2, 7: 1, 6: 2, 0: 1}))
    assert nps == {"score": 10.0, "count": 10, "promoters": 4, "passives": 3, "detractors": 3}
    assert metric_figures("nps", tally({0: 2}))["score"] == -100.0
    assert metric_figures("nps", tally({}))["score"] is None
    assert metric_figures("ces", tally({7: 2, 4: 1})) == {"score": 6.0, "count": 3}
    assert metric_figures("csat", tally({5: 1, 4: 1, 1: 1})) == {"score": 3.33, "count": 3}


def test_every_language_the_bot_speaks_has_every_outreach_text() -> None:
    """Updates, surveys and queue notices in the customer's language, not English, for
    every language of the bot's pack; with answer words for each scale."""
    from relaydesk.bot.pack import load_pack

    keys = set(TEXTS.languages["en"])
    scales = set(TEXTS.languages["en"]["words"])
    for language in load_pack().languages:
        assert language in TEXTS.languages, f"no outreach texts in {language!r}"
        texts = TEXTS.languages[language]
        assert set(texts) == keys, (language, keys ^ set(texts))
        assert set(texts["words"]) == scales, language
        assert "{next_update}" in texts["update"], language
        assert localized_time(datetime(2026, 12, 10, 14, 0, tzinfo=UTC), language).endswith("14:00")


@pytest.mark.parametrize(
    ("question", "text", "language", "score"),
    [
        ("ces", "molto facile", "it", 7),
        ("ces", "heel makkelijk!", "nl", 7),
        ("ces", "bardzo łatwo", "pl", 7),
        ("ces", "Muito fácil", "pt", 7),
        ("csat", "tevreden", "nl", 4),
        ("ves_confidence", "concordo totalmente", "pt", 7),
        ("ves_understanding", "zgadzam się", "pl", 6),
        ("ves_confidence", "per niente d'accordo", "it", 1),
    ],
)
def test_answers_in_the_bots_other_languages(
    question: str, text: str, language: str, score: int
) -> None:
    answer = read_answer(question, text, None, language, TEXTS)
    assert answer is not None and answer.score == score, answer


@pytest.mark.parametrize(
    ("question", "text", "language", "score", "comment"),
    [
        ("ces", "6", "en", 6, None),
        ("ces", "6/7", "en", 6, None),
        ("ces", "6 of 7", "en", 6, None),
        ("ces", "6 av 7", "sv", 6, None),
        ("ces", "6 von 7", "de", 6, None),
        ("ces", "6️⃣ quick and kind", "en", 6, "quick and kind"),
        ("ces", "7 - great", "en", 7, "great"),
        ("ces", "7 \u2013 super, danke", "de", 7, "super, danke"),
        ("ces", "7👍", "en", 7, None),
        ("ces", "«6»", "fr", 6, None),
        ("ces", "sehr einfach", "de", 7, None),
        ("ces", "very easy, thanks", "en", 7, "thanks"),
        ("ces", "très facile, merci !", "fr", 7, "merci !"),
        ("ces", "muy fácil. gracias", "es", 7, "gracias"),
        ("ves_confidence", "pas du tout d\u2019accord", "fr", 1, None),  # a curly apostrophe
        ("nps", "10 would recommend", "en", 10, "would recommend"),
    ],
)
def test_answer_shaped_replies_are_still_read(
    question: str, text: str, language: str, score: int, comment: str | None
) -> None:
    answer = read_answer(question, text, None, language, TEXTS)
    assert answer == Answer(question, score, comment, request=False)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("2 parcels are still missing, please help", "en"),
        ("3 orders never arrived", "en"),
        ("2 Pakete fehlen noch", "de"),
        ("3 Bestellungen sind nie angekommen", "de"),
        ("2 colis manquent encore", "fr"),
        ("3 commandes ne sont jamais arrivées", "fr"),
        ("2 paquetes todavía no han llegado", "es"),
        ("2 pacchi non sono ancora arrivati", "it"),
        ("2 pakketten zijn nog steeds niet aangekomen", "nl"),
        ("2 paczki wciąż nie dotarły", "pl"),
        ("2 pacotes ainda não chegaram", "pt"),
        ("2 paket saknas fortfarande", "sv"),
        ("2 paket masih belum sampai", "id"),
        ("2 Pakete fehlen noch", "en"),  # the survey's language need not be the reply's
        ("5 items I need to return", "en"),
        ("Where is my refund?", "en"),
        ("¿Dónde está mi reembolso?", "es"),
        ("2.5 hours on hold", "en"),  # a number, not a score
        ("€2 were charged twice", "en"),  # an amount
    ],
)
def test_a_number_used_as_a_quantity_in_a_request_is_not_a_score(text: str, language: str) -> None:
    assert read_answer("ces", text, None, language, TEXTS) is None


@pytest.mark.parametrize(
    ("question", "text", "language", "score"),
    [
        ("ces", "2 - and why is my parcel still missing?", "en", 2),
        ("ces", "2, parcels still missing", "en", 2),
        ("ces", "6\nbut the refund never arrived", "en", 6),
        ("ces", "3: wo bleibt meine Rückerstattung", "de", 3),
        ("ces", "2 \u2013 pourquoi mon colis n'est pas arrivé", "fr", 2),
        ("csat", "1. Dove è il mio rimborso", "it", 1),
        ("nps", "0 - kiedy dostanę zwrot pieniędzy", "pl", 0),
        ("ces", "difficult, and I still need help", "en", 2),
        ("ces", "sangat sulit, paket saya masih hilang", "id", 1),
    ],
)
def test_a_score_set_apart_from_a_request_is_kept_and_the_message_passed_on(
    question: str, text: str, language: str, score: int
) -> None:
    answer = read_answer(question, text, None, language, TEXTS)
    assert answer == Answer(question, score, None, request=True)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where is my refund?", "en"),
        ("I still need help with my invoice", "en"),
        ("Wann kommt meine Erstattung", "de"),
        ("je veux annuler ma commande", "fr"),
        ("necesito ayuda con otro pedido", "es"),
        ("il pacco non è mai arrivato", "it"),
        ("mijn pakket is niet aangekomen", "nl"),
        ("paczka nie dotarła", "pl"),
        ("o reembolso ainda não chegou", "pt"),
        ("paketet har inte kommit", "sv"),
        ("tolong bantu, pesanan saya belum sampai", "id"),
    ],
)
def test_a_request_at_the_comment_question_is_passed_on_not_taken_as_the_comment(
    text: str, language: str
) -> None:
    assert read_answer("comment", text, None, language, TEXTS) is None


def test_feedback_at_the_comment_question_is_still_the_comment() -> None:
    for text, language in (
        ("The agent was kind and quick", "en"),
        ("Sehr freundlich, danke", "de"),
        ("Rapide et efficace", "fr"),
    ):
        answer = read_answer("comment", text, None, language, TEXTS)
        assert answer == Answer(COMMENT, None, text)


def test_every_language_has_request_markers_and_scale_words() -> None:
    for language, texts in TEXTS.languages.items():
        assert texts.get("request_markers"), language
        assert texts.get("out_of"), language
    assert ("fehl*",) not in TEXTS.request_markers  # markers are whole words unless starred
    assert ("storn*",) in TEXTS.request_markers
    assert is_request("Meine Bestellung wurde storniert", TEXTS)
    assert not is_request("Danke, alles gut", TEXTS)
    assert not is_request("", TEXTS)
