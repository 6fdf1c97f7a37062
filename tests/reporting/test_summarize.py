"""Walk-forward summaries: the forecast's steps and the pooling weights; the summarize stage's
edge diagnostics (Parquet, and the brief's CSV when asked) and per-window diagrams."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.probability import brier
from tmaxedge.modeling import coherence, pooling
from tmaxedge.modeling.scoring import score
from tmaxedge.modeling.skill import Bootstrap
from tmaxedge.reporting import summarize
from tmaxedge.reporting.summarize import pool_weight_table, step_scores, summarize_predictions


def predictions():
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    p_market = np.clip(0.5 + (y - 0.5) * 0.3 + rng.normal(0, 0.1, n), 0.01, 0.99)
    p_unpooled = np.clip(0.5 + (y - 0.5) * 0.1 + rng.normal(0, 0.1, n), 0.01, 0.99)
    p_model = np.where(np.arange(n) < 10, np.nan, (p_market + p_unpooled) / 2)
    return pd.DataFrame(
        {
            "window": "w",
            "y": y,
            "p_market": p_market,
            "p_unpooled": p_unpooled,
            "p_incoherent": p_model,
            "p_model": p_model,
            "p_oracle": np.nan,
        }
    )


def test_step_scores_compare_each_step_on_the_final_forecasts_rows():
    frame = predictions()
    scores = step_scores(frame)
    kept = frame["p_model"].notna()
    y = frame.loc[kept, "y"].to_numpy(float)
    assert scores["brier_unpooled"] == brier(y, frame.loc[kept, "p_unpooled"].to_numpy())
    market = brier(y, frame.loc[kept, "p_market"].to_numpy())
    assert np.isclose(scores["brier_improvement_unpooled"], 1 - scores["brier_unpooled"] / market)
    assert scores["brier_incoherent"] == summarize_predictions(frame)["brier_common"]
    assert "brier_unpooled" not in step_scores(frame.drop(columns=["p_unpooled", "p_incoherent"]))


def test_pool_weight_table_keeps_groups_with_a_pool_fit():
    records = [
        (
            "ridge",
            "2024-07-07",
            "chi_less",
            {"method": "none", "pool": {"scope": "less", "w": 0.35, "n_rows": 90}},
        ),
        ("ridge", "2024-06-30", "mia_less", {"method": "none", "reason": "no model"}),
        (
            "ridge",
            "2024-06-30",
            "chi_less",
            {"method": "none", "pool": {"scope": "less", "w": None, "n_rows": 0}},
        ),
    ]
    table = pool_weight_table(records)
    assert table["window"].tolist() == ["2024-06-30", "2024-07-07"]
    assert table["strike"].tolist() == ["less", "less"]
    assert table["w"].isna().tolist() == [True, False]


def test_a_scope_without_calibration_rows_is_recorded_like_one_with_nothing_to_fit():
    """A window whose calibration split has no row of a pooling scope (a season's first weeks
    on real data) keeps the record's shape, so the pool-weight table still reads it."""
    empty = pooling.fit_pool_weight(np.array([]), np.array([]), np.array([]), pooling.PoolParams())
    assert set(pooling.NO_POOL_FIT) == set(empty)
    record = {"method": "none", "pool": {"scope": "less", **pooling.NO_POOL_FIT}}
    table = pool_weight_table([("ridge", "2026-01-29", "nyc_less", record)])
    assert table["n_rows"].tolist() == [0] and table["w"].isna().all()


def test_fits_stopped_at_the_iteration_limit_are_counted_per_entry():
    records = [
        ("ridge", {"status": "ok"}),
        ("elasticnet", {"status": "ok", "n_fits_not_converged": 2}),
        ("elasticnet", {"status": "ok", "n_fits_not_converged": 3, "final_fit_converged": False}),
        ("elasticnet", {"status": "too_few_yes_days"}),
    ]
    counts = summarize.not_converged_fits(records, ["elasticnet", "ridge", "tmax_dist"])
    assert counts == {"elasticnet": 5, "ridge": 0, "tmax_dist": 0}


def test_window_records_give_each_windows_dates_scores_and_chosen_hyperparameters():
    rows = pd.concat(
        [predictions().assign(window="2024-07-07"), predictions().assign(window="2024-06-30")]
    )
    bounds = {
        w: {
            "key": w,
            "train_start": a,
            "fit_end": "x",
            "train_end": w,
            "test_start": w,
            "test_end": b,
        }
        for w, a, b in [
            ("2024-06-30", "2024-04-01", "2024-07-07"),
            ("2024-07-07", "2024-04-08", "2024-07-14"),
        ]
    }
    best = {
        "2024-06-30": {
            "status": "ok",
            "C": 2.0,
            "C_fit": 1.5,
            "class_weight": "none",
            "columns": ["a"],
        }
    }
    records = summarize.window_records(rows, bounds, best)
    assert [r["window"] for r in records] == ["2024-06-30", "2024-07-07"]
    first = records[0]
    assert (first["train_start"], first["train_end"], first["test_end"]) == (
        "2024-04-01",
        "2024-06-30",
        "2024-07-07",
    )
    assert first["best_params"] == {"status": "ok", "C": 2.0, "C_fit": 1.5, "class_weight": "none"}
    assert records[1]["best_params"] == {}  # no study recorded for that window
    own = predictions().dropna(subset=["p_model"])
    assert first["brier"] == brier(own["y"].to_numpy(float), own["p_model"].to_numpy(float))
    assert first["n_rows"] == 400 and first["coverage"] == 390 / 400
    assert first["brier_improvement"] == 1 - first["brier_common"] / first["market_brier"]


def test_window_means_weigh_each_window_alike_and_keep_the_lowest_coverage():
    full = predictions().assign(window="2024-06-30")
    half = predictions().assign(window="2024-07-07").iloc[:200]
    half.loc[half.index[:100], "p_model"] = np.nan  # one window forecasts fewer of its rows
    table = summarize.per_window(pd.concat([full, half], ignore_index=True))
    means = summarize.window_means(table)
    assert means["brier_window_mean"] == (table["brier"].iloc[0] + table["brier"].iloc[1]) / 2
    assert means["coverage_lowest_window"] == table["coverage"].min() == 100 / 200


def ladder_rows(rng, n_events: int, bins: int, minutes: int) -> pd.DataFrame:
    """Events of ``bins`` markets priced at ``minutes`` times; one market of each event wins."""
    event = np.repeat([f"E{i}" for i in range(n_events)], bins * minutes)
    position = np.tile(np.repeat(np.arange(bins), minutes), n_events)
    winner = np.repeat(rng.integers(0, bins, n_events), bins * minutes)
    return pd.DataFrame(
        {
            "event_ticker": event,
            "market_ticker": [f"{e}-{k}" for e, k in zip(event, position, strict=True)],
            "position": position,
            "timestamp": np.tile(np.arange(minutes), n_events * bins),
            "y": (position == winner).astype(float),
            "minutes_to_close": np.tile(np.arange(minutes) * 90.0, n_events * bins),
        }
    )


def test_evidence_gives_intervals_around_the_pooled_improvement_and_both_decompositions():
    rng = np.random.default_rng(11)
    n_events, bins, minutes = 40, 3, 6
    predictions = ladder_rows(rng, n_events, bins, minutes)
    y, position = predictions["y"].to_numpy(), predictions.pop("position").to_numpy()
    p_market = np.clip(0.33 + 0.4 * (y - 0.33) + rng.normal(0, 0.2, len(y)), 0.02, 0.98)
    p_model = np.clip(0.33 + 0.5 * (y - 0.33) + rng.normal(0, 0.1, len(y)), 0.02, 0.98)
    predictions = predictions.assign(p_model=p_model, p_market=p_market)
    positions = pd.Series(position, index=predictions["market_ticker"]).groupby(level=0).first()
    found = summarize.evidence(predictions, positions, Bootstrap(n_resamples=500))
    point = score(predictions)["brier_improvement"]
    assert found["n_events"] == n_events
    assert found["brier_improvement_low"] < point < found["brier_improvement_high"]
    assert found["rps"] < found["market_rps"]  # the sharper, truthful ladder ranks better
    assert found["resolution"] > found["market_resolution"]
    hours = pd.DataFrame(found["by_hours_to_close"])
    assert hours["n_rows"].sum() == len(predictions)
    metrics = summarize.flat_metrics(found)
    assert "by_hours_to_close" not in metrics and "brier_improvement_low" in metrics
    assert "brier_improvement_vs_coherent_market_low" in metrics


def test_a_forecast_that_only_makes_the_market_coherent_beats_the_market_not_its_coherent_self():
    """Stale or overround prices that do not sum to 1 over the ladder: the step alone beats
    them, and the comparison with the coherent market says there is nothing beyond it."""
    rng = np.random.default_rng(5)
    predictions = ladder_rows(rng, n_events=60, bins=3, minutes=4)
    y = predictions["y"].to_numpy()
    p_market = np.clip(0.45 + 0.4 * (y - 0.33) + rng.normal(0, 0.1, len(y)), 0.02, 0.98)
    predictions["p_market"] = p_market
    predictions["p_model"] = coherence.coherent_probabilities(predictions, "p_market")
    sums = predictions.groupby(["event_ticker", "timestamp"])["p_model"].sum()
    np.testing.assert_allclose(sums, 1.0)
    found = summarize.coherent_market_evidence(predictions, Bootstrap(n_resamples=300))
    assert score(predictions)["brier_improvement"] > 0.05  # the overround market is beaten
    assert found["brier_improvement_vs_coherent_market"] == pytest.approx(0.0, abs=1e-12)
    assert found["brier_improvement_vs_coherent_market_low"] == pytest.approx(0.0, abs=1e-12)
    assert found["coherent_market_brier"] == pytest.approx(
        brier(y, predictions["p_model"].to_numpy())
    )


# --- the stage: edge diagnostics as Parquet and, when asked, the brief's CSV; the diagrams ------

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = ("elasticnet", "ridge")
WINDOWS = ("2024-06-30", "2024-07-07")


def window_predictions(entry: str, window: str) -> pd.DataFrame:
    """One entry's test predictions of one window in the evaluate stage's columns: two markets
    of chi, ten minutes each, a missing market price and a missing forecast among them."""
    rng = np.random.default_rng(len(entry) + int(window[-2:]))
    n = 20
    p_model = rng.uniform(0.01, 0.99, n)
    p_model[3] = np.nan
    p_market = rng.uniform(0.01, 0.99, n)
    p_market[5] = np.nan
    start = pd.Timestamp(window, tz="UTC") + pd.Timedelta(hours=12)
    return pd.DataFrame(
        {
            "model": entry,
            "window": window,
            "city": "chi",
            "bracket": ["between"] * 10 + ["less"] * 10,
            "timestamp": [start + pd.Timedelta(minutes=5 * (i % 10)) for i in range(n)],
            "market_ticker": ["KXHIGHCHI-B80.5"] * 10 + ["KXHIGHCHI-T79"] * 10,
            "p_model": p_model,
            "p_market": p_market,
            "y": rng.integers(0, 2, n),
            "spread_cents": rng.integers(1, 5, n).astype(float),
            "minutes_to_close": (600 - 5 * (np.arange(n) % 10)).astype(float),
            "event_ticker": "KXHIGHCHI",
            "yes_bid": 40.0,
            "yes_ask": 42.0,
            "p_unpooled": p_model,
            "p_incoherent": p_model,
            "p_oracle": np.nan,
        }
    )


def write_stage_inputs(folder: Path, edge_csv: str) -> list[str]:
    """The summarize stage's inputs laid out as the pipeline leaves them, a params.yaml with
    ``summarize.edge_diagnostics_csv: edge_csv``; returns the stage's arguments."""
    group = {"best_params": {"status": "ok"}, "calibration_fit": {"method": "none"}, "coef": None}
    for window in WINDOWS:
        parts = [window_predictions(entry, window) for entry in ENTRIES]
        io.write_parquet_atomic(
            pd.concat(parts, ignore_index=True),
            folder / "by_window" / f"{window}.predictions.parquet",
        )
        models = {entry: {"chi_between": group, "chi_less": group} for entry in ENTRIES}
        io.write_json_atomic(models, folder / "by_window" / f"{window}.models.json")
        end = (pd.Timestamp(window) + pd.Timedelta(days=7)).strftime("%Y-%m-%d")
        dates = {"train_start": "2024-04-01", "train_end": window, "test_start": window}
        io.write_json_atomic(
            {"window": {**dates, "test_end": end}}, folder / "windows" / f"{window}.json"
        )
    markets = pd.DataFrame(
        {
            "ticker": ["KXHIGHCHI-T79", "KXHIGHCHI-B80.5"],
            "event_ticker": "KXHIGHCHI",
            "strike_type": ["less", "between"],
            "floor_strike": [None, 80.0],
            "cap_strike": [79.0, 81.0],
        }
    )
    io.write_parquet_atomic(markets, folder / "markets.parquet")
    (folder / "params.yaml").write_text(f"summarize:\n  edge_diagnostics_csv: {edge_csv}\n")
    return ["by_window", "windows", "markets.parquet", "walkforward", "walkforward.json"]


def run_summarize(folder: Path, edge_csv: str) -> Path:
    """The stage run as dvc runs it, a subprocess in ``folder``: its output folder."""
    arguments = write_stage_inputs(folder, edge_csv)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "summarize.py"), *arguments],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return folder / "walkforward"


@pytest.mark.parametrize("edge_csv", ["csv", "csv.gz"])
def test_the_edge_diagnostics_csv_holds_the_parquets_rows_in_the_briefs_columns(tmp_path, edge_csv):
    out = run_summarize(tmp_path, edge_csv)
    parquet = pd.read_parquet(out / "edge_diagnostics.parquet")
    table = pd.read_csv(out / f"edge_diagnostics.{edge_csv}")  # gzip read as it is
    brief = "city bracket timestamp market_ticker p_model p_market y spread_cents minutes_to_close"
    assert list(table.columns) == ["model", *brief.split()]  # the entry, then the brief's
    assert len(table) == len(parquet) == 2 * 2 * 20
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
    expected = parquet[list(table.columns)]
    pd.testing.assert_frame_equal(
        table, expected, check_dtype=False, check_index_type=False, check_exact=True
    )
    assert {p.name for p in out.glob("edge_diagnostics.*")} == {
        "edge_diagnostics.parquet",
        f"edge_diagnostics.{edge_csv}",
    }


def test_the_summarize_stage_writes_no_csv_when_off_and_a_diagram_per_entry_and_window(tmp_path):
    out = run_summarize(tmp_path, "none")
    assert {p.name for p in out.glob("edge_diagnostics.*")} == {"edge_diagnostics.parquet"}
    written = {(p.parent.name, p.stem) for p in (out / "reliability").glob("*/*.png")}
    assert written == {(entry, window) for entry in ENTRIES for window in WINDOWS}
    for path in (out / "reliability").glob("*/*.png"):
        assert Image.open(path).format == "PNG"


def test_summarize_params_refuse_a_csv_kind_it_cannot_write(tmp_path):
    (tmp_path / "params.yaml").write_text("summarize:\n  edge_diagnostics_csv: xlsx\n")
    with pytest.raises(ParamsError) as error:
        io.load_params("summarize", summarize.SummarizeParams, tmp_path / "params.yaml")
    assert str(error.value) == (
        f"{tmp_path / 'params.yaml'}: summarize.edge_diagnostics_csv must be a str among "
        "['none', 'csv', 'csv.gz']; got 'xlsx'."
    )
