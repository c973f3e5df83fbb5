"""Route a question in English or Indonesian to an operation, its coins and a mode (pure, no I/O).

How: the question is split into words; phrases of four, three and two words are matched first (fuzzily,
with rapidfuzz's normalized Indel ratio, so "new listngs" is "new listings"), then single words, each
against the vocabulary (:mod:`engine.router.vocabulary`): operation phrases, mode words, coin names,
everyday words of each language. Short words must match exactly (a typo in three letters is another
word); longer ones may be one or two edits off. Tickers are read from the live symbol list the caller
passes in (``known``), else from the coin-name table. Each operation scores the weights of the phrases
that point at it, nudged by whether coins were named; the best two readings are returned, and the
router is *confident* only when the best is strong enough, clearly ahead of the second, and has every
input it needs (a coin for per-coin operations).
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from engine.router.vocabulary import (
    AMOUNT,
    BATCH,
    COIN_NAMES,
    GLOBAL,
    MODE_MARKERS,
    MODE_NUMBERS,
    MODE_WORDS,
    NAMED_TICKERS,
    NEEDS_SYMBOL,
    NOT_SYMBOLS,
    OPERATION_WORDS,
    OPTION_WORDS,
    STOPWORDS,
    TAKES_SYMBOL,
    VENUES,
    WINDOW_HOURS,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from engine.modes import Mode

MAX_WORDS = 40
"""Words read from a question (the rest is ignored): bounds the work per question."""
MIN_SCORE = 1.0
"""The best reading needs at least this much evidence (one naming word) to be confident."""
MIN_MARGIN = 0.5
"""... and must lead the second reading by this much."""
SYMBOL_BONUS = 0.3  # a named coin makes per-coin operations likelier
GLOBAL_PENALTY = 0.8  # ... and whole-market ones less likely
BARE_COIN = MappingProxyType({"signals.get": 0.5, "market.get": 0.2})
"""A coin and nothing else most likely asks for its signal, else its market (below MIN_SCORE: not confident)."""
PHRASE_CUTOFF = 88.0  # multi-word phrases: about one typo
_TOKEN = re.compile(r"[a-z0-9]+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s\b", re.IGNORECASE)
_MODE_GLUED = re.compile(r"^(?:mode|modus|level|m)([123])$")
_QUOTE_SUFFIX = re.compile(r"^([a-z0-9]{2,15}?)(?:usdt|usd|perp)$")
_ID_SUFFIXES = ("nya", "kah", "lah")
_INTERVAL = re.compile(r"\b(1m|3m|5m|15m|30m|1h|2h|4h|6h|12h|1d|1w)\b")
_WINDOW = re.compile(r"\b([0-9]{1,4})\s*(h|hr|hrs|hour|hours|jam|d|day|days|hari|w|week|weeks|minggu)\b", re.IGNORECASE)
_AMOUNT = re.compile(r"^[0-9]+(?:k|m|b|mn|bn|jt|juta|rb|ribu|miliar)$")
_MONEY = re.compile(r"(\$\s*)?(?<![\w.,])([0-9]{1,12}(?:[.,][0-9]{1,6})?)\s*(k|m|b|mn|bn|jt|juta|rb|ribu|miliar)\b")
_AMOUNT_SCALE = {"k": 1e3, "rb": 1e3, "ribu": 1e3, "m": 1e6, "mn": 1e6, "jt": 1e6, "juta": 1e6}
_AMOUNT_SCALE.update(dict.fromkeys(("b", "bn", "miliar"), 1e9))
NATIVE_WEIGHT = {"en": 0.5, "id": 1.0}
"""How much a matched word says about the language: English trading words (funding, scalp, top gainer) are
written by Indonesian traders too; everyday words (stop words) count 1 in both."""


class Language(enum.Enum):
    EN = "en"
    ID = "id"


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read the question: the operation, its coins and mode, and why."""

    operation: str
    symbols: tuple[str, ...]
    mode: Mode | None
    score: float
    confidence: float  # 0..1, a heuristic of strength and lead, not a probability
    matched: tuple[str, ...]  # the phrases that pointed here (as written in the vocabulary)
    missing: tuple[str, ...] = ()  # inputs it needs that the question lacks ("symbol")
    options: tuple[tuple[str, str], ...] = ()  # other inputs the words say (screener kind: GAINERS)


@dataclass(frozen=True, slots=True)
class Routed:
    """What the router made of a question: the best two readings, whether it is sure, and the language."""

    question: str
    language: Language
    confident: bool
    readings: tuple[Reading, ...]  # best first; at most two; empty when nothing matched
    mode: Mode | None
    symbols: tuple[str, ...]
    unlisted: tuple[str, ...] = ()  # tickers written in capitals that the live list does not know
    venues: tuple[str, ...] = ()  # exchanges named (binance, okx, ...)
    hours: float | None = None  # a time window named (this week: 168, 3 days: 72)
    interval: str | None = None  # a candle interval named (1m ... 1w), for per-candle operations
    amount: float | None = None  # the first money amount written (20M: 20,000,000), in the question's units
    reason: str = ""

    @property
    def best(self) -> Reading | None:
        return self.readings[0] if self.readings else None


@dataclass(frozen=True, slots=True)
class _Entry:
    ops: tuple[tuple[str, float], ...] = ()
    lang: str = "any"
    mode: Mode | None = None
    coin: str | None = None


@dataclass
class _Parse:
    hits: dict[str, float] = field(default_factory=dict)  # phrase → similarity 0..1 (each phrase once)
    symbols: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)
    mode: Mode | None = None
    lang: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, _Entry], dict[int, list[str]]]:
    """Every phrase (operation words, mode words, coin names) → what it means; phrases grouped by word count."""
    ops: dict[str, list[tuple[str, float]]] = defaultdict(list)
    langs: dict[str, str] = {}
    for op, by_lang in OPERATION_WORDS.items():
        for lang, words in by_lang.items():
            for phrase, weight in words.items():
                ops[phrase].append((op, weight))
                langs.setdefault(phrase, lang)
    entries = {phrase: _Entry(ops=tuple(pairs), lang=langs[phrase]) for phrase, pairs in ops.items()}
    for word, (mode, lang) in MODE_WORDS.items():
        entries[word] = _Entry(lang=lang, mode=mode)
    for name, ticker in COIN_NAMES.items():
        entries.setdefault(name, _Entry(coin=ticker))
    by_size: dict[int, list[str]] = defaultdict(list)
    for phrase in entries:
        by_size[len(phrase.split())].append(phrase)
    return entries, dict(by_size)


def _cutoff(length: int) -> float | None:
    """Similarity a single word needs: exact below four letters, about one edit above."""
    if length < 4:
        return None
    return 85.0 if length == 4 else 80.0


def _known_ticker(word: str, known: frozenset[str] | None) -> str | None:
    """The listed base asset a word names (``pepe`` → ``1000PEPE`` where only that is listed); a well-known
    ticker the list lacks is still that coin (the operation then answers that it is not listed); else None."""
    upper = word.upper()
    if known is not None:
        if upper in known:
            return upper
        for scaled in ("1000" + upper, "1000000" + upper):
            if scaled in known:
                return scaled
    return upper if upper in NAMED_TICKERS else None


class _Reader:
    """One pass over one question's words."""

    def __init__(self, question: str, known: frozenset[str] | None) -> None:
        text = _POSSESSIVE.sub("", question)
        self.raw = [m.group(0) for m in _TOKEN.finditer(text)][:MAX_WORDS]
        self.words = [AMOUNT if _AMOUNT.match(w.lower()) else w.lower() for w in self.raw]
        letters = [c for c in question if c.isalpha()]
        self.all_caps = bool(letters) and all(c.isupper() for c in letters)
        self.known = known
        self.entries, self.by_size = _lexicon()
        self.parse = _Parse()
        self.used = [False] * len(self.words)

    def read(self) -> _Parse:
        for size in (4, 3, 2):
            self._phrases(size)
        for index in range(len(self.words)):
            if not self.used[index]:
                self._word(index)
        return self.parse

    def _phrases(self, size: int) -> None:
        candidates = self.by_size.get(size, [])
        for start in range(len(self.words) - size + 1):
            if any(self.used[start : start + size]):
                continue
            text = " ".join(self.words[start : start + size])
            if text in self.entries:
                similarity = 1.0
                phrase = text
            elif MODE_MARKERS.intersection(self.words[start : start + size]):
                continue  # "mode" is structure, never a typo of another word ("calibrated mode" ≠ "model")
            else:
                found = process.extractOne(text, candidates, scorer=fuzz.ratio, score_cutoff=PHRASE_CUTOFF)
                if found is None:
                    continue
                phrase, similarity = found[0], found[1] / 100
            self._take(phrase, similarity)
            for i in range(start, start + size):
                self.used[i] = True

    def _word(self, index: int) -> None:
        word, raw = self.words[index], self.raw[index]
        if self._mode_number(index):
            return
        entry = self.entries.get(word)
        if entry is not None and entry.coin is None:  # an operation or mode word, exactly
            self._take(word, 1.0)
            return
        if word in VENUES:
            if VENUES[word] not in self.parse.venues:
                self.parse.venues.append(VENUES[word])
            return
        stop = [lang for lang, words in STOPWORDS.items() if word in words]
        ticker = self._ticker(word, raw, stopword=bool(stop))
        if ticker is not None:
            self._symbol(ticker)
            return
        if entry is not None:  # a coin name, exactly
            self._take(word, 1.0)
            return
        if stop:
            for lang in stop:
                self.parse.lang[lang] += 1.0
            return
        if self._fuzzy(word):
            return
        stem = next((word[: -len(s)] for s in _ID_SUFFIXES if word.endswith(s) and len(word) - len(s) >= 3), None)
        if stem is not None and (stem in self.entries or self._fuzzy(stem)):
            if stem in self.entries:
                self._take(stem, 1.0)
            self.parse.lang["id"] += 0.5
            return
        if raw.isupper() and raw[0].isalpha() and not self.all_caps and 2 <= len(raw) <= 10 and word not in NOT_SYMBOLS:
            if self.known is None:
                self._symbol(raw)  # a ticker-looking word and no list to check it against
            else:
                self.parse.unlisted.append(raw)

    def _mode_number(self, index: int) -> bool:
        word = self.words[index]
        glued = _MODE_GLUED.match(word)
        if glued is not None:
            self.parse.mode = MODE_NUMBERS[glued.group(1)]
            return True
        if word in MODE_MARKERS:
            following = self.words[index + 1] if index + 1 < len(self.words) else ""
            if following in MODE_NUMBERS:
                self.parse.mode = MODE_NUMBERS[following]
                self.used[index + 1] = True
            return True  # "mode" alone says nothing
        return False

    def _ticker(self, word: str, raw: str, *, stopword: bool) -> str | None:
        if word in NOT_SYMBOLS or len(word) < 2:
            return None
        typed_caps = raw.isupper() and not self.all_caps
        if stopword and not typed_caps:  # "ada" (there is) is not Cardano; "ADA" is
            return None
        if len(word) < 3 and not typed_caps:
            return None
        quoted = _QUOTE_SUFFIX.match(word)
        for candidate in (word, quoted.group(1) if quoted else None):
            if candidate is not None:
                ticker = _known_ticker(candidate, self.known)
                if ticker is not None:
                    return ticker
        return None

    def _fuzzy(self, word: str) -> bool:
        cutoff = _cutoff(len(word))
        if cutoff is None:
            return False
        found = process.extractOne(word, self.by_size.get(1, []), scorer=fuzz.ratio, score_cutoff=cutoff)
        if found is None:
            return False
        self._take(found[0], found[1] / 100)
        return True

    def _take(self, phrase: str, similarity: float) -> None:
        entry = self.entries[phrase]
        if entry.coin is not None:
            ticker = _known_ticker(entry.coin, self.known) or entry.coin
            self._symbol(ticker)
            return
        if entry.mode is not None:
            self.parse.mode = entry.mode
        if entry.lang != "any":
            self.parse.lang[entry.lang] += similarity * NATIVE_WEIGHT[entry.lang]
        if entry.ops:
            self.parse.hits[phrase] = max(similarity, self.parse.hits.get(phrase, 0.0))

    def _symbol(self, ticker: str) -> None:
        if ticker not in self.parse.symbols:
            self.parse.symbols.append(ticker)


def _scores(parse: _Parse, offered: frozenset[str] | None) -> dict[str, tuple[float, list[str]]]:
    entries, _ = _lexicon()
    scores: dict[str, float] = defaultdict(float)
    matched: dict[str, list[str]] = defaultdict(list)
    for phrase, similarity in parse.hits.items():
        for op, weight in entries[phrase].ops:
            if offered is not None and op not in offered:
                continue
            scores[op] += weight * similarity
            matched[op].append(phrase)
    if parse.symbols:
        for op, prior in BARE_COIN.items():
            if offered is None or op in offered:
                scores[op] += prior
        for op in list(scores):
            if op in TAKES_SYMBOL:
                scores[op] += SYMBOL_BONUS
            elif op in GLOBAL:
                scores[op] -= GLOBAL_PENALTY
    return {op: (round(score, 3), matched[op]) for op, score in scores.items() if score > 0}


def _reading(op: str, score: float, second: float, matched: Iterable[str], parse: _Parse) -> Reading:
    symbols: tuple[str, ...] = ()
    if op in TAKES_SYMBOL and parse.symbols:
        symbols = tuple(parse.symbols[:1])
        if op in BATCH and len(parse.symbols) > 1:
            op, symbols = BATCH[op], tuple(parse.symbols)
    missing = ("symbol",) if op in NEEDS_SYMBOL and not symbols else ()
    confidence = min(1.0, score / 2.0) * (score / (score + second)) if score > 0 else 0.0
    said = OPTION_WORDS.get(op, {})
    options = tuple((name, values[phrase]) for name, values in said.items() for phrase in matched if phrase in values)
    return Reading(op, symbols, parse.mode, score, round(confidence, 2), tuple(matched), missing, options[:1])


def route(question: str, known: Collection[str] | None = None, operations: Collection[str] | None = None) -> Routed:
    """Read ``question``; ``known`` is the live list of base assets (BTC, 1000PEPE, ...), if there is one;
    ``operations`` the operations this server offers (None: every one the vocabulary names)."""
    known_set = frozenset(s.upper() for s in known) if known is not None else None
    offered = frozenset(operations) if operations is not None else None
    parse = _Reader(question, known_set).read()
    ranked = sorted(_scores(parse, offered).items(), key=lambda item: (-item[1][0], item[0]))[:2]
    second = ranked[1][1][0] if len(ranked) > 1 else 0.0
    readings = tuple(
        _reading(op, score, second if i == 0 else ranked[0][1][0], matched, parse)
        for i, (op, (score, matched)) in enumerate(ranked)
    )
    language = Language.ID if parse.lang.get("id", 0.0) > parse.lang.get("en", 0.0) else Language.EN
    confident, reason = _verdict(readings)
    return Routed(
        question=question,
        language=language,
        confident=confident,
        readings=readings,
        mode=parse.mode,
        symbols=tuple(parse.symbols),
        unlisted=tuple(parse.unlisted),
        venues=tuple(parse.venues),
        hours=window_hours(question),
        interval=next(iter(_INTERVAL.findall(question.lower())), None),
        amount=amount_of(question),
        reason=reason,
    )


def amount_of(question: str) -> float | None:
    """The first money amount a question writes (``$20M``, ``$1.5m``, ``500k``, ``2 juta``) as a number, else
    None. A bare ``m`` needs the ``$`` (``5m`` alone is five minutes)."""
    for found in _MONEY.finditer(question[:2000].lower()):
        dollar, number, unit = found.groups()
        if unit == "m" and not dollar:
            continue
        return float(number.replace(",", ".")) * _AMOUNT_SCALE[unit]
    return None


def window_hours(question: str) -> float | None:
    """The time window a question names, in hours: ``72h``, ``3 days``, ``2 minggu``, ``this week``."""
    text = question.lower()
    found = _WINDOW.search(text)
    if found is not None:
        unit = found.group(2)
        per = 24 if unit in ("d", "day", "days", "hari") else 168 if unit in ("w", "week", "weeks", "minggu") else 1
        return float(int(found.group(1)) * per)
    words = " ".join(_TOKEN.findall(text))
    return next((float(hours) for phrase, hours in WINDOW_HOURS.items() if re.search(rf"\b{phrase}\b", words)), None)


def _verdict(readings: tuple[Reading, ...]) -> tuple[bool, str]:
    if not readings:
        return False, "no known operation, coin or mode word in the question"
    best = readings[0]
    second = readings[1].score if len(readings) > 1 else 0.0
    if best.score < MIN_SCORE:
        return False, f"too little to go on for {best.operation} (score {best.score:g} < {MIN_SCORE:g})"
    if best.score - second < MIN_MARGIN:
        return False, (
            f"{best.operation} ({best.score:g}) and {readings[1].operation} ({second:g}) are about as likely"
        )
    if best.missing:
        return False, f"{best.operation} needs a {' and a '.join(best.missing)}: which coin?"
    return True, f"{best.operation} from {', '.join(best.matched) or 'the coin alone'}"
