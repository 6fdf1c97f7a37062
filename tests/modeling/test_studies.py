"""Stored Optuna studies: a killed study resumes to exactly the result of an uninterrupted one."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import optuna
import pandas as pd
import pytest

from tmaxedge.core.errors import ParamsError
from tmaxedge.modeling import studies
from tmaxedge.modeling.tuning import ModelParams, tune_group

COLUMNS = list("abcde")
PARAMS = ModelParams(feature_set="rich", n_trials=14, l1_ratio=None, n_splits=3)
KILL_AFTER = 6  # finished trials before the kill, which lands inside the next trial's second fold


def group_data(seed=3, n_days=24, rows_per_day=40):
    rng = np.random.default_rng(seed)
    n = n_days * rows_per_day
    x = rng.standard_normal((n, len(COLUMNS))) * [1, 2, 0.5, 1, 3]
    p = 1 / (1 + np.exp(-(x @ [0.8, -0.4, 0.0, 0.3, 0.0]) + 0.7))
    y = (rng.uniform(size=n) < p).astype(int)
    dates = np.repeat([f"2024-05-{d + 1:02d}" for d in range(n_days)], rows_per_day).astype(object)
    return x, y, dates


def run(storage=None, data=None, params=PARAMS):
    x, y, dates = group_data() if data is None else data
    return tune_group(
        x, y, dates, COLUMNS, "elasticnet", params, study_storage=storage, study_label="en-w-chi"
    )


def assert_same_result(a, b):
    assert a.best_params == b.best_params
    assert a.fit.coef.tobytes() == b.fit.coef.tobytes()
    assert a.fit.intercept == b.fit.intercept
    pd.testing.assert_frame_equal(a.trials, b.trials)


def stored_states(storage_dir, result) -> list[str]:
    """The states of every trial of the result's study in the storage, in trial order."""
    (journal,) = storage_dir.glob("*.journal")
    storage = studies.open_storage(str(storage_dir), journal.stem)
    study = optuna.load_study(study_name=journal.stem, storage=storage)
    return [t.state.name for t in study.trials]


# runs the study in a child process that SIGKILLs itself in trial KILL_AFTER's second fold fit
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from tmaxedge.modeling import studies
    from tmaxedge.modeling import tuning as tune
    from test_studies import run

    objective, fit_logistic, fits_in_victim = (
        tune.CrossValidatedLogLoss.__call__, tune.fit_logistic, []
    )

    def watched_objective(self, trial):
        fits_in_victim.clear()
        tune.victim = len(studies.finished_trials(trial.study)) == {kill_after}
        return objective(self, trial)

    def dying_fit(*args):
        if tune.victim:
            fits_in_victim.append(1)
            if len(fits_in_victim) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return fit_logistic(*args)

    tune.CrossValidatedLogLoss.__call__, tune.fit_logistic = watched_objective, dying_fit
    run({storage!r})
    """
)


def test_a_killed_study_resumes_to_the_uninterrupted_result(tmp_path):
    storage_dir = tmp_path / "studies"
    script = KILLED_RUN.format(
        tests=os.path.dirname(__file__), kill_after=KILL_AFTER, storage=str(storage_dir)
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    (journal,) = storage_dir.glob("*.journal")
    storage = studies.open_storage(str(storage_dir), journal.stem)
    left = [
        t.state.name for t in optuna.load_study(study_name=journal.stem, storage=storage).trials
    ]
    assert len(left) == KILL_AFTER + 1 and left[-1] == "RUNNING" and left.count("RUNNING") == 1

    resumed = run(str(storage_dir))
    uninterrupted = run()
    assert_same_result(resumed, uninterrupted)
    states = stored_states(storage_dir, resumed)
    # the interrupted trial failed; only the missing trials ran
    assert states.count("FAIL") == 1 and states[KILL_AFTER] == "FAIL"
    assert len(states) == PARAMS.n_trials + 1


def test_a_finished_stored_study_runs_no_more_trials_and_gives_the_same_result(tmp_path):
    storage_dir = tmp_path / "studies"
    first = run(str(storage_dir))
    again = run(str(storage_dir))
    assert_same_result(first, again)
    assert len(stored_states(storage_dir, first)) == PARAMS.n_trials


def test_rdb_storage_gives_the_in_memory_result(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert_same_result(run(url), run())


def test_changed_rows_or_search_space_start_a_new_study(tmp_path):
    storage_dir = tmp_path / "studies"
    x, y, dates = group_data()
    run(str(storage_dir))
    x_changed = x.copy()
    x_changed[5, 2] += 1e-9
    run(str(storage_dir), data=(x_changed, y, dates))
    run(str(storage_dir), params=dataclasses.replace(PARAMS, c_max=100.0))
    names = sorted(p.stem for p in storage_dir.glob("*.journal"))
    assert len(names) == 3 and all(n.startswith("en-w-chi-") for n in names)


def test_trial_seeds_differ_by_trial_and_by_seed():
    seeds = {studies.trial_seed(s, n) for s in (1, 2) for n in range(50)}
    assert len(seeds) == 100


def test_a_file_is_not_a_study_storage(tmp_path):
    path = tmp_path / "studies.txt"
    path.write_text("")
    with pytest.raises(ParamsError, match="study_storage.*is a file"):
        studies.open_storage(str(path), "s")
