from relaydesk.bot.turn import analyse_turn


def test_asks_for_the_order_number_only_when_missing(model, pack, kb):
    first = analyse_turn(model, pack, kb, "where is my order?", language="en")
    assert first.parse.intent == "order_status"
    assert first.missing_facts == ["order_number"]
    assert first.fact_prompt and "order number" in first.fact_prompt
    given = analyse_turn(model, pack, kb, "where is my order #48213?", language="en")
    assert given.missing_facts == [] and given.facts == {"order_number": "48213"}
    known = analyse_turn(
        model, pack, kb, "any news?", language="en", known_facts={"order_number": "48213"}
    )
    assert "order_number" not in known.missing_facts


def test_article_and_suggestions_in_the_customers_language(model, pack, kb):
    turn = analyse_turn(model, pack, kb, "jak zwrócić produkt?", language="pl")
    assert turn.article is not None and turn.article.slug == "returns-and-refunds"
    assert turn.article.language == "pl"
    assert turn.suggestions and turn.suggestions[0].slug == "returns-and-refunds"


def test_handoff_reasons(model, pack, kb):
    assert analyse_turn(model, pack, kb, "agent please").handoff_reasons[0] == "human_request"
    complaint = analyse_turn(model, pack, kb, "this is unacceptable, worst service ever!!!")
    assert "frustrated" in complaint.handoff_reasons
    assert "complaint" in complaint.signals
    cancel = analyse_turn(model, pack, kb, "I want to cancel my subscription")
    assert "human_only_intent" in cancel.handoff_reasons and "churn_risk" in cancel.signals
    simple = analyse_turn(model, pack, kb, "how long does delivery take?")
    assert not simple.hand_off
