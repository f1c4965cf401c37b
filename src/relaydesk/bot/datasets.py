"""Readers for the evaluation data: public datasets and the held-out sets in tests/bot/data.

Only evaluation and tests use these, always with an explicit path: the product never reads
a dataset at run time.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

# Bitext intents that are requests for a person, or ambiguous about it ("how do I contact
# customer service?"); they are not counted as ordinary messages.
BITEXT_PERSON_INTENTS = frozenset({"contact_human_agent", "contact_customer_service"})


@dataclass(frozen=True)
class Labelled:
    text: str
    label: str
    language: str = "en"
    source: str = ""


def read_banking77(data_dir: Path, split: str) -> list[Labelled]:
    path = Path(data_dir) / "banking77" / f"{split}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return [Labelled(r["text"], r["category"], "en", "banking77") for r in csv.DictReader(f)]


def read_bitext(data_dir: Path) -> list[Labelled]:
    """The balanced Bitext customer-service set (8,175 utterances, 27 intents)."""
    path = Path(data_dir) / "bitext" / "customer_service_intents_8175.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [Labelled(r["utterance"], r["intent"], "en", "bitext") for r in csv.DictReader(f)]


def read_abcd_customer_turns(data_dir: Path) -> list[Labelled]:
    path = Path(data_dir) / "abcd" / "abcd_sample.json"
    convos = json.loads(path.read_text(encoding="utf-8"))
    out: list[Labelled] = []
    for convo in convos:
        flow = convo.get("scenario", {}).get("subflow", "")
        for speaker, text in convo.get("original", []):
            if speaker == "customer" and text.strip():
                out.append(Labelled(text, flow, "en", "abcd"))
    return out


def read_tsv(path: Path, label: str, source: str) -> list[Labelled]:
    """`language<TAB>text` lines; '#' starts a comment line."""
    out: list[Labelled] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lang, text = line.split("\t", 1)
        out.append(Labelled(text.strip(), label, lang.strip(), source))
    return out


def read_heldout(test_dir: Path) -> list[Labelled]:
    """The default pack's held-out messages, one YAML file per language."""
    out: list[Labelled] = []
    for path in sorted((Path(test_dir) / "pack_heldout").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        lang = data["language"]
        for intent, texts in data["intents"].items():
            out.extend(Labelled(t, intent, lang, f"heldout-{lang}") for t in texts)
    return out


def human_request_sets(
    data_dir: Path, test_dir: Path, bitext_sample: int = 1500, seed: int = 0
) -> tuple[list[Labelled], list[Labelled]]:
    """(positives, negatives) for human-request detection.

    Positives: every `human_request_positive*.tsv` in test_dir. Negatives: our own
    multilingual messages, the held-out pack messages of other intents, the Banking77 test
    set, a seeded sample of Bitext (without its contact-a-person intents) and ABCD turns.
    """
    test_dir, data_dir = Path(test_dir), Path(data_dir)
    positives = []
    for path in sorted(test_dir.glob("human_request_positive*.tsv")):
        positives.extend(read_tsv(path, "human", path.stem))
    negatives = read_tsv(test_dir / "human_request_negative.tsv", "ordinary", "own")
    negatives += [x for x in read_heldout(test_dir) if x.label != "human_request"]
    negatives += read_banking77(data_dir, "test")
    bitext = [x for x in read_bitext(data_dir) if x.label not in BITEXT_PERSON_INTENTS]
    negatives += random.Random(seed).sample(bitext, min(bitext_sample, len(bitext)))
    negatives += read_abcd_customer_turns(data_dir)
    return positives, negatives


def bitext_person_requests(data_dir: Path) -> dict[str, list[str]]:
    """Bitext's own person-request utterances, as an extra English check."""
    out: dict[str, list[str]] = {name: [] for name in BITEXT_PERSON_INTENTS}
    for item in read_bitext(data_dir):
        if item.label in out:
            out[item.label].append(item.text)
    return out
