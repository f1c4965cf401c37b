from relaydesk.bot.kb import KnowledgeBase
from relaydesk.bot.pack import Article, ArticleVariant


def test_search_finds_the_article_in_the_customers_language(kb):
    [best, *_] = kb.search("jak zwrócić buty?", language="pl")
    assert (best.slug, best.language) == ("returns-and-refunds", "pl")
    assert best.score > 0


def test_search_tolerates_typos_and_ranks(kb):
    results = kb.search("how long does shiping take", language="en")
    assert results[0].slug == "delivery-options"
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_unrelated_queries_find_nothing(kb):
    assert kb.search("what's the weather in Tokyo", language="en") == []
    assert kb.search("tell me a joke", language="en") == []
    assert kb.search("jaka jest dziś pogoda", language="pl") == []


def test_other_language_variant_is_used_when_missing():
    articles = [
        Article(
            "sizes", ("products",), {"en": ArticleVariant("Size guide", "Our sizes run small.")}
        ),
        Article("hours", ("contact",), {"sv": ArticleVariant("Öppettider", "Vi har öppet 9-17.")}),
    ]
    kb = KnowledgeBase(articles)
    [hit] = kb.search("size guide", language="sv", min_score=0.1)
    assert (hit.slug, hit.language) == ("sizes", "en")
    assert kb.variant("hours", "pl").language == "sv"
    assert kb.variant("missing", "en") is None


def test_empty_knowledge_base():
    assert KnowledgeBase([]).search("anything") == []


def test_knowledge_base_is_picklable(kb):
    import pickle

    clone = pickle.loads(pickle.dumps(kb))
    assert clone.search("jak zwrócić buty?", language="pl") == kb.search(
        "jak zwrócić buty?", language="pl"
    )
