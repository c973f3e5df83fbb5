"""CALIBRATED: causal fits, out-of-sample figures on the real BTC year, the artifact, the model query and CLI.

The real year is ``../shared/fixtures/history`` (skipped when absent); the live path runs the real app
against a recorded cassette on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import statistics
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from engine import DEFAULT_MODE, Mode, compute_signal
from engine.backtest import ALWAYS_LONG, BacktestConfig, MarketHistory, WalkForward, replay, snapshot_at, walk_forward
from engine.calibrated import CalibratedModel, ModelFormatError, calibrate
from engine.calibrated_fit import (
    CALIBRATED,
    CalibratedEvaluation,
    _fit,
    design_matrix,
    evaluate_calibrated,
    fit_model,
    fold_train,
    inner_validation_split,
    walk_forward_calibrated,
)
from engine.evaluation import brier_score, max_drawdown, reliability_table
from engine.features import FEATURES, context_features
from engine.modes import Recommendation
from resolvers.model import load_state, read_model
from signal_api.cli import main
from signal_api.paths import default_model_path
from tests.conftest import load_cassette_json, running_service
from tests.test_backtest_engine import perturb_after
from tests.test_backtest_support import real_history, real_history_dir, write_synthetic_history

if TYPE_CHECKING:
    from pathlib import Path

    from engine.backtest import BarDecision, Replay

CONFIG = BacktestConfig(features=True)
SYMBOL = "BTCUSDT"


@pytest.fixture(scope="module")
def real() -> MarketHistory:
    return real_history()


@pytest.fixture(scope="module")
def played(real: MarketHistory) -> Replay:
    return replay(real, CONFIG)


@pytest.fixture(scope="module")
def wf(played: Replay) -> WalkForward:
    return walk_forward(played.scored, CONFIG, CONFIG.horizon_bars, played.bar)


@pytest.fixture(scope="module")
def evaluation(played: Replay, wf: WalkForward) -> CalibratedEvaluation:
    return evaluate_calibrated(played.scored, wf, CONFIG.horizon_bars, played.bar, SYMBOL)


# --------------------------------------------------------------------------------------------- causality


def _features_key(d: BarDecision) -> tuple[object, ...]:
    return (d.index, d.as_of, d.score, d.factor_scores, d.features)


def test_perturbing_data_after_a_folds_cutoff_changes_neither_its_fit_nor_an_earlier_decision(
    real: MarketHistory, played: Replay, wf: WalkForward
) -> None:
    fold = wf.folds[2]  # trained on folds 0 and 1
    cutoff = fold.start
    moved = replay(perturb_after(real, cutoff), CONFIG)
    old = {d.index: d for d in played.scored}
    new = {d.index: d for d in moved.scored}
    earlier = [i for i, d in old.items() if d.as_of <= cutoff]
    assert len(earlier) > 500
    for i in earlier:  # every earlier decision, its features included, is unchanged
        assert _features_key(new[i]) == _features_key(old[i]), f"bar {i} changed"
    h = 1  # 24 h
    before = fit_model(fold_train(played.scored, fold, h), h, 24.0, SYMBOL)
    after = fit_model(fold_train(moved.scored, fold, h), h, 24.0, SYMBOL)
    assert after == before  # coefficients, thresholds, C, version: the fold's fit is unchanged
    for d in [old[i] for i in earlier]:  # and so is every earlier probability
        assert after.probability(after.align(new[d.index].features)) == before.probability(before.align(d.features))
    # the perturbation is real: later features change, and a fit that could see them changes too
    later = [i for i, d in old.items() if d.as_of > cutoff and i in new]
    assert sum(new[i].features != old[i].features for i in later) > 0.5 * len(later)
    leaky_old = fit_model([d for d in played.scored if d.outcome_ends[h] <= fold.end], h, 24.0, SYMBOL)
    leaky_new = fit_model([d for d in moved.scored if d.outcome_ends[h] <= fold.end], h, 24.0, SYMBOL)
    assert leaky_new.coefficients != leaky_old.coefficients


def test_the_walk_forward_itself_uses_only_data_before_each_folds_cutoff(
    real: MarketHistory, played: Replay, wf: WalkForward
) -> None:
    """The evaluation's own loop (not only ``fit_model`` on a hand-built training set): after perturbing
    everything after fold 2's cut-off, fold 1 (model, probabilities, calls) and fold 2's model are unchanged."""
    cutoff = wf.folds[2].start
    moved = replay(perturb_after(real, cutoff), CONFIG)
    h = 1  # 24 h
    before = walk_forward_calibrated(played.scored, wf.folds, h, 24.0, SYMBOL)
    after = walk_forward_calibrated(moved.scored, wf.folds, h, 24.0, SYMBOL)
    assert [f.number for f in before] == [1, 2, 3]
    fold1_before, fold1_after = before[0], after[0]  # its last bars' outcomes do read later prices; its calls do not
    assert fold1_after.model == fold1_before.model
    assert fold1_after.probabilities == fold1_before.probabilities
    assert fold1_after.recommendations == fold1_before.recommendations
    assert after[1].model == before[1].model
    first = next(i for i, d in enumerate(before[1].test) if d.as_of == cutoff)
    assert after[1].probabilities[first] == before[1].probabilities[first]  # the decision at the cut-off itself
    assert after[2].model != before[2].model  # fold 3 may see the perturbed prices, and does


def test_training_sets_are_purged_of_outcomes_that_reach_the_test_fold(played: Replay, wf: WalkForward) -> None:
    for fold in wf.folds[1:]:
        for h in (0, 1):
            train = fold_train(played.scored, fold, h)
            assert train and max(d.outcome_ends[h] for d in train) <= fold.start
            # inside the fit, C and the thresholds are picked on a validation tail the inner fit is purged of
            labelled = [d for d in train if d.outcome(Recommendation.LONG, h) is not None]
            inner, valid = inner_validation_split(labelled, h, 0.3)
            assert inner and valid and max(inner) < min(valid)
            assert max(labelled[i].outcome_ends[h] for i in inner) <= labelled[valid[0]].as_of
            if h == 1:  # a 24 h outcome spans six bars: the purge drops the inner bars it would leak from
                assert len(inner) < min(valid)


# --------------------------------------------------------------------------------------------- features


def test_live_features_are_the_backtest_features(real: MarketHistory, played: Replay) -> None:
    """The same bar through compute_signal (the live path) gives the replay's features and probability."""
    model = read_model(default_model_path())
    by_index = {d.index: d for d in played.scored}
    checked = 0
    for i in range(300, len(real.candles) - 1, 211):
        d = by_index.get(i)
        if d is None:
            continue
        signal = compute_signal(snapshot_at(real, i), Mode.CALIBRATED, model)
        assert signal.calibration is not None
        expected = model.probability(model.align(d.features))
        assert signal.calibration.probability_up == expected
        assert signal.recommendation is model.classify(expected)
        checked += 1
    assert checked >= 5


def test_features_are_finite_and_named(played: Replay) -> None:
    x = design_matrix(played.scored)
    assert x.shape == (len(played.scored), len(FEATURES))
    present = ~np.isnan(x)
    assert present.mean(axis=0).min() > 0.9  # every feature is there on most bars
    assert np.all(np.isfinite(x[present]))
    rank = FEATURES.index("realized_vol_pct_rank")
    assert np.nanmin(x[:, rank]) > 0 and np.nanmax(x[:, rank]) <= 1


def test_a_missing_factor_is_a_missing_feature_not_a_default(real: MarketHistory, played: Replay) -> None:
    d = played.scored[400]
    snap = snapshot_at(real, d.index)
    signal = compute_signal(snap, Mode.AGGRESSIVE)
    no_funding = tuple(
        dataclasses.replace(f, available=False, score=None, raw_value=None) if f.name.value == "funding" else f
        for f in signal.factors
    )
    vector = context_features(snap.candles.value or (), no_funding)
    assert vector[FEATURES.index("funding_bp_8h")] is None
    model = read_model(default_model_path())
    assert "funding_bp_8h" in calibrate(model, vector).missing_features


# --------------------------------------------------------------------------------------------- evaluation


def test_evaluation_figures_on_the_real_year_are_consistent(evaluation: CalibratedEvaluation) -> None:
    test = evaluation.test
    assert len(test) > 1400
    assert all(a.as_of < b.as_of for a, b in itertools.pairwise(test))
    for hh in (4.0, 24.0):
        for strategy in evaluation.strategies:
            f = evaluation.figure(strategy, hh)
            assert f is not None
            net = [v for v in evaluation.net[strategy, hh] if v is not None]
            assert f.calls == len(net)
            assert f.wins == sum(v > 0 for v in net)
            if f.calls:
                assert f.mean_net_pct == pytest.approx(statistics.fmean(net))
                assert f.max_drawdown_pct == pytest.approx(max_drawdown(net))
                assert f.win_rate_ci95 is not None and f.win_rate is not None
                assert f.win_rate_ci95.low <= f.win_rate <= f.win_rate_ci95.high
            if f.calls > 30:
                assert f.mean_net_ci95 is not None and f.mean_net_pct is not None
                assert f.mean_net_ci95.low < f.mean_net_pct < f.mean_net_ci95.high
        always = evaluation.figure(ALWAYS_LONG, hh)
        h = evaluation.horizons_hours.index(hh)
        known_long = sum(d.outcome(Recommendation.LONG, h) is not None for d in test)
        assert always is not None and always.calls == known_long >= len(test) - 20  # the gap and the end
        cal = evaluation.figure(CALIBRATED, hh)
        assert cal is not None and 0 < cal.calls < always.calls  # it abstains on some bars
        labels = evaluation.labels[hh]
        known = [(p, y) for p, y in zip(evaluation.probabilities[hh], labels, strict=True) if y is not None]
        assert evaluation.brier[hh] == pytest.approx(brier_score([p for p, _ in known], [y for _, y in known]))
        bins = evaluation.reliability[hh]
        assert len(bins) == 10 and sum(b.count for b in bins) == len(known)
        assert all(0 < p < 1 for p, _ in known)


def test_the_gate_is_the_paired_interval_rule(evaluation: CalibratedEvaluation) -> None:
    g = evaluation.gate
    assert g.horizon_hours == 24.0
    assert g.vs_always_long is not None and g.vs_best_factor is not None and g.best_factor is not None
    assert g.passes == (g.vs_always_long.low > 0 and g.vs_best_factor.low > 0)
    best = evaluation.figure(g.best_factor, 24.0)
    assert best is not None and best.mean_net_pct == g.best_factor_mean
    # the best factor is the best of the single-factor baselines with enough calls
    factors = [
        f
        for f in evaluation.figures
        if f.horizon_hours == 24.0 and (f.strategy == "momentum_only" or f.strategy.startswith("only_"))
    ]
    assert g.best_factor_mean == max(f.mean_net_pct or -math.inf for f in factors if f.calls >= 30)
    assert ("PASSED: CALIBRATED may become" in g.statement) == g.passes
    if not g.passes:
        assert DEFAULT_MODE is not Mode.CALIBRATED


def test_reliability_and_brier_by_hand() -> None:
    probabilities = [0.1 * k + 0.05 for k in range(10)] * 3
    outcomes = [int(p > 0.5) for p in probabilities]
    bins = reliability_table(probabilities, outcomes)
    assert [b.count for b in bins] == [3] * 10
    assert [b.observed for b in bins] == [0.0] * 5 + [1.0] * 5
    assert brier_score([0.2, 0.9], [0, 1]) == pytest.approx((0.04 + 0.01) / 2)
    assert max_drawdown([1.0, -2.0, 0.5, -1.0, 3.0]) == pytest.approx(2.5)


# --------------------------------------------------------------------------------------------- artifact


def test_artifact_round_trip_and_scoring_without_sklearn_matches_sklearn(played: Replay) -> None:
    model = read_model(default_model_path())
    assert CalibratedModel.from_json(json.loads(json.dumps(model.to_json()))) == model
    x = design_matrix(played.scored)
    y = np.array(
        [int((o := d.outcome(Recommendation.LONG, 1)) is not None and o.return_pct > 0.1) for d in played.scored]
    )
    fitted = _fit(x, y, 0.1)
    from sklearn.linear_model import LogisticRegression

    z = np.nan_to_num((x - fitted.means) / fitted.scales, nan=0.0)
    reference = LogisticRegression(C=0.1, max_iter=2000).fit(z, y).predict_proba(z)[:, 1]
    as_model = dataclasses.replace(
        model,
        means=tuple(fitted.means),
        scales=tuple(fitted.scales),
        coefficients=tuple(fitted.coef),
        intercept=fitted.intercept,
    )
    ours = [as_model.probability(d.features) for d in played.scored[:300]]
    assert ours == pytest.approx(list(reference[:300]), abs=1e-9)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"schema": 99}, "schema"),
        ({"longThreshold": 1.5}, "long_threshold"),
        ({"longThreshold": 0.4, "shortThreshold": 0.45}, "below"),
        ({"features": [{"name": "x", "mean": 0, "scale": 0, "coefficient": 1}]}, "scale"),
        ({"intercept": "abc"}, "not a calibrated model"),
    ],
)
def test_a_malformed_artifact_is_refused_with_the_reason(patch: dict[str, Any], message: str) -> None:
    data = {**read_model(default_model_path()).to_json(), **patch}
    with pytest.raises(ModelFormatError, match=message):
        CalibratedModel.from_json(data)


def test_a_missing_or_broken_file_leaves_the_service_up_with_the_reason(tmp_path: Path) -> None:
    state = load_state(tmp_path / "nowhere" / "model.json")
    assert state.model is None and state.problem is not None
    assert "model.json" in state.problem and str(tmp_path) not in state.problem
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    state = load_state(broken)
    assert state.model is None and state.problem and "broken.json" in state.problem


def test_the_shipped_artifact_is_what_model_fit_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reproducible: refitting on the shared year gives the committed file byte for byte."""
    out = tmp_path / "model.json"
    assert main(["model", "fit", "--history", str(real_history_dir()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Gate at 24h" in printed and "| calibrated |" in printed
    assert out.read_bytes() == default_model_path().read_bytes()
    shipped = read_model(out)
    assert shipped.out_of_sample["gate"]["passes"] in (True, False)
    assert shipped.fit_to > shipped.fit_from and shipped.train_bars > 2000


# --------------------------------------------------------------------------------------------- CLI


def test_model_show_prints_the_artifact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = read_model(default_model_path())
    assert main(["model", "show"]) == 0
    out = capsys.readouterr().out
    assert model.version in out and "smc_structure" in out and "Gate at 24h" in out
    for h in model.out_of_sample["horizons"]:  # every horizon's figures with their intervals
        assert f"- {h['horizonHours']:g}h: {h['calls']} calls, win {h['winRate'] * 100:.1f}% (Wilson" in out
    assert "block bootstrap" in out and "(base rate" in out
    assert main(["model", "show", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == model.version
    assert main(["model", "show", "--path", str(tmp_path / "none.json")]) == 2
    assert "none.json not found" in capsys.readouterr().err


def test_backtest_plot_writes_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    charts = tmp_path / "charts"
    args = ["backtest", "--history", str(real_history_dir()), "--walk-forward", "--plot", str(charts)]
    assert main([*args, "--from", "2025-05-20"]) == 0
    out = capsys.readouterr().out
    assert "CALIBRATED vs baselines" in out and "Gate at 24h" in out
    assert "The same rule at 4h (for information" in out
    names = sorted(p.name for p in charts.iterdir())
    assert names == sorted(f"{k}_{h}h.png" for k in ("equity", "calibration", "buckets") for h in (4, 24))
    for p in charts.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_backtest_refuses_mode_calibrated_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--history", str(real_history_dir()), "--mode", "calibrated"]) == 2
    assert "no score thresholds" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- API


SIGNAL = """query($symbol: String!, $mode: Mode!, $timeframe: Timeframe!) {
  signal(symbol: $symbol, mode: $mode, timeframe: $timeframe) {
    __typename
    ... on Signal { recommendation mode probabilityUp
      calibration { probabilityUp horizonHours longThreshold shortThreshold modelVersion missingFeatures } }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}"""
MODEL = """{ model { __typename
  ... on CalibratedModel { version symbol timeframe fitFrom fitTo trainBars longThreshold shortThreshold
    isDefaultMode coefficients { feature coefficient }
    outOfSample { testBars horizons { horizonHours calls meanNetReturnPct brier } gate { passes statement } } }
  ... on Problem { code message } } }"""


def _classify(p: float, long_t: float | None, short_t: float | None) -> str:
    if long_t is not None and p >= long_t:
        return "LONG"
    if short_t is not None and p <= short_t:
        return "SHORT"
    return "NEUTRAL"


async def test_signal_and_model_query_over_http(graphql: Any, tmp_path: Path) -> None:
    cassette = load_cassette_json("btc-2025-11-14-latest.json")
    model = read_model(default_model_path())
    async with running_service(cassette) as (base_url, _replay):
        status, body = await graphql(base_url, SIGNAL, {"symbol": "BTC", "mode": "CALIBRATED", "timeframe": "H4"})
        assert status == 200 and "errors" not in body, body
        signal = body["data"]["signal"]
        assert signal["__typename"] == "Signal" and signal["mode"] == "CALIBRATED"
        cal = signal["calibration"]
        assert cal["modelVersion"] == model.version and cal["horizonHours"] == 24
        assert signal["probabilityUp"] == cal["probabilityUp"] and 0 < cal["probabilityUp"] < 1
        assert signal["recommendation"] == _classify(cal["probabilityUp"], cal["longThreshold"], cal["shortThreshold"])
        assert set(cal["missingFeatures"]) <= set(FEATURES)

        # another mode keeps its own call but still reports the probability
        status, body = await graphql(base_url, SIGNAL, {"symbol": "BTC", "mode": "AGGRESSIVE", "timeframe": "H4"})
        assert body["data"]["signal"]["probabilityUp"] == cal["probabilityUp"]

        # refused before any upstream call: an answer (the inputs are valid; the model does not cover them)
        for variables, reason in (
            ({"symbol": "ETH", "mode": "CALIBRATED", "timeframe": "H4"}, "not been tested on ETHUSDT"),
            ({"symbol": "BTC", "mode": "CALIBRATED", "timeframe": "H1"}, "fitted on 4h bars only"),
        ):
            status, body = await graphql(base_url, SIGNAL, variables)
            refused = body["data"]["signal"]
            assert refused["__typename"] == "InsufficientData", refused
            assert refused["code"] == "MODEL_NOT_AVAILABLE" and reason in refused["message"]

        status, body = await graphql(base_url, MODEL)
        assert status == 200 and "errors" not in body, body
        m = body["data"]["model"]
        assert m["__typename"] == "CalibratedModel" and m["version"] == model.version
        assert [c["feature"] for c in m["coefficients"]] == list(model.features)
        assert m["outOfSample"]["gate"]["passes"] == model.out_of_sample["gate"]["passes"]
        assert m["isDefaultMode"] is False
        assert [h["horizonHours"] for h in m["outOfSample"]["horizons"]] == [4, 24]

    async with running_service(cassette, calibrated_model_path=tmp_path / "absent.json") as (base_url, _replay):
        status, body = await graphql(base_url, MODEL)
        assert body["data"]["model"]["__typename"] == "ModelNotAvailable"
        assert body["data"]["model"]["code"] == "MODEL_NOT_AVAILABLE"
        assert (
            "absent.json" in body["data"]["model"]["message"] and str(tmp_path) not in body["data"]["model"]["message"]
        )
        status, body = await graphql(base_url, SIGNAL, {"symbol": "BTC", "mode": "CALIBRATED", "timeframe": "H4"})
        refused = body["data"]["signal"]
        assert refused["code"] == "MODEL_NOT_AVAILABLE" and "absent.json" in refused["message"]


ASKED_THROUGH = {
    "a fragment spread": """query { signal(symbol: "BTC") { ...Odds } }
      fragment Odds on Signal { probabilityUp }""",
    "an inline fragment, nested": """query { signals(symbols: ["BTC"]) {
      ... on Signal { score calibration { probabilityUp } } } }""",
}
NOT_ASKED = """query { signal(symbol: "BTC") { ... on Signal { recommendation score factors { name score } } } }"""


async def test_the_model_runs_only_for_a_document_that_reads_it(graphql: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``probabilityUp`` and ``calibration`` are the model's output: a document selecting neither (anywhere under
    ``signal``/``signals``, through fragments) does not pay for its features; one that selects either gets it."""
    import engine.signal

    runs: list[int] = []

    def counted(*args: Any) -> Any:
        runs.append(1)
        return context_features(*args)

    monkeypatch.setattr(engine.signal, "context_features", counted)
    cassette = load_cassette_json("btc-2025-11-14-latest.json")
    async with running_service(cassette) as (base_url, _replay):
        status, body = await graphql(base_url, NOT_ASKED)
        assert status == 200 and body["data"]["signal"]["recommendation"] in {"LONG", "SHORT", "NEUTRAL"}, body
        assert runs == []
        for how, document in ASKED_THROUGH.items():
            status, body = await graphql(base_url, document)
            assert status == 200 and "errors" not in body, (how, body)
            answer = body["data"]["signal"] if "signal" in body["data"] else body["data"]["signals"][0]
            probability = answer.get("probabilityUp") or answer["calibration"]["probabilityUp"]
            assert 0 < probability < 1, (how, answer)
        assert len(runs) == 2
        status, body = await graphql(
            base_url, SIGNAL, {"symbol": "BTC", "mode": "CALIBRATED", "timeframe": "H4"}
        )  # the mode's call is the model's, selected or not
        assert body["data"]["signal"]["mode"] == "CALIBRATED" and len(runs) == 3


def test_any_history_in_the_fixture_format_is_evaluated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not tied to the shared year: a synthetic market in the same file format is fitted, judged and written."""
    directory = write_synthetic_history(tmp_path / "synthetic", bars=1500, seed=11)
    out = tmp_path / "synthetic.json"
    assert main(["model", "fit", "--history", str(directory), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CALIBRATED vs baselines" in printed and "Gate at 24h" in printed
    model = read_model(out)
    assert model.fit_from.startswith("2024-01") and model.version != read_model(default_model_path()).version
    assert [h["horizonHours"] for h in model.out_of_sample["horizons"]] == [4.0, 24.0]
    assert main(["model", "fit", "--symbol", "!!", "--out", str(out)]) == 2


def test_mode_calibrated_needs_a_model_of_the_snapshots_bar(real: MarketHistory) -> None:
    snap = snapshot_at(real, 500)
    with pytest.raises(ValueError, match="needs a model"):
        compute_signal(snap, Mode.CALIBRATED)
    other_bar = dataclasses.replace(read_model(default_model_path()), timeframe="1h")
    with pytest.raises(ValueError, match="needs a model"):
        compute_signal(snap, Mode.CALIBRATED, other_bar)
    assert compute_signal(snap, Mode.AGGRESSIVE, other_bar).calibration is None  # no probability off its bar
