"""Where and how each walk-forward step writes its per-group files (the brief's names).

Used by the DVC stages and by ``tmaxedge walkforward`` alike, so both leave the same files: each
group's files lie flat in the entry's folder, ``<entry folder>/<group>.<name>``
(``chi_between.model.json``; the rule is ``layout.group_file``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.errors import ModelFileError
from tmaxedge.core.keys import Group
from tmaxedge.modeling.cards import ModelCard
from tmaxedge.modeling.tuning import NOT_CONVERGED, TuneResult
from tmaxedge.walkforward.calibrate import CalibratedGroup
from tmaxedge.walkforward.evaluate import EvaluatedGroup
from tmaxedge.walkforward.layout import group_file, groups_with
from tmaxedge.walkforward.tune import TunedModels, uncalibrated_card


def write_tuned(folder: Path, group: str, result: TuneResult) -> None:
    """The group's best_params.json always; trials.csv and fit.json (the uncalibrated model)
    when tuned."""
    io.write_json_atomic(result.best_params, group_file(folder, group, "best_params.json"))
    card = uncalibrated_card(result)
    if card is not None:
        io.write_csv_atomic(result.trials, group_file(folder, group, "trials.csv"))
        write_card(card, group, group_file(folder, group, "fit.json"))


def read_tuned(folder: Path, group: str) -> ModelCard | None:
    return read_card(group_file(folder, group, "fit.json"))


def write_card(card: ModelCard, group: str, path: Path) -> None:
    """The card as it prices ``group`` (``ModelCard.for_city``: a pooled model's file holds its
    group's city's nowcast tables, not every city's)."""
    io.write_json_atomic(card.for_city(Group.parse(group).city).to_dict(), path)


def read_card(path: Path) -> ModelCard | None:
    """The model card in ``path`` (None when there is no such file), checked against its schema
    (``cards.CardSchema``): a broken file raises ``ModelFileError`` naming it and the field."""
    if not path.exists():
        return None
    try:
        content = io.read_json(path)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: not valid JSON ({error}).") from None
    return ModelCard.from_dict(content, str(path))


def write_calibrated(folder: Path, group: str, card: ModelCard, fitted, info: dict) -> None:
    """The group's model.json (predicts without unpickling), model.joblib (scikit-learn),
    calibration_fit.json."""
    io.write_json_atomic(info, group_file(folder, group, "calibration_fit.json"))
    write_card(card, group, group_file(folder, group, "model.json"))
    if fitted is not None:
        import joblib

        with io.atomic_path(group_file(folder, group, "model.joblib")) as target:
            joblib.dump(fitted, target)


def write_uncalibrated(folder: Path, group: str, reason: str) -> None:
    io.write_json_atomic(
        {"method": "none", "reason": reason}, group_file(folder, group, "calibration_fit.json")
    )


def read_calibrated(folder: Path, group: str) -> ModelCard | None:
    return read_card(group_file(folder, group, "model.json"))


def write_evaluated(folder: Path, group: str, predictions: pd.DataFrame, report: dict) -> None:
    """The group's preds_test.parquet and .csv, and calibration.json (scores, 15-bin
    reliability)."""
    io.write_parquet_atomic(predictions, group_file(folder, group, "preds_test.parquet"))
    io.write_csv_atomic(predictions, group_file(folder, group, "preds_test.csv"))
    io.write_json_atomic(report, group_file(folder, group, "calibration.json"))


def write_tune_step(folder: Path, tuned: dict[str, TuneResult]) -> None:
    """The tune step's files, in the entry's folder: each group's."""
    for name, result in tuned.items():
        write_tuned(folder, name, result)


def read_tune_step(folder: Path) -> TunedModels:
    """What the tune step left: each group's uncalibrated model and its study's best_params
    (every group has a best_params.json)."""
    groups = groups_with(folder, "best_params.json")
    return TunedModels(
        {g: read_tuned(folder, g) for g in groups},
        {g: io.read_json(group_file(folder, g, "best_params.json")) for g in groups},
    )


def write_calibrate_step(
    folder: Path, calibrated: dict[str, CalibratedGroup], best_params: dict[str, dict]
) -> None:
    """The calibrate step's files, in the entry's folder: each group's; a group without a model
    says why (its study's status)."""
    for name, (card, fitted, info) in calibrated.items():
        if card is None:
            write_uncalibrated(folder, name, f"no model: {best_params[name]['status']}")
        else:
            write_calibrated(folder, name, card, fitted, info)


def read_calibrate_step(folder: Path) -> dict[str, ModelCard | None]:
    """What the calibrate step left: each group's calibrated model (None where it has none;
    every group has a calibration_fit.json)."""
    return {g: read_calibrated(folder, g) for g in groups_with(folder, "calibration_fit.json")}


def write_evaluate_step(folder: Path, evaluated: dict[str, EvaluatedGroup]) -> None:
    """The evaluate step's files, in the entry's folder: each group's, and every group's scores
    in one file (scores.json)."""
    for name, (predictions, report) in evaluated.items():
        write_evaluated(folder, name, predictions, report)
    scores = {name: result.report["scores"] for name, result in evaluated.items()}
    io.write_json_atomic(scores, folder / "scores.json")


def window_models(tuned: Path, calibrated: Path, entries: list[str]) -> dict[str, dict]:
    """What the stages after the walk-forward need of one window's models, per entry and group:
    the study's chosen hyperparameters (best_params.json) and its count of fits that stopped at
    the iteration limit, the market-blend weight (calibration_fit.json's ``pool``, when pooled)
    and the calibrated coefficients (model.json's ``coef``; None for a group without a model).
    ``tuned`` and ``calibrated`` are the window's tune and calibrate folders.

    One small file per window instead of every group's files: the summarize and gate stages
    depend on these, so DVC checks each window's thousand files once, not three times."""
    records: dict[str, dict] = {}
    for entry in entries:
        cards = read_calibrate_step(calibrated / entry)
        records[entry] = {
            group: {
                "best_params": best,
                NOT_CONVERGED: int(best.get(NOT_CONVERGED, 0)),
                "calibration_fit": io.read_json(
                    group_file(calibrated / entry, group, "calibration_fit.json")
                ),
                "coef": None if card is None else card.to_dict()["coef"],
            }
            for group, card in cards.items()
            for best in [io.read_json(group_file(tuned / entry, group, "best_params.json"))]
        }
    return records


def window_predictions(evaluated: Path, entries: list[str]) -> pd.DataFrame:
    """Every entry's test predictions of one window (the evaluate folder), entry by entry and
    group by group."""
    parts = [
        pd.read_parquet(group_file(evaluated / entry, group, "preds_test.parquet"))
        for entry in entries
        for group in groups_with(evaluated / entry, "preds_test.parquet")
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
