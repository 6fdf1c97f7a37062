"""One window's tune → calibrate → evaluate on a tiny simulated world."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from windows_support import RIDGE, SEQUENTIAL, window_rows

from tmaxedge.cli import main as cli
from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams, pool_probability
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import artifacts
from tmaxedge.walkforward.calibrate import calibrate_window
from tmaxedge.walkforward.compute import ComputeParams, largest_first, stream_jobs
from tmaxedge.walkforward.evaluate import PREDICTION_COLUMNS, evaluate_window
from tmaxedge.walkforward.groups import design_matrix, groups_of, parts_of
from tmaxedge.walkforward.run import StepParams, run_window
from tmaxedge.walkforward.tune import tune_window, uncalibrated_card

ELASTICNET = ModelParams("rich_climate", n_trials=4, l1_ratio=None, n_splits=2)


def test_tune_window_gives_every_group_a_result_and_reports_single_class(world):
    folder, _ = world
    _, rows = window_rows(folder)
    results = tune_window(rows.fit, "ridge", RIDGE, SEQUENTIAL)
    assert set(results) == {
        f"{c}_{s}" for c in ["chi", "nyc"] for s in ["between", "greater", "less"]
    }
    for name, result in results.items():
        part = rows.fit[(rows.fit["city"] + "_" + rows.fit["strike_type"]) == name]
        if part["y"].nunique() < 2:
            assert result.status == "single_class" and result.fit is None
        else:
            assert result.status == "ok" and result.best_params["n_trials"] == 4


def test_nyc_model_uses_no_weather_columns(world):
    folder, _ = world
    _, rows = window_rows(folder)
    results = tune_window(rows.fit, "elasticnet", ELASTICNET, SEQUENTIAL)
    nyc = results["nyc_between"]
    chi = results["chi_between"]
    assert (
        "temp_now" not in nyc.preprocessor.columns and "running_max" not in nyc.preprocessor.columns
    )
    assert "temp_now" in chi.preprocessor.columns and "running_max" in chi.preprocessor.columns


def test_event_features_enter_a_model_only_when_asked_and_only_where_they_have_data(world):
    from tmaxedge.features.event_features import EVENT_COLUMNS

    folder, _ = world
    _, rows = window_rows(folder)
    with_event = dataclasses.replace(ELASTICNET, extra_features=["event"])
    results = tune_window(rows.fit, "elasticnet", with_event, SEQUENTIAL)
    chi, nyc = (
        results["chi_between"].preprocessor.columns,
        results["nyc_between"].preprocessor.columns,
    )
    assert set(EVENT_COLUMNS) <= set(chi)
    assert set(EVENT_COLUMNS) - set(nyc) == {"running_max_z", "temp_now_z"}  # NYC has no weather
    plain = tune_window(rows.fit, "elasticnet", ELASTICNET, SEQUENTIAL)
    assert not set(EVENT_COLUMNS) & set(plain["chi_between"].preprocessor.columns)


def window_predictions(rows, compute):
    """Tune on ``compute``, then calibrate and evaluate: the test week's predictions."""
    steps = StepParams(CalibrateParams(), PoolParams(), CoherenceParams(), compute, None)
    run = run_window(rows, "ridge", RIDGE, steps, "w")
    return run.tuned, run.predictions


def test_tune_is_deterministic_and_backend_independent(world, tmp_path):
    from distributed import LocalCluster

    folder, _ = world
    _, rows = window_rows(folder)
    first, predictions = window_predictions(rows, SEQUENTIAL)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        backends = {
            "loky": ComputeParams(n_jobs=2),
            "dask, local cluster": ComputeParams(n_jobs=2, backend="dask"),
            "dask, scheduler address": ComputeParams(
                backend="dask", scheduler_address=cluster.scheduler_address
            ),
        }
        runs = {backend: window_predictions(rows, compute) for backend, compute in backends.items()}
    io.write_parquet_atomic(predictions, tmp_path / "sequential.parquet")
    for backend, (tuned, other) in runs.items():
        for name in first:
            assert first[name].best_params == tuned[name].best_params, backend
            if first[name].fit is not None:
                np.testing.assert_array_equal(first[name].fit.coef, tuned[name].fit.coef)
        io.write_parquet_atomic(other, tmp_path / "other.parquet")
        same = (tmp_path / "other.parquet").read_bytes() == (
            tmp_path / "sequential.parquet"
        ).read_bytes()
        assert same, f"{backend}: predictions differ from the sequential run's"
    assert predictions["p_model"].notna().any()


def test_local_cluster_workers_run_without_dasks_malloc_trim_setting():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which made a window's
    tune half as fast again in a worker; the project's local cluster leaves glibc's default,
    and keeps Dask's one-thread settings for BLAS and OpenMP."""
    import os

    from distributed import Client, LocalCluster

    from tmaxedge.walkforward.compute import local_cluster

    def settings(cluster) -> list:
        with Client(cluster) as client:
            found = client.run(
                lambda: (
                    os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                    os.environ.get("OMP_NUM_THREADS"),
                )
            )
        return list(found.values())

    with local_cluster(1) as cluster:
        assert settings(cluster) == [(None, "1")]
    # a default Dask cluster started earlier in the process leaves its setting in our environment
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster:
        assert settings(cluster) == [("65536", "1")]
    with local_cluster(1) as cluster:
        assert settings(cluster) == [(None, "1")]


def test_compute_params_name_the_backends_and_where_an_address_applies():
    # the backends in their fixed order (BACKENDS), so the message is the same on every run
    with pytest.raises(
        ParamsError,
        match=r"backend must be a str among \['loky', 'dask', 'sequential'\]; got 'ray'",
    ):
        ComputeParams(backend="ray")
    with pytest.raises(
        ParamsError, match="scheduler_address must be null unless backend is 'dask'"
    ):
        ComputeParams(backend="loky", scheduler_address="tcp://10.0.0.1:8786")


def test_window_steps_predict_only_from_the_past_and_score_the_test_week(world):
    folder, tables = world
    window, rows = window_rows(folder)
    assert rows.fit["event_date"].max() < window.fit_end <= rows.calibrate["event_date"].min()
    assert rows.calibrate["event_date"].max() < window.test_start <= rows.test["event_date"].min()
    results = tune_window(rows.fit, "ridge", RIDGE, SEQUENTIAL)
    part = groups_of(rows.test)["chi_between"]
    card, _, info = calibrate_window(
        {"chi_between": groups_of(rows.calibrate)["chi_between"]},
        {"chi_between": uncalibrated_card(results["chi_between"])},
        CalibrateParams(),
        PoolParams(enabled=False),
    )["chi_between"]
    assert info["method"] == "sigmoid"  # a few market-days: far below isotonic_min
    predictions, report = evaluate_window(
        {"chi_between": part}, {"chi_between": card}, tables["oracle"], "ridge", window.key
    )["chi_between"]
    assert list(predictions.columns[:11]) == PREDICTION_COLUMNS
    assert predictions["p_model"].between(0.001, 0.999).all()
    assert predictions["p_oracle"].notna().all()
    scores = report["scores"]
    assert scores["coverage"] == 1.0 and scores["n_rows"] == len(part)
    assert len(report["reliability"]["n"]) == 15 and sum(report["reliability"]["n"]) == len(part)


def test_evaluate_group_without_a_model_predicts_nothing(world):
    folder, _ = world
    window, rows = window_rows(folder)
    part = groups_of(rows.test)["chi_less"]
    predictions, report = evaluate_window(
        {"chi_less": part}, {"chi_less": None}, None, "ridge", window.key
    )["chi_less"]
    assert predictions["p_model"].isna().all() and predictions["p_oracle"].isna().all()
    assert report["scores"]["coverage"] == 0.0


@pytest.mark.parametrize("method", ["auto", "none"])  # a model.joblib with or without calibrator
def test_artifacts_round_trip_through_json(world, tmp_path, method):
    folder, _ = world
    _, rows = window_rows(folder)
    result = tune_window(rows.fit, "ridge", RIDGE, SEQUENTIAL)["chi_between"]
    artifacts.write_tuned(tmp_path / "tune", "chi_between", result)
    card = artifacts.read_tuned(tmp_path / "tune", "chi_between")
    calibrated, fitted, info = calibrate_window(
        {"chi_between": groups_of(rows.calibrate)["chi_between"]},
        {"chi_between": card},
        CalibrateParams(method=method),
        PoolParams(enabled=False),
    )["chi_between"]
    artifacts.write_calibrated(tmp_path / "calibrate", "chi_between", calibrated, fitted, info)
    loaded = artifacts.read_calibrated(tmp_path / "calibrate", "chi_between")
    test = groups_of(rows.test)["chi_between"]
    x = design_matrix(test, loaded.preprocessor.columns)
    import joblib

    fitted_model = joblib.load(tmp_path / "calibrate" / "chi_between.model.joblib")
    from_pickle = fitted_model.predict_proba(x)[:, 1]
    np.testing.assert_allclose(loaded.predict(x), np.clip(from_pickle, 0.001, 0.999), atol=1e-12)
    assert sorted(p.name for p in (tmp_path / "tune").iterdir()) == [
        "chi_between.best_params.json",
        "chi_between.fit.json",
        "chi_between.trials.csv",
    ]


def run_walkforward_command(world, tmp_path, min_class_days=1, city="Chicago"):
    folder, tables = world
    oracle = tmp_path / "oracle.parquet"
    tables["oracle"].to_parquet(oracle, index=False)
    params = tmp_path / "params.yaml"
    params.write_text(
        "cities: {chi: {series: KXHIGHCHI, tz: America/Chicago, weather_features: true},"
        " nyc: {series: KXHIGHNY, tz: America/New_York, weather_features: false}}\n"
        "windows: {train_days: 10, test_days: 3, step_days: 3, calibration_fraction: 0.2,"
        " embargo_days: 0, first_test_offset_days: 10}\n"
        "tune: {ridge: {feature_set: ridge_safe, n_trials: 40, l1_ratio: 0.0, n_splits: 2,"
        f" min_class_days: {min_class_days}}}}}\n"
        "calibrate: {method: auto, isotonic_min: 1000, clip: 0.001}\n"
        "pool: {enabled: true, scope: strike_type, w_grid_step: 0.05}\n"
        "gate: {brier_improvement: 0.02, coverage: 0.95,"
        " beta_max: {between: 10, greater: 10, less: 10},"
        " one_sided_max: 0.99, enforce: true}\n"
    )
    result = CliRunner().invoke(
        cli.main,
        [
            "walkforward",
            "--city",
            city,
            "--bracket",
            "between",
            "--model",
            "ridge",
            "--start",  # the first training day: windows test 05-11 .. 05-13 and 05-14 .. 05-16
            "2024-05-01",
            "--end",
            "2024-05-17",
            "--trials",
            "3",
            "--features",
            str(folder),
            "--oracle",
            str(oracle),
            "--out",
            str(tmp_path / "runs"),
            "--params",
            str(params),
        ],
    )
    return tmp_path / "runs", result


def test_walkforward_command_refuses_a_city_params_yaml_lacks(world, tmp_path):
    _, result = run_walkforward_command(world, tmp_path, city="Boston")
    assert result.exit_code == 2
    assert "--city 'Boston': not a city of params.yaml cities; cities: chi (Chicago), nyc" in (
        result.output
    )
    assert not (tmp_path / "runs").exists()


def test_walkforward_command_writes_the_stage_artifacts(world, tmp_path):
    out, result = run_walkforward_command(world, tmp_path)  # the city by its name
    assert result.exit_code == 0, result.output
    output = result.output
    for key in ["2024-05-11", "2024-05-14"]:
        best = io.read_json(out / key / "tune" / "ridge" / "chi_between.best_params.json")
        assert best["n_trials"] == 3
        assert (out / key / "calibrate" / "ridge" / "chi_between.model.json").exists()
        assert (out / key / "evaluate" / "ridge" / "chi_between.preds_test.csv").exists()
    summary = io.read_json(out / "ridge" / "walkforward_summary_chi_between.json")
    assert summary["n_windows"] == 2 and "gap_closed" in summary
    assert "2 windows (2 with a model), Brier 0." in output
    # which windows ran, printed and kept: the first trains from --start
    assert "window 2024-05-11: train [2024-05-01, 2024-05-11), test [2024-05-11, 2024-05-14)" in (
        output
    )
    ran = summary["run"]
    assert (ran["first_training_day"], ran["end"], ran["config"]) == (
        "2024-05-01",
        "2024-05-17",
        None,
    )
    assert [w["key"] for w in ran["windows"]] == ["2024-05-11", "2024-05-14"]
    assert ran["tune"]["n_trials"] == 3


def test_walkforward_command_says_why_there_is_no_forecast(world, tmp_path):
    out, result = run_walkforward_command(world, tmp_path, min_class_days=99, city="KXHIGHCHI")
    assert result.exit_code == 0, result.output
    output = result.output
    assert "no forecast to score: no window has a model (too_few_class_days x 2)" in output
    assert "nan" not in output
    best = io.read_json(out / "2024-05-11" / "tune" / "ridge" / "chi_between.best_params.json")
    assert best["status"] == "too_few_class_days"


def test_atomic_directory_keeps_the_old_output_when_a_step_dies(tmp_path):
    target = tmp_path / "out"
    with io.atomic_directory(target) as tmp:
        io.write_json_atomic({"v": 1}, tmp / "a.json")
    with pytest.raises(RuntimeError):
        with io.atomic_directory(target) as tmp:
            io.write_json_atomic({"v": 2}, tmp / "a.json")
            raise RuntimeError("killed mid-stage")
    assert io.read_json(target / "a.json") == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def calibrated_window(rows, pool):
    results = tune_window(rows.fit, "ridge", RIDGE, SEQUENTIAL)
    cards = {name: uncalibrated_card(result) for name, result in results.items()}
    return calibrate_window(
        parts_of(rows.calibrate, cards), cards, CalibrateParams(method="none"), pool
    )


def test_pool_weight_is_shared_per_strike_type_or_fitted_per_group_and_recorded(world, tmp_path):
    folder, _ = world
    _, rows = window_rows(folder)
    shared = calibrated_window(rows, PoolParams(scope="strike_type"))
    own = calibrated_window(rows, PoolParams(scope="group"))
    fitted = [name for name, (card, _, _) in shared.items() if card is not None]
    assert "chi_between" in fitted and "nyc_between" in fitted
    assert shared["chi_between"][0].pool_weight == shared["nyc_between"][0].pool_weight
    assert shared["chi_between"][2]["pool"]["scope"] == "between"
    assert own["chi_between"][2]["pool"]["scope"] == "chi_between"
    for name in fitted:
        assert own[name][0].pool_weight is None or 0 <= own[name][0].pool_weight <= 1
    card, model, info = shared["chi_between"]
    artifacts.write_calibrated(tmp_path, "chi_between", card, model, info)
    assert artifacts.read_calibrated(tmp_path, "chi_between").pool_weight == card.pool_weight
    fit = io.read_json(tmp_path / "chi_between.calibration_fit.json")
    assert fit["pool"]["w"] == card.pool_weight
    unpooled = calibrated_window(rows, PoolParams(enabled=False))
    assert all(card is None or card.pool_weight is None for card, _, _ in unpooled.values())


def test_evaluate_window_pools_then_makes_each_event_coherent(world):
    folder, _ = world
    window, rows = window_rows(folder)
    cards = {name: result[0] for name, result in calibrated_window(rows, PoolParams()).items()}
    parts = {name: part for name, part in groups_of(rows.test).items() if name.startswith("chi")}
    # a tail of this tiny world may have one class and no model: every chi market gets one
    cards = {name: cards["chi_between"] for name in parts}
    results = evaluate_window(
        parts, cards, None, "ridge", window.key, CoherenceParams("logit_shift")
    )
    merged = pd.concat([predictions for predictions, _ in results.values()], ignore_index=True)
    fitted = merged
    sums = fitted.groupby(["event_ticker", "timestamp"])["p_model"].agg(["sum", "size"])
    complete = sums[sums["size"] == fitted.groupby("event_ticker")["market_ticker"].nunique().max()]
    assert len(complete) > 0
    np.testing.assert_allclose(complete["sum"], 1.0, atol=1e-9)
    chi = results["chi_between"][0]
    card = cards["chi_between"]
    p_market = chi["p_market"].to_numpy(float)
    expected = pool_probability(chi["p_unpooled"].to_numpy(float), p_market, card.pool_weight)
    np.testing.assert_allclose(chi["p_incoherent"], expected)
    assert not np.allclose(chi["p_incoherent"], chi["p_model"])


def test_stream_jobs_yields_results_in_job_order_on_every_backend():
    import operator

    jobs = [(i, 10 * i) for i in range(5)]
    expected = [11 * i for i in range(5)]
    parallel = ComputeParams(n_jobs=2, backend="loky")
    assert list(stream_jobs(operator.add, jobs, parallel)) == expected
    assert list(stream_jobs(operator.add, jobs, SEQUENTIAL)) == expected
    assert largest_first([1, 9, 3, 9, 5]) == [1, 3, 4, 2, 0]  # ties keep their order


def test_an_entry_not_held_to_beta_max_is_tuned_and_fitted_without_the_limit(world):
    folder, _ = world
    _, rows = window_rows(folder)
    tight = {"between": 0.05, "greater": 0.05, "less": 0.05}
    held = tune_window(rows.fit, "ridge", RIDGE, SEQUENTIAL, tight)["chi_between"].best_params
    free_params = dataclasses.replace(RIDGE, hold_to_beta_max=False)
    free = tune_window(rows.fit, "ridge", free_params, SEQUENTIAL, tight)["chi_between"].best_params
    assert held["beta_max"] == 0.05 and (held["beta_norm"] <= 0.05 or not held["beta_feasible"])
    assert free["beta_max"] is None and free["beta_norm"] > 0.05
