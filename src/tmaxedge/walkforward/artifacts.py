"""Where and how each walk-forward step writes its per-group files (the brief's names).

Used by the DVC stages and by ``tmaxedge walkforward`` alike, so both leave the same files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.modeling.cards import ModelCard
from tmaxedge.modeling.tuning import TuneResult
from tmaxedge.walkforward.steps import uncalibrated_card


def write_tuned(folder: Path, result: TuneResult) -> None:
    """best_params.json always; trials.csv and fit.json (the uncalibrated model) when tuned."""
    io.write_json_atomic(result.best_params, folder / "best_params.json")
    card = uncalibrated_card(result)
    if card is not None:
        io.write_csv_atomic(result.trials, folder / "trials.csv")
        io.write_json_atomic(card.to_dict(), folder / "fit.json")


def read_tuned(folder: Path) -> ModelCard | None:
    fit = folder / "fit.json"
    return ModelCard.from_dict(io.read_json(fit)) if fit.exists() else None


def write_calibrated(folder: Path, card: ModelCard, fitted, info: dict) -> None:
    """model.json (predicts without unpickling), model.joblib (scikit-learn), calibration_fit.json."""
    io.write_json_atomic(info, folder / "calibration_fit.json")
    io.write_json_atomic(card.to_dict(), folder / "model.json")
    if fitted is not None:
        import joblib

        with io.atomic_path(folder / "model.joblib") as target:
            joblib.dump(fitted, target)


def write_uncalibrated(folder: Path, reason: str) -> None:
    io.write_json_atomic({"method": "none", "reason": reason}, folder / "calibration_fit.json")


def read_calibrated(folder: Path) -> ModelCard | None:
    model = folder / "model.json"
    return ModelCard.from_dict(io.read_json(model)) if model.exists() else None


def write_evaluated(folder: Path, predictions: pd.DataFrame, report: dict) -> None:
    """preds_test.parquet and .csv, and calibration.json (scores, 15-bin reliability)."""
    io.write_parquet_atomic(predictions, folder / "preds_test.parquet")
    io.write_csv_atomic(predictions, folder / "preds_test.csv")
    io.write_json_atomic(report, folder / "calibration.json")
