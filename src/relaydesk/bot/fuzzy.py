"""Typo-tolerant word lookup (deletion index + optimal string alignment distance).

Customers who want a person are often typing fast and angry ("i wnat to tlak to an agnet");
a deletion index finds lexicon words within one or two edits in microseconds, without
comparing against every entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def osa_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def allowed_edits(token: str, entry: str) -> int:
    """How many typos a word of this length may carry and still count."""
    longest = max(len(token), len(entry))
    if min(len(token), len(entry)) < 4:
        return 0
    if longest <= 4:
        return 1  # transpositions only; checked by the caller
    return 2 if longest >= 11 else 1


class FuzzyIndex:
    """Find the entries within the allowed edit distance of a token."""

    def __init__(self, entries: Iterable[str], max_edits: int = 2) -> None:
        self._index: dict[str, set[str]] = defaultdict(set)
        self._max = max_edits
        for entry in entries:
            for d in _deletes(entry, self._depth(entry)):
                self._index[d].add(entry)

    def _depth(self, word: str) -> int:
        return min(self._max, 2 if len(word) >= 11 else 1)

    def lookup(self, token: str) -> list[str]:
        if len(token) < 4:
            return []
        candidates: set[str] = set()
        for d in _deletes(token, self._depth(token)):
            candidates |= self._index.get(d, set())
        out = []
        for entry in candidates:
            limit = min(self._max, allowed_edits(token, entry))
            if limit == 0:
                continue
            if len(entry) <= 4:  # short words: only a swapped pair of letters
                if len(token) == len(entry) and sorted(token) == sorted(entry):
                    diffs = [i for i in range(len(token)) if token[i] != entry[i]]
                    if len(diffs) == 2 and diffs[1] == diffs[0] + 1:
                        out.append(entry)
                continue
            if osa_distance(token, entry, limit) <= limit:
                out.append(entry)
        return sorted(out)
