"""Entity extraction: order numbers, emails, phone numbers and amounts.

These are the facts a person would need; pulling them out of the first message means the
customer is never asked twice. Values are normalised strings so they travel as plain JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers

from relaydesk.bot.text import CARD_RE, EMAIL_RE, luhn_ok


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    value: str
    start: int
    end: int

    def as_dict(self) -> dict[str, str | int]:
        return {"type": self.type, "value": self.value, "start": self.start, "end": self.end}


# Default phone region per language, for numbers written without a country code.
REGION_BY_LANGUAGE = {
    "en": "GB",
    "id": "ID",
    "sv": "SE",
    "pl": "PL",
    "de": "DE",
    "es": "ES",
    "fr": "FR",
    "nl": "NL",
    "pt": "PT",
    "it": "IT",
}

_ORDER_WORDS = (
    r"order|orders|purchase|pesanan|order(?:nummer|nr)|beställning(?:en)?|best(?:ellnr|\.nr)"
    r"|zam[oó]wieni[ae]|zam[oó]wieniu|bestellung|bestellnummer|pedido|commande|bestelling"
    r"|encomenda|ordine|no\.? pesanan|nomor pesanan|numer zam[oó]wienia|nr zam[oó]wienia"
)
_ORDER_FILLER = (
    r"(?:\s*(?:number|no\.?|nr\.?|num(?:ber|mer|er|ero|éro)?|id|#|:|nummer|nomor|numer"
    r"|n[º°o]\.?)\s*)*"
)
ORDER_KEYWORD_RE = re.compile(
    rf"\b(?:{_ORDER_WORDS})\b{_ORDER_FILLER}\s*#?(?P<id>[A-Za-z]{{0,5}}-?\d[\dA-Za-z-]{{2,24}})",
    re.IGNORECASE,
)
ORDER_HASH_RE = re.compile(r"(?<![\w#])#\s?(?P<id>[A-Za-z]{0,5}-?\d[\dA-Za-z-]{2,24})\b")
ORDER_CODE_RE = re.compile(r"\b(?P<id>[A-Z]{2,5}-\d{2,}(?:-\d+)*)\b")

_CURRENCY_SYMBOLS = {
    "€": "EUR",
    "$": "USD",
    "£": "GBP",
    "zł": "PLN",
    "zl": "PLN",
    "pln": "PLN",
    "rp": "IDR",
    "rp.": "IDR",
    "idr": "IDR",
    "kr": "SEK",
    "kr.": "SEK",
    "sek": "SEK",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "usd": "USD",
    "gbp": "GBP",
    "nok": "NOK",
    "dkk": "DKK",
    "chf": "CHF",
    "us$": "USD",
    "r$": "BRL",
    "brl": "BRL",
}
_CUR = r"(?:€|\$|£|US\$|R\$|zł|zl|PLN|Rp\.?|IDR|kr\.?|SEK|EUR|euros?|USD|GBP|NOK|DKK|CHF|BRL)"
_NUM = r"\d{1,3}(?:[ .,\u00a0]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
AMOUNT_RE = re.compile(
    rf"(?<![\w.,])(?:(?P<cur1>{_CUR})\s?(?P<num1>{_NUM})(?:,-)?"
    rf"|(?P<num2>{_NUM})(?:,-)?\s?(?P<cur2>{_CUR}))(?![\w])",
    re.IGNORECASE,
)


def _amount_value(raw: str, currency: str) -> str | None:
    """Parse '1.299,00', '150.000', '49,90', '1,299.00' into a plain decimal string."""
    s = raw.replace("\u00a0", " ").replace(" ", "")
    seps = [c for c in s if c in ".,"]
    if seps:
        last = max(s.rfind("."), s.rfind(","))
        tail = s[last + 1 :]
        if len(tail) == 3 and ((len(seps) > 1 and len(set(seps)) == 1) or len(seps) == 1):
            s = s.replace(".", "").replace(",", "")  # thousands separators only
        else:
            s = s[:last].replace(".", "").replace(",", "") + "." + tail
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    if currency == "IDR":
        value = value.quantize(Decimal(1))
    return f"{value:.2f}" if currency != "IDR" else f"{value}"


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def extract_entities(text: str, language: str | None = None) -> list[Entity]:
    """All entities in reading order; overlapping matches go to the more specific type."""
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, value: str, start: int, end: int) -> None:
        if not _overlaps((start, end), taken):
            found.append(Entity(kind, value, start, end))
            taken.append((start, end))

    for m in EMAIL_RE.finditer(text):
        add("email", m.group(0).lower(), m.start(), m.end())
    for m in CARD_RE.finditer(text):  # never reported; only kept out of other entities
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            taken.append((m.start(), m.end()))
    for rx in (ORDER_KEYWORD_RE, ORDER_HASH_RE, ORDER_CODE_RE):
        for m in rx.finditer(text):
            ident = m.group("id").rstrip("-")
            if any(ch.isdigit() for ch in ident):
                add("order_number", ident.upper(), m.start("id"), m.start("id") + len(ident))
    for m in AMOUNT_RE.finditer(text):
        cur_raw = (m.group("cur1") or m.group("cur2")).lower()
        currency = _CURRENCY_SYMBOLS.get(cur_raw, cur_raw.upper())
        value = _amount_value(m.group("num1") or m.group("num2"), currency)
        if value is not None:
            add("amount", f"{value} {currency}", m.start(), m.end())
    region = REGION_BY_LANGUAGE.get(language or "", "GB")
    for pm in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
        digits = re.sub(r"\D", "", pm.raw_string)
        if len(digits) < 7:
            continue
        e164 = phonenumbers.format_number(pm.number, phonenumbers.PhoneNumberFormat.E164)
        add("phone", e164, pm.start, pm.end)
    return sorted(found, key=lambda e: e.start)
