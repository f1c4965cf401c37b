"""The help centre's own words in the pack languages, and which language a visitor reads.

Language choice, in order: ``?lang=``, the browser's ``Accept-Language``, the workspace's
default language, English, then whatever the article has.
"""

from __future__ import annotations

from collections.abc import Iterable

NAMES = {
    "en": "English",
    "id": "Bahasa Indonesia",
    "sv": "Svenska",
    "pl": "Polski",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
    "nl": "Nederlands",
    "pt": "Português",
    "it": "Italiano",
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "help_centre": "Help centre",
        "search": "Search",
        "placeholder": "Describe your question",
        "results_for": "Results for",
        "no_results": "No articles match your search. Try other words, or browse the topics.",
        "topics": "Topics",
        "all_articles": "All articles",
        "tagged": "Articles about",
        "answers": "This article answers",
        "also_in": "Also in",
        "updated": "Updated",
        "not_found": "Article not found",
        "not_found_text": "We could not find that article. Try searching instead.",
        "empty": "There are no articles yet.",
    },
    "id": {
        "help_centre": "Pusat bantuan",
        "search": "Cari",
        "placeholder": "Tulis pertanyaan Anda",
        "results_for": "Hasil untuk",
        "no_results": "Tidak ada artikel yang cocok. Coba kata lain atau lihat topik.",
        "topics": "Topik",
        "all_articles": "Semua artikel",
        "tagged": "Artikel tentang",
        "answers": "Artikel ini menjawab",
        "also_in": "Juga tersedia dalam",
        "updated": "Diperbarui",
        "not_found": "Artikel tidak ditemukan",
        "not_found_text": "Kami tidak menemukan artikel itu. Coba cari saja.",
        "empty": "Belum ada artikel.",
    },
    "sv": {
        "help_centre": "Hjälpcenter",
        "search": "Sök",
        "placeholder": "Beskriv din fråga",
        "results_for": "Resultat för",
        "no_results": "Inga artiklar matchar. Prova andra ord eller bläddra bland ämnena.",
        "topics": "Ämnen",
        "all_articles": "Alla artiklar",
        "tagged": "Artiklar om",
        "answers": "Den här artikeln svarar på",
        "also_in": "Finns även på",
        "updated": "Uppdaterad",
        "not_found": "Artikeln hittades inte",
        "not_found_text": "Vi hittade inte den artikeln. Prova att söka i stället.",
        "empty": "Det finns inga artiklar än.",
    },
    "pl": {
        "help_centre": "Centrum pomocy",
        "search": "Szukaj",
        "placeholder": "Opisz swoje pytanie",
        "results_for": "Wyniki dla",
        "no_results": "Brak pasujących artykułów. Spróbuj innych słów lub przejrzyj tematy.",
        "topics": "Tematy",
        "all_articles": "Wszystkie artykuły",
        "tagged": "Artykuły na temat",
        "answers": "Ten artykuł odpowiada na pytania",
        "also_in": "Dostępne także w językach",
        "updated": "Zaktualizowano",
        "not_found": "Nie znaleziono artykułu",
        "not_found_text": "Nie znaleźliśmy tego artykułu. Spróbuj wyszukiwania.",
        "empty": "Nie ma jeszcze artykułów.",
    },
}


def texts(language: str) -> dict[str, str]:
    return TEXTS.get(language, TEXTS["en"])


def accepted_languages(header: str | None) -> list[str]:
    """Primary language subtags from ``Accept-Language``, most preferred first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and primary != "*" and quality > 0:
            weighted.append((-quality, position, primary))
    out: list[str] = []
    for _, _, primary in sorted(weighted):
        if primary not in out:
            out.append(primary)
    return out


def choose_language(
    available: Iterable[str],
    *,
    requested: str | None,
    accept_language: str | None,
    default: str,
) -> str:
    """The first of requested, accepted, default and English that ``available`` has."""
    have = sorted(set(available))
    wanted = [requested] if requested else []
    for candidate in [*wanted, *accepted_languages(accept_language), default, "en"]:
        if candidate in have:
            return candidate
    return have[0] if have else (requested if requested in TEXTS else default)
