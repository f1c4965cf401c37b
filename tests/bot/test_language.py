import pytest

from relaydesk.bot.language import SUPPORTED, detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is my order", "en"),
        ("di mana pesanan saya", "id"),
        ("var är mitt paket", "sv"),
        ("gdzie jest moja paczka", "pl"),
        ("wo ist meine Bestellung", "de"),
        ("dónde está mi pedido", "es"),
        ("où est ma commande", "fr"),
        ("waar is mijn bestelling", "nl"),
        ("onde está meu pedido", "pt"),
        ("dov'è il mio ordine", "it"),
    ],
)
def test_ten_languages_on_short_phrases(text, expected):
    assert detect_language(text).language == expected


def test_supported_languages():
    assert set(SUPPORTED) == {"en", "id", "sv", "pl", "de", "es", "fr", "nl", "pt", "it"}


def test_hint_decides_ambiguous_greetings():
    assert detect_language("hej", hint="sv").language == "sv"
    assert detect_language("hej", hint="pl").language == "pl"
    assert detect_language("ok", hint="id").source == "hint"


def test_text_overrides_a_wrong_hint_when_clear():
    guess = detect_language("gdzie jest moja paczka, czekam od tygodnia", hint="en")
    assert (guess.language, guess.source) == ("pl", "text")


def test_hint_with_region_and_unknown_hint():
    assert detect_language("hello", hint="sv-SE").language in {"sv", "en"}
    assert detect_language("where is my order", hint="xx").language == "en"


def test_empty_text_falls_back():
    assert detect_language("!!!", hint=None).source == "default"
