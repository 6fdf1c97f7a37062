"""One window, one model entry, all three steps in memory: ``run_window``.

The DVC stages run the same steps one per stage, with the files between them
(stages/tune.py, stages/calibrate.py, stages/evaluate.py); everything else that needs a
window's forecasts (``tmaxedge walkforward``, ``tmaxedge ablation``, the examples) calls
``run_window``. Both paths call the same three functions, so they give the same predictions
(tests/test_run_window.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmaxedge.core import config, io
from tmaxedge.core.errors import ParamsError
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.cards import ModelCard
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.modeling.tuning import ModelParams, TuneResult
from tmaxedge.walkforward.calibrate import CalibratedGroup
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.crossfit import calibrate_tuned
from tmaxedge.walkforward.evaluate import EvaluatedGroup, all_predictions, evaluate_window
from tmaxedge.walkforward.groups import groups_of
from tmaxedge.walkforward.tune import TunedModels, tune_window, tuned_models
from tmaxedge.walkforward.windows import WindowRows


@dataclass(frozen=True)
class StepParams:
    """The params.yaml sections a window's steps read besides the model entry's own. Read from
    one step's params file (``load_step_params``), a section that step does not read is None."""

    calibrate: CalibrateParams | None
    pool: PoolParams | None
    coherence: CoherenceParams | None
    compute: ComputeParams
    beta_max: dict[str, float] | None  # gate.beta_max: the coefficient-norm limit per strike type


def load_step_params(path: Path = io.PARAMS_FILE, compute: Path | None = None) -> StepParams:
    """The ``StepParams`` of a params file, or of one step's params file (the step_params
    stage's ``<step>.yaml``: the keys that step reads, ``params.STEP_KEYS``) with ``compute``
    read from the params file ``compute`` (a step's file has none: how a result is computed
    does not change it, so no stage watches it)."""
    content = io.read_yaml(path)

    def section(name: str, cls: type):
        return io.load_params(name, cls, path) if name in content else None

    return StepParams(
        section("calibrate", CalibrateParams),
        section("pool", PoolParams),
        section("coherence", CoherenceParams),
        io.load_params("compute", ComputeParams, compute or path),
        config.load_beta_max(content["gate"]) if "gate" in content else None,
    )


def load_step_entries(path: Path) -> list[str]:
    """The model entries (``models``) of one step's params file, in order; the step_params
    stage checked them against ``tune`` before writing it."""
    entries = io.read_yaml(path).get("models")
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ParamsError(f"{path}: models must be a list of model entries; got {entries!r}.")
    return entries


def load_entry_params(path: Path = io.PARAMS_FILE) -> dict[str, ModelParams]:
    """params.yaml ``models``, in order, each with its ``tune.<entry>`` section."""
    return {
        entry: io.load_model_params(entry, ModelParams, path)
        for entry in io.load_model_entries(path)
    }


@dataclass(frozen=True)
class WindowRun:
    """What each step of one window produced, per group (``Group.name``)."""

    tuned: dict[str, TuneResult]
    calibrated: dict[str, CalibratedGroup]
    evaluated: dict[str, EvaluatedGroup]

    @property
    def cards(self) -> dict[str, ModelCard | None]:
        """The calibrated (and pooled) model that priced each group's test week."""
        return calibrated_cards(self.calibrated)

    @property
    def predictions(self) -> pd.DataFrame:
        """Every group's test predictions in one table, groups in order."""
        return all_predictions(self.evaluated)


def run_window(
    rows: WindowRows,
    entry: str,
    params: ModelParams,
    steps: StepParams,
    window: str,
    oracle: pd.DataFrame | None = None,
) -> WindowRun:
    """Tune ``entry`` on ``rows.fit``, calibrate and pool it as ``steps.calibrate.fit_on``
    says, and price ``rows.test`` (``oracle``: the simulator's P(YES), None on real data)."""
    tuned = tune_window(rows.fit, entry, params, steps.compute, steps.beta_max, window)
    calibrated = calibrate_step(
        rows, tuned_models(tuned), steps.calibrate, steps.pool, steps.beta_max
    )
    cards = calibrated_cards(calibrated)
    evaluated = evaluate_step(rows.test, cards, oracle, entry, window, steps.coherence)
    return WindowRun(tuned, calibrated, evaluated)


def calibrate_step(
    rows: WindowRows,
    tuned: TunedModels,
    params: CalibrateParams,
    pool: PoolParams,
    beta_max: dict[str, float] | None,
) -> dict[str, CalibratedGroup]:
    """The calibrate stage's step: each tuned group's calibrated and pooled model, from the
    window's fit and calibration rows (``crossfit.calibrate_tuned``)."""
    return calibrate_tuned(
        rows.fit, rows.calibrate, tuned.cards, tuned.best_params, params, pool, beta_max
    )


def evaluate_step(
    test_rows: pd.DataFrame,
    cards: dict[str, ModelCard | None],
    oracle: pd.DataFrame | None,
    entry: str,
    window: str,
    coherence: CoherenceParams,
) -> dict[str, EvaluatedGroup]:
    """The evaluate stage's step: each group's test predictions and report."""
    return evaluate_window(groups_of(test_rows), cards, oracle, entry, window, coherence)


def calibrated_cards(calibrated: dict[str, CalibratedGroup]) -> dict[str, ModelCard | None]:
    return {name: result.card for name, result in calibrated.items()}
