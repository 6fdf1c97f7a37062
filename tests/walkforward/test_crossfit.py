"""Cross-fitted calibration: which days each model sees, what is served, and that holdout is the
brief's calibration unchanged."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from windows_support import RIDGE, SEQUENTIAL, TMAX_DIST, WINDOW_PARAMS, assert_whole_events
from worlds import simulated_tables, write_feature_folder

from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.params import step_part
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward import artifacts, crossfit, windows
from tmaxedge.walkforward.calibrate import calibrate_window
from tmaxedge.walkforward.groups import design_matrix, groups_of, with_nowcast
from tmaxedge.walkforward.tune import tune_window, uncalibrated_card

CROSSFIT = CalibrateParams(method="sigmoid", fit_on="crossfit", folds=3)
POOLED_RIDGE = dataclasses.replace(RIDGE, scope="pooled", type="ridge", extra_features=["nowcast"])


@pytest.fixture(scope="module")
def tuned(three_cities):
    results = tune_window(three_cities.fit, "ridge_pooled", POOLED_RIDGE, SEQUENTIAL)
    cards = {name: uncalibrated_card(result) for name, result in results.items()}
    return cards, {name: result.best_params for name, result in results.items()}


def dates_of(rows: pd.DataFrame) -> set[str]:
    return set(rows["event_date"].astype(str))


def test_day_blocks_are_consecutive_disjoint_and_cover_every_day():
    dates = np.array([f"2024-05-{d:02d}" for d in [3, 1, 2, 7, 5, 4, 6, 1, 3]])
    blocks = crossfit.day_blocks(dates, 3)
    assert [list(b) for b in blocks] == [
        ["2024-05-01", "2024-05-02", "2024-05-03"],
        ["2024-05-04", "2024-05-05"],
        ["2024-05-06", "2024-05-07"],
    ]
    assert len(crossfit.day_blocks(dates[:2], 5)) == 2  # never an empty block


def test_each_fold_model_is_fitted_without_its_block_and_the_served_one_on_every_day(
    three_cities, tuned, monkeypatch
):
    cards, best = tuned
    fitted_on: list[set[str]] = []
    refit = crossfit.refit

    def recording_refit(rows, card, best_params, beta_max):
        fitted_on.append(dates_of(rows))
        return refit(rows, card, best_params, beta_max)

    monkeypatch.setattr(crossfit, "refit", recording_refit)
    results = crossfit.calibrate_tuned(
        three_cities.fit,
        three_cities.calibrate,
        cards,
        best,
        CROSSFIT,
        PoolParams(),
        {"between": 10.0, "greater": 10.0, "less": 10.0},
    )
    training = dates_of(three_cities.fit) | dates_of(three_cities.calibrate)
    blocks = [set(b) for b in crossfit.day_blocks(np.array(sorted(training)), CROSSFIT.folds)]
    units = crossfit.units_of(cards)  # one pooled per strike type and New York's own (tuned ones)
    assert units["pooled_between"] == ["aus_between", "chi_between"] and units["nyc_between"] == [
        "nyc_between"
    ]
    assert len(fitted_on) == len(units) * (len(blocks) + 1)
    for k, block in enumerate(blocks):
        for seen in fitted_on[k * len(units) : (k + 1) * len(units)]:
            assert seen == training - block
    assert all(seen == training for seen in fitted_on[-len(units) :])
    info = results["aus_between"][2]
    assert info["fit_on"] == "crossfit" and len(info["folds"]) == CROSSFIT.folds
    assert info["n_rows"] == len(
        groups_of(pd.concat([three_cities.fit, three_cities.calibrate]))["aus_between"]
    )
    assert info["pool"]["w"] is not None


def test_the_served_model_is_the_refit_on_every_training_day_within_the_norm_limit(
    three_cities, tuned
):
    cards, best = tuned
    limits = {"between": 10.0, "greater": 10.0, "less": 10.0}
    results = crossfit.calibrate_tuned(
        three_cities.fit, three_cities.calibrate, cards, best, CROSSFIT, PoolParams(), limits
    )
    training = pd.concat([three_cities.fit, three_cities.calibrate], ignore_index=True)
    rows = training[
        (training["strike_type"] == "between") & (training["city"] != "nyc")
    ].reset_index(drop=True)
    expected = crossfit.refit(rows, cards["aus_between"], best["aus_between"], 10.0)
    served = results["chi_between"][0]
    np.testing.assert_allclose(
        served.linear.coef, expected.linear.coef, atol=1e-9
    )  # rows in another order
    assert not np.allclose(
        served.linear.coef, cards["chi_between"].linear.coef
    )  # not the tuned fit
    assert served.nowcast != cards["chi_between"].nowcast  # tables refitted on 90% more days too
    assert all(
        np.linalg.norm(card.linear.coef) <= 10.0 + 1e-9 for card, _, _ in results.values() if card
    )


def test_a_refit_tighter_than_its_norm_limit_is_shrunk(three_cities, tuned):
    cards, best = tuned
    rows = three_cities.fit[three_cities.fit["strike_type"] == "greater"].reset_index(drop=True)
    free = crossfit.refit(rows, cards["aus_greater"], best["aus_greater"], None)
    limit = 0.5 * float(np.linalg.norm(free.linear.coef))
    limited = crossfit.refit(rows, cards["aus_greater"], best["aus_greater"], limit)
    assert np.linalg.norm(limited.linear.coef) <= limit < np.linalg.norm(free.linear.coef)


def test_holdout_is_the_calibration_split_around_the_tuned_model(three_cities, tuned):
    cards, best = tuned
    params = CalibrateParams(method="sigmoid")
    via_fit_on = crossfit.calibrate_tuned(
        three_cities.fit, three_cities.calibrate, cards, best, params, PoolParams()
    )
    direct = calibrate_window(groups_of(three_cities.calibrate), cards, params, PoolParams())
    assert sum(card is not None for card, _, _ in direct.values()) >= 4
    for name, (card, _, info) in direct.items():
        assert via_fit_on[name][2] == info
        if card is not None:
            assert via_fit_on[name][0].to_dict() == card.to_dict()
            np.testing.assert_array_equal(card.linear.coef, cards[name].linear.coef)


def test_a_crossfitted_model_json_predicts_like_its_joblib(three_cities, tuned, tmp_path):
    cards, best = tuned
    results = crossfit.calibrate_tuned(
        three_cities.fit, three_cities.calibrate, cards, best, CROSSFIT, PoolParams(enabled=False)
    )
    card, fitted, info = results["chi_greater"]
    assert info["method"] == "sigmoid"
    artifacts.write_calibrated(tmp_path, "chi_greater", card, fitted, info)
    loaded = artifacts.read_calibrated(tmp_path, "chi_greater")
    test = groups_of(three_cities.test)["chi_greater"]
    x = design_matrix(with_nowcast(test, loaded), loaded.preprocessor.columns)
    from_pickle = joblib.load(tmp_path / "chi_greater.model.joblib").predict_proba(x)[:, 1]
    np.testing.assert_allclose(loaded.predict(x), np.clip(from_pickle, 0.001, 0.999), atol=1e-12)


def test_a_crossfitted_tmax_dist_stays_one_coherent_distribution(three_cities):
    pooled = dataclasses.replace(TMAX_DIST, scope="pooled", type="tmax_dist")
    results = tune_window(three_cities.fit, "tmax_dist_pooled", pooled, SEQUENTIAL)
    cards = {name: uncalibrated_card(result) for name, result in results.items()}
    best = {name: result.best_params for name, result in results.items()}
    calibrated = crossfit.calibrate_tuned(
        three_cities.fit, three_cities.calibrate, cards, best, CROSSFIT, PoolParams(enabled=False)
    )
    final = {name: card for name, (card, _, _) in calibrated.items()}
    assert (
        final["aus_less"].to_dict() == final["chi_greater"].to_dict() != final["nyc_less"].to_dict()
    )
    assert_whole_events(three_cities.test, final)


def test_the_calibrate_stage_cross_fits_what_the_tune_stage_wrote(tmp_path):
    write_feature_folder(
        simulated_tables(days=16, cities=("aus", "chi", "nyc")), tmp_path / "features"
    )
    window = windows.make_window("2024-05-11", WINDOW_PARAMS)
    rows = windows.read_window_rows(tmp_path / "features", window)
    fit, calibration = rows.fit, rows.calibrate
    tuned = tune_window(
        fit,
        "ridge_pooled",
        POOLED_RIDGE,
        SEQUENTIAL,
        {"between": 10.0, "greater": 10.0, "less": 10.0},
    )
    artifacts.write_tune_step(tmp_path / "tune" / "ridge_pooled", tuned)
    io.write_json_atomic({"window": window.as_dict()}, tmp_path / "manifest.json")
    io.write_json_atomic({"modules": {}}, tmp_path / "engine.json")
    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["calibrate"].update(fit_on="crossfit", folds=3, method="sigmoid")
    params["models"] = ["ridge_pooled"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))  # compute
    part = step_part(params, "calibrate", Path("params.yaml"))
    (tmp_path / "calibrate.yaml").write_text(yaml.safe_dump(part))
    stage = Path(__file__).parents[2] / "stages" / "calibrate.py"
    arguments = [
        *["manifest.json", "features", "engine.json", "calibrate.yaml", "tune", "out"],
        "models.json",
    ]
    subprocess.run(
        [sys.executable, str(stage), *arguments],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    cards = {name: artifacts.read_tuned(tmp_path / "tune" / "ridge_pooled", name) for name in tuned}
    best = {name: result.best_params for name, result in tuned.items()}
    expected = crossfit.calibrate_tuned(
        fit,
        calibration,
        cards,
        best,
        CalibrateParams(**params["calibrate"]),
        PoolParams(**params["pool"]),
        params["gate"]["beta_max"],
    )
    written = json.loads(
        (tmp_path / "out" / "ridge_pooled" / "chi_between.calibration_fit.json").read_text()
    )
    assert (
        written["fit_on"] == "crossfit"
        and written["method"] == "sigmoid"
        and len(written["folds"]) == 3
    )
    served = artifacts.read_calibrated(tmp_path / "out" / "ridge_pooled", "chi_between")
    np.testing.assert_allclose(
        served.linear.coef, expected["chi_between"][0].linear.coef, rtol=1e-9
    )
    assert served.pool_weight == expected["chi_between"][0].pool_weight


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"fit_on": "last_days"},
            r"fit_on must be a str among \['holdout', 'crossfit'\]; got 'last_days'",
        ),
        ({"folds": 1}, "folds must be an int >= 2; got 1"),
    ],
)
def test_bad_calibration_params_are_refused(change, message):
    with pytest.raises(ParamsError, match=message):
        CalibrateParams(**change)
