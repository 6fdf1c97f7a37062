"""The steps' files lie flat in each entry's folder, one per group and artifact
(``<group>.<name>``): what the writers leave, the readers read back, and ``layout.entry_files``
finds by entry, window and group."""

import re

import numpy as np
import pandas as pd
import pytest

from tmaxedge.core import io
from tmaxedge.core.errors import ModelFileError
from tmaxedge.modeling.logistic import LinearFit, Preprocessor
from tmaxedge.modeling.tuning import TuneResult
from tmaxedge.walkforward import artifacts, layout
from tmaxedge.walkforward.calibrate import CalibratedGroup
from tmaxedge.walkforward.evaluate import EvaluatedGroup
from tmaxedge.walkforward.layout import EntryFile


def study(coef: list[float] | None) -> TuneResult:
    """A group's study that found a model with these coefficients, or none (None)."""
    if coef is None:
        return TuneResult("single_class", {"status": "single_class"}, None, None, pd.DataFrame())
    n = len(coef)
    preprocessor = Preprocessor([f"x{i}" for i in range(n)], np.zeros(n), np.zeros(n), np.ones(n))
    fit = LinearFit(np.asarray(coef, float), 0.1)
    trials = pd.DataFrame({"number": [0, 1], "value": [0.52, 0.5]})
    return TuneResult("ok", {"status": "ok", "C_fit": 1.0}, fit, preprocessor, trials)


def write_window(models, window: str, entry: str) -> dict:
    """One window's three steps of ``entry``, each reading what the one before wrote: a group
    with a model (chi_between) and one without (nyc_less)."""
    tune, calibrate, evaluate = (
        layout.step_folder(models, window, step) / entry for step in layout.STEPS
    )
    artifacts.write_tune_step(tune, {"chi_between": study([1.0, 2.0]), "nyc_less": study(None)})
    tuned = artifacts.read_tune_step(tune)
    calibrated = {
        name: CalibratedGroup(card, None, {"method": "none"}) for name, card in tuned.cards.items()
    }
    artifacts.write_calibrate_step(calibrate, calibrated, tuned.best_params)
    cards = artifacts.read_calibrate_step(calibrate)
    evaluated = {
        name: EvaluatedGroup(pd.DataFrame({"p_model": [0.25]}), {"scores": {"brier": 0.1}})
        for name in cards
    }
    artifacts.write_evaluate_step(evaluate, evaluated)
    return {"tuned": tuned, "cards": cards}


def test_the_steps_files_lie_flat_and_read_back(tmp_path):
    read = write_window(tmp_path, "2024-06-30", "ridge")
    assert read["tuned"].best_params == {
        "chi_between": {"status": "ok", "C_fit": 1.0},
        "nyc_less": {"status": "single_class"},
    }
    assert read["tuned"].cards["nyc_less"] is None
    assert read["cards"]["nyc_less"] is None
    assert read["cards"]["chi_between"].to_dict() == read["tuned"].cards["chi_between"].to_dict()
    np.testing.assert_array_equal(read["cards"]["chi_between"].linear.coef, [1.0, 2.0])

    def listing(step):
        folder = layout.step_folder(tmp_path, "2024-06-30", step) / "ridge"
        assert all(path.is_file() for path in folder.iterdir()), "no folder per group"
        return sorted(path.name for path in folder.iterdir())

    assert listing("tune") == [
        "chi_between.best_params.json",
        "chi_between.fit.json",
        "chi_between.trials.csv",
        "nyc_less.best_params.json",
    ]
    assert listing("calibrate") == [
        "chi_between.calibration_fit.json",
        "chi_between.model.json",
        "nyc_less.calibration_fit.json",
    ]
    assert listing("evaluate") == [
        "chi_between.calibration.json",
        "chi_between.preds_test.csv",
        "chi_between.preds_test.parquet",
        "nyc_less.calibration.json",
        "nyc_less.preds_test.csv",
        "nyc_less.preds_test.parquet",
        "scores.json",
    ]
    calibrate = layout.step_folder(tmp_path, "2024-06-30", "calibrate") / "ridge"
    no_model = io.read_json(calibrate / "nyc_less.calibration_fit.json")
    assert no_model["reason"] == "no model: single_class"


def test_entry_files_finds_each_groups_file_by_entry_window_and_group(tmp_path):
    for window in ["2024-07-07", "2024-06-30"]:
        for entry in ["ridge", "elasticnet"]:
            write_window(tmp_path, window, entry)
    found = layout.entry_files(tmp_path, "evaluate", "preds_test.parquet")
    expected = [
        EntryFile(entry, window, group, tmp_path / window / "evaluate" / entry / file)
        for entry in ["elasticnet", "ridge"]
        for window in ["2024-06-30", "2024-07-07"]
        for group in ["chi_between", "nyc_less"]
        for file in [f"{group}.preds_test.parquet"]
    ]
    assert found == expected
    assert [f.group for f in layout.entry_files(tmp_path, "calibrate", "model.json")] == [
        "chi_between"
    ] * 4
    # the entry's scores.json is no group's file, and calibration_fit.json is not fit.json
    assert layout.entry_files(tmp_path, "evaluate", "scores.json") == []
    assert layout.entry_files(tmp_path, "calibrate", "fit.json") == []
    assert layout.group_of(tmp_path / "scores.json", "json") is None


def test_a_windows_records_carry_what_summarize_and_gate_read(tmp_path):
    """One models.json and one predictions.parquet per window (data/by_window) hold what the
    stages after the walk-forward read of every group's files."""
    models, by_window = tmp_path / "models", tmp_path / "by_window"
    for window in ["2024-07-07", "2024-06-30"]:
        for entry in ["ridge", "elasticnet"]:
            write_window(models, window, entry)
        steps = {step: layout.step_folder(models, window, step) for step in layout.STEPS}
        entries = ["ridge", "elasticnet"]  # params order, not sorted
        records = artifacts.window_models(steps["tune"], steps["calibrate"], entries)
        io.write_json_atomic(records, by_window / f"{window}.models.json")
        predictions = artifacts.window_predictions(steps["evaluate"], entries)
        assert len(predictions) == 4  # two entries × two groups, one row each
        io.write_parquet_atomic(predictions, by_window / f"{window}.predictions.parquet")
    assert list(layout.by_window_files(by_window, "models.json")) == ["2024-06-30", "2024-07-07"]
    found = layout.group_records(by_window)
    assert [(r.entry, r.window, r.group) for r in found] == [
        (entry, window, group)
        for entry in ["elasticnet", "ridge"]
        for window in ["2024-06-30", "2024-07-07"]
        for group in ["chi_between", "nyc_less"]
    ]
    fitted, unfitted = found[0].content, found[1].content
    assert fitted["coef"] == [1.0, 2.0] and unfitted["coef"] is None
    assert fitted["n_fits_not_converged"] == 0
    assert fitted["best_params"] == {"status": "ok", "C_fit": 1.0}
    assert unfitted["calibration_fit"]["reason"] == "no model: single_class"


def test_a_broken_model_file_stops_the_windows_records_naming_it(tmp_path):
    write_window(tmp_path, "2024-06-30", "ridge")
    steps = {step: layout.step_folder(tmp_path, "2024-06-30", step) for step in layout.STEPS}
    path = steps["calibrate"] / "ridge" / "chi_between.model.json"
    broken = io.read_json(path)
    broken["coef"] = [3.0]  # one coefficient for two columns
    io.write_json_atomic(broken, path)
    with pytest.raises(ModelFileError, match=re.escape(str(path))):
        artifacts.window_models(steps["tune"], steps["calibrate"], ["ridge"])
