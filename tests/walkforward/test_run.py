"""``run_window`` (one window in memory) against the stages' path (the same three steps with
their files between them): the same predictions, to the bit."""

import dataclasses
import json

import pandas as pd
import pytest
from windows_support import RIDGE, SEQUENTIAL, TMAX_DIST, window_rows

from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward import artifacts
from tmaxedge.walkforward.evaluate import all_predictions
from tmaxedge.walkforward.run import StepParams, calibrate_step, evaluate_step, run_window
from tmaxedge.walkforward.store import folder_digest
from tmaxedge.walkforward.tune import tune_entries, tune_window

BETA_MAX = {"between": 10.0, "greater": 10.0, "less": 10.0}
STEPS = StepParams(
    CalibrateParams(method="sigmoid"),
    PoolParams(),
    CoherenceParams("logit_shift"),
    SEQUENTIAL,
    BETA_MAX,
)
CASES = {
    "ridge": (RIDGE, STEPS),
    "ridge_crossfit": (
        RIDGE,
        dataclasses.replace(
            STEPS, calibrate=CalibrateParams(method="sigmoid", fit_on="crossfit", folds=3)
        ),
    ),
    "tmax_dist": (TMAX_DIST, STEPS),
}


def stage_path(rows, entry, params, steps, key, oracle, folder):
    """The tune, calibrate and evaluate stages' steps, each reading what the last one wrote."""
    tuned = tune_window(rows.fit, entry, params, steps.compute, steps.beta_max, key)
    artifacts.write_tune_step(folder / "tune", tuned)
    read_back = artifacts.read_tune_step(folder / "tune")
    calibrated = calibrate_step(rows, read_back, steps.calibrate, steps.pool, steps.beta_max)
    artifacts.write_calibrate_step(folder / "calibrate", calibrated, read_back.best_params)
    cards = artifacts.read_calibrate_step(folder / "calibrate")
    return evaluate_step(rows.test, cards, oracle, entry, key, steps.coherence)


@pytest.mark.parametrize("case", list(CASES))
def test_run_window_predicts_what_the_three_stages_predict(world, tmp_path, case):  # noqa: F811
    folder, tables = world
    window, rows = window_rows(folder)
    params, steps = CASES[case]
    entry = "tmax_dist" if case == "tmax_dist" else "ridge"
    oracle = tables["oracle"]
    run = run_window(rows, entry, params, steps, window.key, oracle)
    staged = stage_path(rows, entry, params, steps, window.key, oracle, tmp_path)
    assert list(run.evaluated) == list(staged)
    assert run.predictions["p_model"].notna().any()
    pd.testing.assert_frame_equal(run.predictions, all_predictions(staged), check_exact=True)
    for name, result in staged.items():  # as JSON: empty reliability bins hold NaN
        assert json.dumps(run.evaluated[name].report) == json.dumps(result.report)


POOLED = {
    "ridge_pooled": dataclasses.replace(
        RIDGE, type="ridge", scope="pooled", extra_features=["nowcast"]
    ),
    "tmax_dist_pooled": dataclasses.replace(TMAX_DIST, type="tmax_dist", scope="pooled"),
}


@pytest.mark.parametrize("entry", list(POOLED))
def test_a_pooled_models_files_keep_their_citys_nowcast_and_predict_the_same(
    three_cities,  # noqa: F811
    tmp_path,
    entry,
):
    params, key = POOLED[entry], "2024-05-11"
    run = run_window(three_cities, entry, params, STEPS, key, None)
    staged = stage_path(three_cities, entry, params, STEPS, key, None, tmp_path)
    pd.testing.assert_frame_equal(run.predictions, all_predictions(staged), check_exact=True)
    files = [*(tmp_path / "tune").glob("aus_*.fit.json"), *(tmp_path / "calibrate").glob("chi_*")]
    files = [path for path in files if path.name.endswith((".fit.json", ".model.json"))]
    assert len(files) >= 2
    for path in files:  # the weather cities (aus, chi) share one model, nyc has its own
        assert list(json.loads(path.read_text())["nowcast"]["by_city"]) == [path.name[:3]]


def test_entries_tuned_together_in_parallel_equal_each_tuned_alone(world, tmp_path):  # noqa: F811
    folder, _ = world
    window, rows = window_rows(folder)
    entries = {"ridge": RIDGE, "tmax_dist": TMAX_DIST}
    parallel = dataclasses.replace(SEQUENTIAL, n_jobs=2, backend="loky")
    together = dict(tune_entries(rows.fit, entries, parallel, BETA_MAX, window.key))
    assert list(together) == list(entries)
    for entry, params in entries.items():
        alone = tune_window(rows.fit, entry, params, SEQUENTIAL, BETA_MAX, window.key)
        artifacts.write_tune_step(tmp_path / "together" / entry, together[entry])
        artifacts.write_tune_step(tmp_path / "alone" / entry, alone)
    assert len(list((tmp_path / "together").glob("*/*.fit.json"))) >= 2
    assert folder_digest(tmp_path / "together") == folder_digest(tmp_path / "alone")


def test_a_steps_params_file_gives_its_sections_and_none_for_the_others(tmp_path):
    import yaml

    from tmaxedge.core import io
    from tmaxedge.core.errors import ParamsError
    from tmaxedge.core.params import check_params_file, step_part
    from tmaxedge.walkforward.run import load_step_entries, load_step_params

    full = load_step_params(io.PARAMS_FILE)
    content = check_params_file(io.PARAMS_FILE)
    for step in ("tune", "calibrate", "evaluate"):
        path = tmp_path / f"{step}.yaml"
        path.write_text(yaml.safe_dump(step_part(content, step, io.PARAMS_FILE)))
        part = load_step_params(path, compute=io.PARAMS_FILE)
        assert load_step_entries(path) == content["models"]
        assert part.compute == full.compute
        assert part.calibrate == (full.calibrate if step == "calibrate" else None)
        assert part.pool == (full.pool if step == "calibrate" else None)
        assert part.coherence == (full.coherence if step == "evaluate" else None)
        assert part.beta_max == (full.beta_max if step != "evaluate" else None)
    (tmp_path / "bad.yaml").write_text("models: ridge\n")
    with pytest.raises(ParamsError, match="bad.yaml: models must be a list"):
        load_step_entries(tmp_path / "bad.yaml")
