"""The question router: accuracy on the labelled corpus and microseconds per question, against a baseline.

Baseline (the strongest simple one): exact keyword matching over the same vocabulary. Lower-cased words and
word pairs are looked up exactly (no fuzzy matching, no stems, no casing rules); each operation scores the
weights of its exact hits; coins are exact tickers or names; the mode is an exact mode word or "mode N".
It is confident when it has any hit. That isolates what fuzzy matching, language rules and the confidence
margin add.

    .venv/bin/python bench/bench_router.py            # the corpus in tests/data/router_corpus.jsonl
"""

from __future__ import annotations

import itertools
import json
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.router import route
from engine.router.vocabulary import (
    BATCH,
    COIN_NAMES,
    MODE_NUMBERS,
    MODE_WORDS,
    NAMED_TICKERS,
    OPERATION_WORDS,
    TAKES_SYMBOL,
)

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "router_corpus.jsonl"
REPEATS = 20


def baseline(question: str) -> tuple[bool, str | None, list[str], str | None]:
    """Exact keyword matching: (confident, operation, coins, mode name)."""
    words = re.findall(r"[a-z0-9]+", question.lower())
    grams = words + [" ".join(pair) for pair in itertools.pairwise(words)]
    scores: dict[str, float] = defaultdict(float)
    for op, by_lang in OPERATION_WORDS.items():
        for phrases in by_lang.values():
            for gram in grams:
                scores[op] += phrases.get(gram, 0.0)
    coins: list[str] = []
    for gram in grams:
        ticker = COIN_NAMES.get(gram) or (gram.upper() if gram.upper() in NAMED_TICKERS else None)
        if ticker and ticker not in coins:
            coins.append(ticker)
    mode = None
    for i, word in enumerate(words):
        if word in MODE_WORDS:
            mode = MODE_WORDS[word][0].name
        elif word == "mode" and i + 1 < len(words) and words[i + 1] in MODE_NUMBERS:
            mode = MODE_NUMBERS[words[i + 1]].name
    best = max(scores, key=lambda op: scores[op]) if any(scores.values()) else None
    if best is None:
        return False, None, coins, mode
    if best in BATCH and len(coins) > 1:
        return True, BATCH[best], coins, mode
    return True, best, coins[:1] if best in TAKES_SYMBOL else [], mode


def router_reading(question: str) -> tuple[bool, str | None, list[str], str | None]:
    routed = route(question)
    best = routed.best
    if best is None:
        return False, None, [], None
    return routed.confident, best.operation, list(best.symbols), best.mode.name if best.mode else None


def right(item: dict[str, Any], reading: tuple[bool, str | None, list[str], str | None]) -> bool:
    confident, op, coins, mode = reading
    if item["operation"] is None:
        return not confident
    return confident and (op, coins, mode) == (item["operation"], item["symbols"], item["mode"])


def timed(reader: Any, questions: list[str]) -> float:
    """Median over REPEATS runs of the mean µs per question."""
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for question in questions:
            reader(question)
        runs.append((time.perf_counter() - started) / len(questions) * 1e6)
    return statistics.median(runs)


def main() -> None:
    items = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    questions = [item["question"] for item in items]
    route("warm up")  # builds the lexicon once
    splits = {name: sum(i["split"] == name for i in items) for name in ("dev", "heldout", "late")}
    print(f"corpus: {len(items)} questions {splits}")
    print(f"{'reader':<34} {'all':>7} {'dev':>7} {'held-out':>9} {'late':>7} {'en':>7} {'id':>7} {'µs/question':>12}")
    for name, reader in (("router (rapidfuzz + rules)", router_reading), ("baseline: exact keywords", baseline)):
        marks = [(item, right(item, reader(item["question"]))) for item in items]

        def rate(keep: Any, marks: list[tuple[dict[str, Any], bool]] = marks) -> str:
            chosen = [ok for item, ok in marks if keep(item)]
            return f"{sum(chosen) / len(chosen):.1%}"

        print(
            f"{name:<34} {rate(lambda i: True):>7} {rate(lambda i: i['split'] == 'dev'):>7} "
            f"{rate(lambda i: i['split'] == 'heldout'):>9} {rate(lambda i: i['split'] == 'late'):>7} "
            f"{rate(lambda i: i['language'] == 'en'):>7} "
            f"{rate(lambda i: i['language'] == 'id'):>7} {timed(reader, questions):>12.1f}"
        )


if __name__ == "__main__":
    main()
