"""Detect an explicit request for a person, in any of the ten languages, on the first ask.

A rule grammar rather than a classifier: the handoff must be honoured on phrasings nobody
trained on, and must not fire on "my travel agent booked it". Each clause is read as a
sequence of word classes (see handoff_lexicon) and fires when

- a talk verb is followed by a person ("talk to a real person", "połącz mnie z konsultantem");
- an asking word is followed by a person ("I want a human", "poproszę konsultanta");
- a person is followed by a talk verb ("mit einem Mitarbeiter sprechen", "can someone call me");
- the clause is only a person plus politeness ("Agent!", "human please", "konsultant");
- the customer refuses the machine ("I don't want to talk to a bot", "bukan mesin").

Only glue words (articles, prepositions, "real", "your", ...) may stand between the parts, so
"my travel agent" or "the delivery person" never connect a cue to a person. Negation and
"already" before a cue cancel it ("don't transfer me", "sudah bicara dengan cs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from relaydesk.bot import handoff_lexicon as lex
from relaydesk.bot.fuzzy import FuzzyIndex
from relaydesk.bot.text import tokens


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


P, W, T, R, M, H, G, F, N, Q, D, A, B, S, X, V, BE = (
    "person",
    "weak",
    "talk",
    "want",
    "modal",
    "help",
    "glue",
    "filler",
    "neg",
    "necessity",
    "det",
    "already",
    "bot",
    "stop",
    "post",
    "passive",
    "be",
)
_SOURCES = {
    P: lex.PERSON,
    W: lex.WEAK_PERSON,
    T: lex.TALK,
    R: lex.WANT,
    M: lex.MODAL,
    H: lex.HELP,
    G: lex.GLUE,
    F: lex.FILLER,
    N: lex.NEGATION,
    Q: lex.NECESSITY,
    D: lex.DET,
    A: lex.ALREADY,
    B: lex.BOT,
    S: lex.STOP,
    X: lex.POST_BLOCK,
    V: lex.PASSIVE,
    BE: lex.BE,
}
_FUZZY_CLASSES = (P, W, T, R, M, G, B)
_CLAUSE_SPLIT = re.compile(r"[.!?;:\n\u3002\u00bf\u00a1()\[\]\"]+")
# A comma ends a clause unless what follows continues it ("jemanden, mit dem ich reden kann").
_CONTINUES = _words(
    """
    with who whom that mit dem der den die med som z ze ktorym ktora kim con quien que avec
    qui met wie die com quem cui yang dengan
    """
)
# Common words that sit one typo away from a cue and must never be read as one.
_NOT_TYPOS = _words(
    """
    contract correct went wont tall take talks personal persona agenda urgent orange speaker
    sneak cheat caller calls called calling sand advise advised advice operate operated
    hable operates operating
    """
)
# A word that is a cue plus an inflection ("transfers", "supported") is another word.
_INFLECTIONS = ("s", "es", "ed", "d", "er", "ing")
# Indefinite pronouns: "give me someone" asks for a person, "can I get support" does not.
_SOMEONE = _words(
    """
    someone somebody anyone anybody seseorang orang nagon nan ngn ktos kogos kims jemand
    jemanden jemandem alguien quelquun iemand alguem qualcuno
    """
)
# Words that turn a person word into a modifier: "human error", "human-readable", "agent fee".
_COMPOUND_HEADS = _words(
    """
    error errors resources readable rights nature body race trafficking fee fees number code
    portal id name names login account commission license licence
    """
)
_ABILITY = _words(
    """
    cant cannot couldnt unable
    """
)
_FIRST_PERSON = _words(
    """
    i ik jag ja ich yo je eu io saya aku sy
    """
)


@dataclass(frozen=True)
class _Lexicon:
    words: dict[str, frozenset[str]]
    stems: dict[str, tuple[str, ...]]
    phrases: dict[str, list[tuple[tuple[str, ...], str]]]
    stem_phrases: list[tuple[tuple[str, ...], str]]
    fuzzy: dict[str, FuzzyIndex]
    fuzzy_stems: dict[str, FuzzyIndex]


def _build() -> _Lexicon:
    words: dict[str, set[str]] = {}
    stems: dict[str, list[str]] = {c: [] for c in _SOURCES}
    phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    stem_phrases: list[tuple[tuple[str, ...], str]] = []
    plain: dict[str, set[str]] = {c: set() for c in _SOURCES}
    for cls, source in _SOURCES.items():
        for entry in source.split():
            if "_" in entry:
                parts = tuple(entry.split("_"))
                if parts[0].endswith("*"):
                    stem_phrases.append((parts, cls))
                else:
                    phrases.setdefault(parts[0], []).append((parts, cls))
            elif entry.endswith("*"):
                stems[cls].append(entry[:-1])
            else:
                words.setdefault(entry, set()).add(cls)
                plain[cls].add(entry)
    # Two typos only in long person nouns ("reprsentitive"); one everywhere else.
    fuzzy = {
        c: FuzzyIndex((w for w in plain[c] if len(w) >= 4), 2 if c in (P, W) else 1)
        for c in _FUZZY_CLASSES
    }
    fuzzy_stems = {c: FuzzyIndex((s for s in stems[c] if len(s) >= 7), 1) for c in _FUZZY_CLASSES}
    return _Lexicon(
        {w: frozenset(c) for w, c in words.items()},
        {c: tuple(s) for c, s in stems.items()},
        {k: sorted(v, key=lambda p: -len(p[0])) for k, v in phrases.items()},
        sorted(stem_phrases, key=lambda p: -len(p[0])),
        fuzzy,
        fuzzy_stems,
    )


_LEX = _build()
_PERSON_SUFFIXES = tuple(lex.PERSON_SUFFIXES.split())


@lru_cache(maxsize=8192)
def word_classes(tok: str) -> frozenset[str]:
    """The classes of one folded token: exact word, stem, then typo-tolerant match."""
    classes = set(_LEX.words.get(tok, ()))
    classes.update(c for c, stems in _LEX.stems.items() if stems and tok.startswith(stems))
    if any(tok.endswith(sx) and len(tok) > len(sx) + 2 for sx in _PERSON_SUFFIXES):
        classes.add(P)  # Swedish/German/Dutch compounds: "supportpersonal"
    if not classes and len(tok) > 5 and tok.endswith("nya"):  # "petugasnya": the officer
        classes.update(word_classes(tok[:-3]) & {P, W})
    if not classes and len(tok) > 5 and tok.startswith("di"):  # "ditelepon", "dibantu"
        classes.update(word_classes(tok[2:]) & {T, H})
    if classes or tok in _NOT_TYPOS or len(tok) < 4 or _inflection_of_known(tok):
        return frozenset(classes)
    for cls in _FUZZY_CLASSES:
        if any(not _inflected(tok, e) for e in _LEX.fuzzy[cls].lookup(tok)):
            classes.add(cls)
            continue
        for k in range(max(6, len(tok) - 5), len(tok) + 1):
            if len(tok) - k <= 4 and _LEX.fuzzy_stems[cls].lookup(tok[:k]):
                classes.add(cls)
                break
    return frozenset(classes)


def _inflection_of_known(tok: str) -> bool:
    """'contacted', 'transfers': an inflected known word is not a typo of another word."""
    return any(
        tok.endswith(sx) and tok[: -len(sx)] in _LEX.words for sx in _INFLECTIONS if len(tok) > 5
    )


def _inflected(tok: str, entry: str) -> bool:
    return tok.startswith(entry) and tok[len(entry) :] in _INFLECTIONS


def _token_matches(tok: str, pattern: str) -> bool:
    return tok.startswith(pattern[:-1]) if pattern.endswith("*") else tok == pattern


def _phrase_at(clause: tuple[str, ...], i: int) -> tuple[int, str] | None:
    """Length and class of the longest phrase starting at token i, if any."""
    for parts, cls in [*_LEX.phrases.get(clause[i], []), *_LEX.stem_phrases]:
        n = len(parts)
        if i + n <= len(clause) and all(
            _token_matches(t, p) for t, p in zip(clause[i : i + n], parts, strict=True)
        ):
            return n, cls
    return None


def _units(clause: tuple[str, ...]) -> list[frozenset[str]]:
    """Classes per unit, with multi-word phrases merged into one unit."""
    out: list[frozenset[str]] = []
    i = 0
    while i < len(clause):
        phrase = _phrase_at(clause, i)
        if phrase is not None:
            out.append(frozenset({phrase[1]}))
            i += phrase[0]
            continue
        cls = word_classes(clause[i])
        if clause[i] in _FIRST_PERSON:
            cls = cls | {"first"}
        elif clause[i] in _SOMEONE:
            cls = cls | {"someone"}
        elif clause[i] in _COMPOUND_HEADS:
            cls = cls | {"compound"}
        elif clause[i] in _ABILITY:
            cls = cls | {"ability"}
        out.append(cls)
        i += 1
    for k, u in enumerate(out):  # "be transferred", "doorverbonden worden"
        if V in u and any(BE in out[n] for n in (k - 1, k + 1) if 0 <= n < len(out)):
            out[k] = u | {T}
    return out


def _cancelled(units: list[frozenset[str]], i: int) -> bool:
    """Negation or 'already' shortly before a cue, or 'do I need to' right before it."""
    if i > 0 and Q in units[i - 1]:
        return True
    for k in range(max(0, i - 3), i):
        if A in units[k]:
            return True
        # "I can't reach an agent" / "nie mogę się połączyć" still asks for a person.
        near_modal = any(M in units[n] for n in (k - 1, k + 1) if 0 <= n < len(units))
        if N in units[k] and "ability" not in units[k] and not near_modal:
            return True
    return False


def _is_verb(units: list[frozenset[str]], i: int) -> bool:
    """'a transfer', 'my phone': a talk word after a determiner is a noun."""
    return i == 0 or D not in units[i - 1] or bool(units[i - 1] & {P, W})


def _asks(units: list[frozenset[str]], i: int) -> bool:
    """An asking word, or a modal with 'I' ('may I', 'mag ik', 'kan jag få')."""
    if R in units[i]:
        return True
    return M in units[i] and i + 1 < len(units) and "first" in units[i + 1]


def _scan(units: list[frozenset[str]], i: int, targets: set[str], through: set[str]) -> int:
    """Index of the first unit after i in `targets`, crossing only `through`; -1 if none."""
    for j in range(i + 1, min(len(units), i + 9)):
        if units[j] & targets:
            return j
        if not units[j] & through:
            return -1
    return -1


def _person_ok(units: list[frozenset[str]], j: int) -> bool:
    """Not someone else's agent ("agen perjalanan saya") nor a compound ("human error",
    "human-readable"): the word after a person must be a known word and no possessive."""
    if j + 1 >= len(units):
        return True
    after = units[j + 1]
    return "compound" not in after and not (X in after and P not in after)


def _asks_for_someone(units: list[frozenset[str]], i: int) -> bool:
    """'give me someone from support', 'get somebody to help me': a weak person counts when
    nothing but glue, people and a talk or help word follows it."""
    j = _scan(units, i, {W}, {G, R, M, H})
    if j < 0 or "someone" not in units[j] or not _person_ok(units, j):
        return False
    rest = units[j + 1 :]
    if all(u & {G, P, W} for u in rest):
        return True
    k = _scan(units, j, {T, H}, {G, P, W})
    return k >= 0


def _clause_fires(units: list[frozenset[str]]) -> str | None:
    persons = {P, W}
    for i, u in enumerate(units):
        if T in u and _is_verb(units, i) and not _cancelled(units, i):
            j = _scan(units, i, persons, {G, R, M, W, H, BE, V})
            if j >= 0 and _person_ok(units, j):
                return "talk_to_person"
        if _asks(units, i) and not _cancelled(units, i):
            j = _scan(units, i, {P}, {G, R, M, W, T, H, BE, V})
            if j >= 0 and _person_ok(units, j):
                return "ask_for_person"
            if _asks_for_someone(units, i):
                return "ask_for_person"
        if u & persons and (i == 0 or units[i - 1] & {G, R, M, T, F, P, W, H}):
            verbs = {T, H} if P in u else {T}
            j = _scan(units, i, verbs, {G, R, M, P, W})
            if j >= 0 and not _cancelled(units, j) and _person_ok(units, i):
                return "person_talks"
        if N in u or S in u:
            j = _scan(units, i, {B}, {G, R, M, T, W})
            if j >= 0 and (S in u or any(units[k] & {R, T} for k in range(i + 1, j))):
                return "refuses_bot"
    bare = 0 < len(units) <= 6 and any(P in u for u in units)
    if bare and all(u & {P, G, F, R, M} for u in units) and _person_ok(units, len(units) - 1):
        return "bare_person"
    return None


@dataclass(frozen=True, slots=True)
class HumanRequest:
    requested: bool
    rule: str | None = None
    clause: str | None = None


def _clauses(text: str) -> list[tuple[str, list[frozenset[str]]]]:
    out: list[tuple[str, list[frozenset[str]]]] = []
    for sentence in _CLAUSE_SPLIT.split(text):
        parts: list[tuple[str, ...]] = []
        raws: list[str] = []
        for piece in sentence.split(","):
            toks = tokens(piece)
            if not toks:
                continue
            if parts and toks[0] in _CONTINUES:
                parts[-1] += toks
                raws[-1] += "," + piece
            else:
                parts.append(toks)
                raws.append(piece)
        out.extend((raw.strip(), _units(toks)) for raw, toks in zip(raws, parts, strict=True))
    return out


def _short_refusal(units: list[frozenset[str]]) -> bool:
    """'not a bot', 'bukan bot', 'no robots' as a clause of its own."""
    return any((N in u or S in u) and _scan(units, i, {B}, {G}) >= 0 for i, u in enumerate(units))


def detect(text: str) -> HumanRequest:
    """Is this message an explicit request for a person? Also says which rule fired."""
    clauses = _clauses(text)
    for raw, units in clauses:
        rule = _clause_fires(units)
        if rule is not None:
            return HumanRequest(True, rule, raw)
    if sum(len(u) for _, u in clauses) <= 5:
        for raw, units in clauses:
            if _short_refusal(units):
                return HumanRequest(True, "refuses_bot", raw)
    return HumanRequest(False)


def is_human_request(text: str) -> bool:
    return detect(text).requested


def mentions_person(text: str) -> bool:
    """Does the message name a person at all ('agent', 'konsultanta', 'someone')?"""
    return any(u & {P, W} for _, units in _clauses(text) for u in units)
