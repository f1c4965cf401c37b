from relaydesk.bot.sentiment import analyse


def test_neutral_question():
    s = analyse("where is my order")
    assert (s.label, s.frustrated, s.signals) == ("neutral", False, [])


def test_positive_thanks():
    assert analyse("thanks, great help").label == "positive"


def test_negation_flips_positive_words():
    assert analyse("not happy at all").label == "negative"


def test_all_caps_and_negative_words_mean_frustration():
    s = analyse("THIS IS RIDICULOUS WHERE IS MY ORDER")
    assert s.frustrated and {"all_caps", "negative_words"} <= set(s.signals)


def test_exclamation_runs():
    assert "exclamations" in analyse("saya sangat kecewa!!!").signals


def test_short_caps_are_not_shouting():
    assert "all_caps" not in analyse("OK").signals


def test_profanity_in_pack_languages():
    for text in ["kurwa, gdzie paczka", "anjing, paket belum datang", "fan, javla skit", "wtf"]:
        s = analyse(text)
        assert "profanity" in s.signals, text
        assert s.frustrated


def test_repeated_message_is_a_signal_and_twice_is_frustration():
    once = analyse("where is my order??", ["Where is my order?"])
    assert "repeated_message" in once.signals
    twice = analyse("where is my order", ["where is my order", "Where is my order!"])
    assert twice.frustrated


def test_score_is_bounded():
    s = analyse("WORST SCAM EVER, DISGUSTING, F*** YOU!!! fuck this shit")
    assert -1.0 <= s.score <= 1.0 and s.label == "negative"


def test_as_dict_shape():
    assert set(analyse("hi").as_dict()) == {"score", "label", "frustrated", "signals"}
