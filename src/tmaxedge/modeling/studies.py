"""Where Optuna studies live, what they are called, and how a killed one resumes exactly.

A study in shared storage (``compute.study_storage``) survives a killed run: the next run of the
same window loads it and runs only the trials still missing. For the resumed study to end where
an uninterrupted one would, nothing a trial does may depend on the process that ran the trials
before it:

- the study's name is a digest of everything its trials depend on (the rows, the search space,
  the objective's code), so a changed window never resumes a stale study;
- each trial's sampler is seeded from (seed, finished trials so far), not from one random stream
  that a restart would begin again;
- trials warm-start from fits stored with the finished trials (``tune.CrossValidatedLogLoss``);
- a trial the kill interrupted is marked failed and run again under the next seed's draw.

One process works on a study at a time (one (window, city, strike type) job), which is what makes
a trial still "running" at load time an interrupted one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tmaxedge.core.errors import ParamsError

if TYPE_CHECKING:
    import optuna

FINISHED = ("COMPLETE", "PRUNED")
# tests/pipeline kill a tune stage through this variable: after a set number of finished trials
# is a point inside the stage it cannot race past, as it can a kill timed from outside
KILL_AFTER_TRIALS = "TMAXEDGE_TEST_KILL_AFTER_TRIALS"


def open_storage(spec: str | None, study_name: str) -> optuna.storages.BaseStorage | None:
    """The storage ``compute.study_storage`` names: None (in memory), an RDB URL
    (``sqlite:///studies.db``, ``postgresql://host/db``: every study in one database, for many
    machines), or a directory (one journal file per study, for one machine or a shared disk)."""
    import optuna

    if spec is None:
        return None
    if "://" in spec:
        return optuna.storages.RDBStorage(spec)
    directory = Path(spec)
    if directory.exists() and not directory.is_dir():
        raise ParamsError(
            f"compute.study_storage must be null, an RDB URL or a directory; {spec!r} is a file."
        )
    directory.mkdir(parents=True, exist_ok=True)
    backend = optuna.storages.journal.JournalFileBackend(
        str(directory / f"{study_name}.journal"),
        lock_obj=optuna.storages.journal.JournalFileOpenLock(str(directory / f"{study_name}.lock")),
    )
    return optuna.storages.JournalStorage(backend)


def study_digest(arrays: list[np.ndarray], settings: dict, code: list[object]) -> str:
    """A short digest of a study's inputs: its arrays' bytes, shapes and types, its settings
    (JSON) and the source of the functions and classes whose behaviour its trials depend on."""
    h = hashlib.blake2b(digest_size=10)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes() if a.dtype != object else json.dumps(a.tolist()).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for thing in code:
        h.update(inspect.getsource(thing).encode())
    return h.hexdigest()


def trial_seed(seed: int, n_finished: int) -> int:
    """The sampler seed of the trial that follows ``n_finished`` finished trials."""
    return int(np.random.SeedSequence([seed, n_finished]).generate_state(1)[0])


def kill_if_asked(study_name: str, n_finished: int) -> None:
    """SIGKILL this process when $TMAXEDGE_TEST_KILL_AFTER_TRIALS asks for it: ``N`` (any
    study that has ``N`` finished trials) or ``PREFIX:N`` (only a study whose name starts with
    ``PREFIX``, such as ``elasticnet-``). The pipeline tests' kill; unset, this does nothing."""
    prefix, _, count = os.environ.get(KILL_AFTER_TRIALS, "").rpartition(":")
    if count == str(n_finished) and study_name.startswith(prefix):
        os.kill(os.getpid(), signal.SIGKILL)


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    import optuna

    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    return study.get_trials(deepcopy=False, states=states)


def fail_interrupted_trials(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    """Mark the trials a killed run left running as failed; how many there were."""
    import optuna

    study_id = storage.get_study_id_from_name(study_name)
    running = optuna.trial.TrialState.RUNNING
    interrupted = [
        t for t in storage.get_all_trials(study_id, deepcopy=False) if t.state == running
    ]
    for trial in interrupted:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
    return len(interrupted)
