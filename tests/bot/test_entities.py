import pytest

from relaydesk.bot.entities import extract_entities


def values(text: str, kind: str, language: str | None = "en") -> list[str]:
    return [e.value for e in extract_entities(text, language) if e.type == kind]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is #12345", "12345"),
        ("status of ORD-2024-0001 please", "ORD-2024-0001"),
        ("order 123456 has not arrived", "123456"),
        ("order number: A-99812", "A-99812"),
        ("zamówienie nr 55120", "55120"),
        ("pesanan 77124 belum sampai", "77124"),
        ("ordernummer: 44551", "44551"),
        ("Bestellung 887421 fehlt", "887421"),
    ],
)
def test_order_numbers(text, expected):
    assert values(text, "order_number") == [expected]


def test_order_entity_spans_point_at_the_number():
    [e] = extract_entities("Where is order #99812?", "en")
    assert e.as_dict() == {"type": "order_number", "value": "99812", "start": 16, "end": 21}


def test_email_is_lowercased():
    assert values("mail me at Jan.K@Example.COM", "email") == ["jan.k@example.com"]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("call me on +48 601 234 567", None, "+48601234567"),
        ("zadzwoń 601 234 567", "pl", "+48601234567"),
        ("nomor saya 0812-3456-7890", "id", "+6281234567890"),
        ("ring 070-123 45 67", "sv", "+46701234567"),
    ],
)
def test_phone_numbers_use_the_language_region(text, language, expected):
    assert values(text, "phone", language) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I paid €49.90", "49.90 EUR"),
        ("zapłaciłem 49,90 zł", "49.90 PLN"),
        ("ditagih Rp 150.000", "150000 IDR"),
        ("Rp 1.500.000", "1500000 IDR"),
        ("drogs 120 kr", "120.00 SEK"),
        ("1.299,00 EUR", "1299.00 EUR"),
        ("$1,299.00 twice", "1299.00 USD"),
        ("£15", "15.00 GBP"),
    ],
)
def test_amounts_with_currency(text, expected):
    assert values(text, "amount") == [expected]


def test_card_numbers_are_never_reported_as_anything():
    assert extract_entities("my card 4111 1111 1111 1111 was charged", "en") == []


def test_plain_numbers_are_not_entities():
    assert extract_entities("it took 2 weeks and 3 emails", "en") == []


def test_several_entities_in_reading_order():
    kinds = [e.type for e in extract_entities("Order #55120: charged €20 twice, a@b.se", "sv")]
    assert kinds == ["order_number", "amount", "email"]
