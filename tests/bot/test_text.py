from relaydesk.bot.text import fold, luhn_ok, normalise_for_model, redact, squeeze, tokens


def test_fold_strips_diacritics_including_polish_l():
    assert fold("Człowiek ŁÓDŹ Människa Straße") == "czlowiek lodz manniska strasse"


def test_squeeze_collapses_elongated_letters_only():
    assert squeeze("humaaaan pleeease") == "human please"
    assert squeeze("book") == "book"


def test_tokens_split_french_elisions_and_drop_punctuation():
    assert tokens("Passez-moi l'agent, SVP!") == ("passez", "moi", "l", "agent", "svp")
    assert tokens("c'è qualcuno?") == ("c", "e", "qualcuno")


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_redact_removes_cards_emails_and_phones_but_keeps_order_numbers():
    text = "Card 4111 1111 1111 1111, mail jan.k@example.com, call +46 70 123 45 67, order 553201"
    out = redact(text)
    assert "4111" not in out and "example.com" not in out and "123 45 67" not in out
    assert "<card>" in out and "<email>" in out and "<phone>" in out
    assert "553201" in out


def test_redact_keeps_numbers_that_fail_luhn():
    assert redact("ref 1234 5678 9012 3456") == "ref 1234 5678 9012 3456"


def test_normalise_for_model_is_redacted_and_folded():
    assert (
        normalise_for_model("  Gdzie   jest   ZAMÓWIENIE? a@b.pl ")
        == "gdzie jest zamowienie? <email>"
    )


def test_for_understanding_bounds_the_text_and_every_token():
    from relaydesk.bot.text import MAX_TOKEN_CHARS, MAX_UNDERSTOOD_CHARS, for_understanding

    assert for_understanding("x" * 50_000) == "x" * MAX_TOKEN_CHARS
    bounded = for_understanding("where is my parcel " * 500)
    assert len(bounded) <= MAX_UNDERSTOOD_CHARS and bounded.startswith("where is my parcel")
    assert for_understanding("hi a@b.se", 10_000) == "hi a@b.se"
