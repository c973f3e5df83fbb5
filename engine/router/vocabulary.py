"""The router's words: what each operation is called in English and Indonesian, the modes, coin names.

Why tables and not a model: every decision stays explainable (the answer names the words it matched),
the tables are reviewable by a trader who speaks either language, and they run in microseconds.

Each operation lists phrases with a weight: 2 for words that name it on their own ("orderbook",
"listing"), 1 for words it shares with others ("market", "whale"), less for hints. Phrases of up to
three words are matched as a whole ("order book", "top gainers"), so a shared word inside a longer
phrase does not count twice. Operation names are the REST registry's (``schema/operations.py``); a test
checks that every one of them exists there.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from engine.modes import Mode

if TYPE_CHECKING:
    from collections.abc import Mapping


def _weighted(spec: str) -> dict[str, float]:
    """``"order book:2, book, depth:0.5"`` → ``{"order book": 2.0, "book": 1.0, "depth": 0.5}``."""
    words: dict[str, float] = {}
    for item in spec.split(","):
        phrase, _, weight = item.strip().partition(":")
        words[phrase.strip()] = float(weight) if weight else 1.0
    return words


AMOUNT = "$amount"
"""What a money amount (20m, 500k, 2jt) reads as: no typed word contains ``$``."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# operation → language → phrases with weights. "en" and "id" also decide the answer's language; "any" is
# used as-is in both (jargon such as "smc", "funding", "scalping" that Indonesian traders write in English).
OPERATION_WORDS: Mapping[str, Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "signals.get": {
            "en": _weighted(
                "signal:1.5, signals:1.5, recommendation:1.5, trade idea:1.5, buy:0.8, sell:0.8, buy or sell:1.5, "
                "long or short:1.5, bullish or bearish:1.5, bullish:0.6, bearish:0.6, should i long:1.5, "
                "should i short:1.5, analysis:1.2, analyze:1.2, analyse:1.2, good time to buy:1.5, engine say:1.2, "
                "call:0.5, setup:0.5, short:0.6, long:0.6, going up:1.2, going down:1.2, go up:1.2, go down:1.2"
            ),
            "id": _weighted(
                "sinyal:1.5, sinyalnya:1.5, rekomendasi:1.5, analisis:1.2, analisa:1.2, beli atau jual:1.5, "
                "long atau short:1.5, beli:0.8, jual:0.8, entry:0.8, posisi:0.6, analisis teknikal:1.5, "
                "rekomendasi trading:1.6, naik atau turun:1.5, prospek:1.2"
            ),
            "any": _weighted("sig:0.8"),
        },
        "market.get": {
            "en": _weighted(
                "price:2, prices:2, funding rate:1.6, funding:1.6, open interest:2, long short ratio:2, "
                "market data:2, quote:1, 24h change:1.5, volume:0.6, across exchanges:0.6, per exchange:0.6, "
                "current price:2, market:0.8"
            ),
            "id": _weighted(
                "harga:2, harganya:2, rasio long short:2, berapa:0.6, pendanaan:1.4, data pasar:2, pasar:0.5"
            ),
            "any": _weighted("oi:1.6, ls ratio:2"),
        },
        "market.summary": {
            "en": _weighted(
                "market overview:2.5, overview:2, summary:2, market summary:2.5, whole market:2.5, "
                "overall:1.2, everything:1.2, all coins:1.5, market mood:2.5, mood:1.5, sentiment:1, "
                "market sentiment:2, why:0.8, red:1, green:1, dumping:1, pumping:1, crash:1, down today:1, "
                "today:0.3, market:1, crypto:0.8, the market:1.5"
            ),
            "id": _weighted(
                "ringkasan:2, ringkasan pasar:2.5, kondisi:1.2, kondisi pasar:2.5, kondisi market:2.5, "
                "semua:1.2, semua koin:1.5, kenapa:0.8, merah:1, hijau:1, turun:0.6, anjlok:1, pasar:1, "
                "lagi crash:1.5, hari ini:0.3"
            ),
        },
        "structure.smc": {
            "en": _weighted(
                "smart money:2.5, smart money concepts:3, market structure:2.5, structure:1.5, order block:2.5, "
                "order blocks:2.5, orderblock:2.5, orderblocks:2.5, fair value gap:2.5, fair value gaps:2.5, "
                "liquidity zones:2.5, liquidity zone:2.5, break of structure:3, change of character:3"
            ),
            "id": _weighted("struktur pasar:2.5, struktur:1.5, struktur market:2.5"),
            "any": _weighted("smc:2.5, bos:2, choch:2, fvg:2.5"),
        },
        "market.orderbook": {
            "en": _weighted(
                "order book:2.5, orderbook:2.5, book:1.2, walls:1.8, wall:1.8, whale walls:2.5, buy walls:2.5, "
                "sell wall:2.5, sell walls:2.5, buy wall:2.5, bid ask:1.5, depth:1.5, imbalance:1, bids:1, asks:1"
            ),
            "id": _weighted(
                "buku order:2.5, tembok:1.8, tembok jual:2.5, tembok beli:2.5, tembok whale:2.5, dinding:1.8"
            ),
        },
        "market.flow": {
            "en": _weighted(
                "order flow:2.5, flow:1.8, large trades:2.5, large trade:2.2, big trades:2.5, whale trades:2.5, "
                "trades:1, whale activity:1.5, buy sell pressure:2.5, pressure:1.5, taker:1.2, delta:1.2, "
                "net taker:2"
            ),
            "id": _weighted(
                "aliran dana:2.5, aliran:1.5, arus order:2.5, arus:1.5, transaksi besar:2.5, transaksi:1, "
                "tekanan beli:2, tekanan jual:2, tekanan:1.5"
            ),
            "any": _weighted("cvd:2.5, whale:0.8, paus:0.8"),
        },
        "market.scalping": {
            "en": _weighted("scalp:2.5, scalp setup:2.5, quick scalp:2.5, ready to scalp:2.5"),
            "id": _weighted("scalping an:2"),
            "any": _weighted("scalping:2.5, scalper:2"),
        },
        "listings.new": {
            "en": _weighted(
                "new listings:3, new listing:3, listings:2.2, listing:2, listed:2, recently listed:3, "
                "newest coins:2.5, new coins listed:3, got listed:3, launched:1.5, newest:1.2, latest:0.6, "
                "new coins:1.5, this week:0.5, last 24 hours:0.5"
            ),
            "id": _weighted(
                "listing baru:3, koin baru:2, baru listing:3, listing terbaru:3, terbaru:1.2, baru:1, minggu ini:0.5"
            ),
        },
        "screener.run": {
            "en": _weighted(
                "top gainers:3, top gainer:3, gainers:2.5, top losers:3, losers:2.5, biggest losers:3, "
                "volume leaders:3, highest funding:2.5, negative funding:2.5, funding extremes:3, screener:3, "
                "screen:2, small caps:2, low cap:2, under:0.6, biggest open interest:2.5, defi:1.2, "
                "top:0.8, biggest:1, highest:1, by volume:2.5, open interest leaders:3.5, oi leaders:3.5, "
                "top volume:3, most volume:3, most traded:3"
            ),
            "id": _weighted(
                "paling naik:3, paling turun:3, paling:1.2, naik:0.6, volume terbesar:3, terbesar:1.2, tertinggi:1.2"
            ),
            "any": _weighted(f"{AMOUNT}:1"),  # "under $20M": a market-cap or volume filter
        },
        "spikes.scan": {
            "en": _weighted(
                "spike:2.5, spikes:2.5, spiking:2.5, volume spike:3, volume spikes:3, oi spike:3, unusual:1.5, "
                "surge:2, surging:2"
            ),
            "id": _weighted("lonjakan:2.5, melonjak:2.5, volumenya melonjak:3, lonjakan volume:3"),
        },
        "mss.get": {
            "en": _weighted("multi modal signal score:3.5, signal score:1, score:0.5"),
            "id": _weighted("skor:0.5, skor mss:2"),
            "any": _weighted("mss:2.5"),
        },
        "mss.scan": {
            "en": _weighted(
                "hidden gems:3, gems:2.5, gem:2.5, mss scan:3, scan mss:3, scan:1.8, new coins:0.8, under:0.6, "
                "defi:1.2, new defi:2.5"
            ),
            "id": _weighted("cari gem:3, cari:0.8, gem baru:3"),
            "any": _weighted(f"{AMOUNT}:1"),  # "new coins under $20M": an FDV ceiling (maxFdvUsd)
        },
        "history.list": {
            "en": _weighted(
                "signal history:3, history:2.5, past signals:3, previous signals:3, history of signals:3, "
                "stored signals:3, old signals:2.5"
            ),
            "id": _weighted("riwayat:2.5, riwayat sinyal:3, sinyal lama:3, histori:2.5"),
        },
        "history.performance": {
            "en": _weighted(
                "win rate:3, winrate:3, accuracy:2.5, accurate:2.5, performance:2.5, track record:3, "
                "how good:1.5, results:1.5, hit rate:3"
            ),
            "id": _weighted("performa:2.5, akurasi:2.5, akurat:2.5, tingkat kemenangan:3, hasil:1.2"),
        },
        "backtest.run": {
            "en": _weighted("backtest:3, back test:3, backtesting:3, strategy test:2"),
            "id": _weighted("uji balik:3, uji strategi:2.5, strategi:1"),
        },
        "social.hype": {
            "en": _weighted(
                "hype:2.5, social hype:3, social:1.5, social media:2.5, trending:2, galaxy score:3, buzz:2, "
                "social volume:3, attention:1.5"
            ),
            "id": _weighted("sosial:1.5, sentimen sosial:3, sosmed:2.5, rame:1.5, ramai:1.5, viral:2"),
            "any": _weighted("lunarcrush:3, altrank:3"),
        },
        "watchlist.list": {
            "en": _weighted("watchlist:3, watch list:3, watched coins:3, watching:1.5"),
            "id": _weighted("daftar pantauan:3.5, pantauan:2.5"),
        },
        "model.get": {
            "en": _weighted(
                "calibrated model:3.5, model:2, coefficients:2.5, probability model:3, fitted:1.5, "
                "always long:1.5, out of sample:2"
            ),
            "id": _weighted("model kalibrasi:3.5, koefisien:2.5"),
        },
        "exchange.candles": {
            "en": _weighted(
                "candles:2.5, candle:2.5, candlestick:2.5, chart:2.5, ohlc:2.5, ohlcv:2.5, candle data:3, klines:2.5"
            ),
            "id": _weighted("grafik:2.5, lilin:2"),
        },
        "symbols.list": {
            "en": _weighted(
                "symbols:2.5, symbols list:3, list all symbols:3, which coins:2.5, coins can i trade:3, "
                "tradable:2, pairs:2, supported coins:3"
            ),
            "id": _weighted("daftar koin:3, koin apa saja:3, daftar:1.2"),
        },
        "exchanges.list": {
            "en": _weighted("exchanges:2.5, which exchanges:3, venues:2.5, supported exchanges:3"),
            "id": _weighted("daftar exchange:3, bursa:2"),
        },
    }
)
"""Every operation the router can answer with, and the phrases that point at it."""

NEEDS_SYMBOL: frozenset[str] = frozenset(
    {
        "signals.get",
        "market.get",
        "structure.smc",
        "market.orderbook",
        "market.flow",
        "market.scalping",
        "mss.get",
        "exchange.candles",
        "social.hype",
    }
)
"""Operations that answer about one coin: without a symbol they cannot run (the router asks which)."""

TAKES_SYMBOL: frozenset[str] = NEEDS_SYMBOL | {"history.list", "history.performance", "backtest.run"}
"""Operations a symbol narrows (optional for the last three)."""

GLOBAL: frozenset[str] = frozenset(
    {
        "market.summary",
        "listings.new",
        "screener.run",
        "spikes.scan",
        "mss.scan",
        "symbols.list",
        "exchanges.list",
        "model.get",
        "watchlist.list",
    }
)
"""Operations about the whole market: a named coin makes them less likely."""

BATCH: Mapping[str, str] = MappingProxyType({"signals.get": "signals.batch"})
"""Per-coin operations with a several-coin form: two coins or more route there."""

# "mode 1/2/3" is the predecessor's phrasing; 1 = conservative, 2 = aggressive, 3 = ultra, the same order
# as engine.modes.MODE_ALIASES ("1", "2", "3"), from the fewest signals to the most.
MODE_WORDS: Mapping[str, tuple[Mode, str]] = MappingProxyType(
    {
        "conservative": (Mode.CONSERVATIVE, "en"),
        "safe": (Mode.CONSERVATIVE, "en"),
        "konservatif": (Mode.CONSERVATIVE, "id"),
        "aman": (Mode.CONSERVATIVE, "id"),
        "aggressive": (Mode.AGGRESSIVE, "en"),
        "agresif": (Mode.AGGRESSIVE, "id"),
        "balanced": (Mode.AGGRESSIVE, "en"),
        "ultra": (Mode.ULTRA, "any"),
        "extreme": (Mode.ULTRA, "en"),
        "ekstrem": (Mode.ULTRA, "id"),
        "calibrated": (Mode.CALIBRATED, "en"),  # opt-in: the fitted model's calls (see the model query)
        "kalibrasi": (Mode.CALIBRATED, "id"),
        "terkalibrasi": (Mode.CALIBRATED, "id"),
    }
)
MODE_NUMBERS: Mapping[str, Mode] = MappingProxyType({"1": Mode.CONSERVATIVE, "2": Mode.AGGRESSIVE, "3": Mode.ULTRA})
MODE_MARKERS: frozenset[str] = frozenset({"mode", "modus", "level"})
"""``mode 3``, ``modus 1``, ``level 2`` (and ``mode3``) name a mode by its number."""

# Coin names a trader writes instead of the ticker (typos are matched fuzzily against these).
COIN_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "bitcoin": "BTC",
        "ether": "ETH",
        "ethereum": "ETH",
        "solana": "SOL",
        "ripple": "XRP",
        "dogecoin": "DOGE",
        "cardano": "ADA",
        "binance coin": "BNB",
        "avalanche": "AVAX",
        "chainlink": "LINK",
        "litecoin": "LTC",
        "polkadot": "DOT",
        "polygon": "POL",
        "toncoin": "TON",
        "tron": "TRX",
        "shiba": "SHIB",
        "shiba inu": "SHIB",
        "uniswap": "UNI",
        "arbitrum": "ARB",
        "optimism": "OP",
        "aptos": "APT",
        "pepe": "PEPE",
        "bonk": "BONK",
        "dogwifhat": "WIF",
        "floki": "FLOKI",
        "stellar": "XLM",
        "cosmos": "ATOM",
        "filecoin": "FIL",
        "injective": "INJ",
        "sui": "SUI",
        "bitcoin cash": "BCH",
    }
)
"""Name → ticker. Tickers themselves come from the live symbol list (or these, when none is given)."""

NAMED_TICKERS: frozenset[str] = frozenset(COIN_NAMES.values()) | {"DOGE", "XRP", "WIF", "BNB", "ETH", "BTC", "SOL"}

NOT_SYMBOLS: frozenset[str] = frozenset(
    {
        *("usdt", "usd", "usdc", "perp", "perps", "swap", "futures", "spot", "coin", "coins", "koin", "crypto"),
        *("i", "a", "vs", "versus"),
    }
)
"""Never a coin, however written (quote assets and generic words)."""

# Everyday words of each language: they decide the language and are never read as a ticker when written in
# lower case (several are listed tickers: THE, ME, NOT, ID, ADA, SAFE, HIGH...). Upper case ("ADA") is a coin.
STOPWORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "en": _words(
            """
            the a an of on for to in at is are was be it its this that these what whats which who how why when
            where should i me my we you your can could would will do does did please pls plz give show tell get
            and or but with about from into right now today current currently any some all there here than then
            good time bad best not no yes ok okay hello hi hey thanks thank morning evening night what's is
            doing going look looks high low new old up down per across last hours hour week day days
            mode level one two three go let us more most much many very just only also still next says say
            engine trading trade strategy on coin coins against price data between quick ready activity big
            """
        ),
        "id": _words(
            """
            yang dan di ke dari untuk dengan ini itu apa apakah ada tidak nggak gak ga enggak bukan sudah udah
            belum mau ingin bisa boleh kapan kenapa mengapa gimana bagaimana berapa siapa mana sekarang hari
            minggu bulan tahun dong deh sih ya yah kok nih tuh bro gan kak min om bang lagi juga saja aja
            tolong coba kasih lihat liat cek buat biar atau tapi kalau kalo jika karena sama semua per
            selamat pagi siang sore malam kabar terima kasih yg dgn utk gmn krn bgt banget koin naik turun
            """
        ),
    }
)


VENUES: Mapping[str, str] = MappingProxyType(
    {"binance": "binance", "bybit": "bybit", "okx": "okx", "okex": "okx", "hyperliquid": "hyperliquid"}
)
"""Exchange names a question may narrow an operation to (``new listings on okx``)."""

OPTION_WORDS: Mapping[str, Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "screener.run": {
            "kind": {
                **dict.fromkeys(("top gainers", "top gainer", "gainers", "paling naik"), "GAINERS"),
                **dict.fromkeys(("top losers", "losers", "biggest losers", "paling turun"), "LOSERS"),
                **dict.fromkeys(
                    ("volume leaders", "volume terbesar", "by volume", "top volume", "most volume", "most traded"),
                    "VOLUME",
                ),
                **dict.fromkeys(("highest funding", "funding extremes"), "FUNDING_HIGH"),
                "negative funding": "FUNDING_LOW",
                **dict.fromkeys(("biggest open interest", "open interest leaders", "oi leaders"), "OPEN_INTEREST"),
            }
        }
    }
)
"""operation → variable → phrase → value: what a matched phrase says about the operation's other inputs."""

OPTION_DEFAULTS: Mapping[str, Mapping[str, str]] = MappingProxyType({"screener.run": {"kind": "VOLUME"}})
"""A required input the question may leave unsaid, and the value used then (the answer notes it)."""

WINDOW_HOURS: Mapping[str, float] = MappingProxyType(
    {
        "today": 24,
        "hari ini": 24,
        "yesterday": 48,
        "kemarin": 48,
        "this week": 168,
        "last week": 168,
        "minggu ini": 168,
        "seminggu": 168,
        "this month": 720,
        "bulan ini": 720,
    }
)
"""Time windows said in words; ``72h``, ``3 days``, ``2 minggu`` are read as numbers."""
