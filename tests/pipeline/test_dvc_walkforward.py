"""The walk-forward under real `dvc`: only the windows whose rows changed rerun.

One tiny world (two cities, 16 event days, a few trials) in a temporary git repository, taken
through the changes a user makes: nothing, a ridge parameter (as an experiment), one day of
input, a week of new data.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from dvcrepo import DvcRepo, ran

from tmaxedge.modeling.studies import KILL_AFTER_TRIALS
from tmaxedge.walkforward.layout import STEPS

pytestmark = pytest.mark.pipeline

TRIALS = {"n_trials": 3, "n_splits": 2, "tune_every_minutes": 0}
TINY = {
    "simulate": {"days": 16, "cities": ["chi", "nyc"], "start": "2024-05-01"},
    "features": {"every_minutes": 60},
    "windows": {"train_days": 10, "test_days": 3, "step_days": 3, "first_test_offset_days": 10},
    "models": ["ridge", "elasticnet", "tmax_dist"],  # a two-city world has nothing to pool
    "tune": {"ridge": TRIALS, "elasticnet": TRIALS, "tmax_dist": TRIALS},
    "calibrate": {"isotonic_min": 1000},
    "compute": {"n_jobs": 1},
    "gate": {"enforce": False},  # a 16-day world proves nothing; the verdict is tested below
}
DOWNSTREAM = {"summarize", "backtest", "gate", "report", "verdict"}
FIRST_WINDOW, SECOND_WINDOW = "2024-05-11", "2024-05-14"


def stages(window):
    return {f"{step}@{window}" for step in STEPS}


def computed(result) -> set[tuple[str, str]]:
    """The (step, entry) results a dvc command computed rather than restored from the store."""
    return set(re.findall(r"(tune|calibrate|evaluate) (\w+): computed", result.stderr))


def keep_event_days(folder, last_day):
    """Cut a saved source to the events up to ``last_day`` (as if it had been saved earlier)."""
    markets = pd.read_parquet(folder / "markets.parquet")
    kept = markets[pd.to_datetime(markets["event_date"]).dt.date <= last_day]
    kept.to_parquet(folder / "markets.parquet", index=False)
    for name in ["quotes", "oracle"]:
        table = pd.read_parquet(folder / f"{name}.parquet")
        table[table["ticker"].isin(kept["ticker"])].to_parquet(
            folder / f"{name}.parquet", index=False
        )
    settlements = pd.read_parquet(folder / "settlements.parquet")
    settlements = settlements[pd.to_datetime(settlements["date"]).dt.date <= last_day]
    settlements.to_parquet(folder / "settlements.parquet", index=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """Simulated once, then run from a user's saved copy cut at 2024-05-13 (one window)."""
    repo = DvcRepo(tmp_path_factory.mktemp("walkforward"), TINY)
    repo.repro("simulate")
    shutil.copytree(repo.root / "data" / "synthetic", repo.root / "saved_full")
    shutil.copytree(repo.root / "data" / "synthetic", repo.root / "data" / "external")
    keep_event_days(repo.root / "data" / "external", pd.Timestamp("2024-05-13").date())
    repo.set_params({"ingest": {"source": "data/external"}})
    repo.repro("features")
    repo.plan()
    repo.first_run = repo.repro()
    repo.commit("first run")
    return repo


def test_first_repro_runs_the_single_planned_window(repo):
    assert "window_keys:\n- '2024-05-11'\n" in (repo.root / "windows.yaml").read_text()
    assert stages(FIRST_WINDOW) | {"windows", "summarize"} <= repo.first_run
    metrics = json.loads((repo.root / "metrics" / "walkforward.json").read_text())
    assert set(metrics) == {"ridge", "elasticnet", "tmax_dist"}
    assert metrics["ridge"]["n_windows"] == 1
    # the solver's iteration limit is never silent: each entry's count is reviewed with its scores
    assert all(isinstance(scores["n_fits_not_converged"], int) for scores in metrics.values())


def test_second_repro_runs_nothing(repo):
    assert repo.repro() == set()


def appended_comment_ran(repo, module):
    """Stages `dvc repro` runs after a comment is added to ``module``; the file is put back."""
    path = repo.root / "src" / "tmaxedge" / module
    original = path.read_text()
    path.write_text(original + "\n# a comment\n")
    try:
        return repo.repro()
    finally:
        path.write_text(original)
        repo.repro()


def test_engine_code_reruns_every_window_and_other_code_none(repo):
    engine_change = appended_comment_ran(
        repo, "modeling/calibration.py"
    )  # the per-window stages only
    assert {"engine"} | stages(FIRST_WINDOW) <= engine_change
    assert not engine_change & {"simulate", "ingest", "features", "windows"}
    report_change = appended_comment_ran(repo, "reporting/report.py")
    assert "report" in report_change
    assert not report_change & ({"engine"} | stages(FIRST_WINDOW))
    assert repo.repro() == set()


def test_a_coherence_change_reruns_only_the_evaluate_stages(repo):
    """The per-window stages watch their step's params file, not params.yaml: a key only
    evaluate reads reruns evaluate and what follows it, not tune or calibrate."""
    repo.set_params({"coherence": {"method": "none"}})
    try:
        assert repo.repro() == {"step_params", f"evaluate@{FIRST_WINDOW}"} | DOWNSTREAM
    finally:
        repo.set_params({"coherence": {"method": "logit_shift"}})
    repo.repro()  # back as before (from DVC's run cache, so which stages "ran" says nothing)


def test_the_edge_csv_switch_adds_the_csv_to_summarizes_output_and_takes_it_away(repo):
    """The CSV is a file of data/walkforward, the stage's one output, when the switch is on and
    absent when it is off: no output is declared that may not exist, and DVC caches and checks
    the file with the folder."""
    walkforward = repo.root / "data" / "walkforward"
    assert not list(walkforward.glob("edge_diagnostics.csv*"))  # off by default
    repo.set_params({"summarize": {"edge_diagnostics_csv": "csv"}})
    try:
        # the folder changed, so what depends on it reran; they read the Parquet alone, so their
        # outputs are the same and verdict, which reads only those, did not run
        assert repo.repro() == {"summarize", "backtest", "gate", "report"}
        parquet = pd.read_parquet(walkforward / "edge_diagnostics.parquet")
        assert len(pd.read_csv(walkforward / "edge_diagnostics.csv")) == len(parquet)
        assert "up to date" in repo.dvc("status").stdout
        (walkforward / "edge_diagnostics.csv").unlink()  # DVC sees the folder changed ...
        assert "modified:" in repo.dvc("status", "summarize").stdout
        repo.dvc("checkout", "summarize")  # ... and restores the file from its cache
        assert len(pd.read_csv(walkforward / "edge_diagnostics.csv")) == len(parquet)
    finally:
        repo.set_params({"summarize": {"edge_diagnostics_csv": "none"}})
    repo.repro()
    assert not list(walkforward.glob("edge_diagnostics.csv*"))
    assert repo.repro() == set()


def test_exp_run_on_a_ridge_parameter_recomputes_only_ridge(repo):
    result = repo.dvc("exp", "run", "-S", "tune.ridge.c_max=0.001")
    assert ran(result.stdout) == {"step_params"} | stages(FIRST_WINDOW) | DOWNSTREAM
    # the window's stages rerun, but every other entry's results come from the store
    assert computed(result) == {(step, "ridge") for step in STEPS}
    assert "tune elasticnet: restored" in result.stderr
    diff = repo.dvc("metrics", "diff", "HEAD").stdout
    assert "ridge.brier" in diff and "elasticnet.brier" not in diff
    repo.set_params({"tune": {"ridge": {"c_max": 10000.0}}})
    repo.repro()  # back to the committed params: the run cache restores the committed results
    assert repo.dvc("metrics", "diff", "HEAD").stdout.strip() == ""


def tree_digest(path):
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + file.read_bytes())
    return digest.hexdigest()


def force_window(repo, window=FIRST_WINDOW) -> set[tuple[str, str]]:
    """Force a window's three stages; what they computed."""
    return set().union(
        *(
            computed(repo.dvc("repro", "--force", "--single-item", f"{step}@{window}"))
            for step in STEPS
        )
    )


def test_forced_rerun_of_a_window_gives_identical_bytes_restored_or_computed(repo):
    window_dir = repo.root / "models" / FIRST_WINDOW
    before = tree_digest(window_dir)
    metrics = (repo.root / "metrics" / "walkforward.json").read_bytes()
    assert force_window(repo) == set()  # every entry restored from the store
    assert tree_digest(window_dir) == before
    repo.set_params({"compute": {"result_store": None}})
    try:
        assert len(force_window(repo)) == 3 * 3  # every entry of every step computed again
    finally:
        repo.set_params({"compute": {"result_store": ".tmaxedge/store"}})
    repo.repro()
    assert tree_digest(window_dir) == before
    assert (repo.root / "metrics" / "walkforward.json").read_bytes() == metrics


def test_killed_tune_stage_resumes_at_the_entry_it_was_on(repo):
    stage = f"tune@{FIRST_WINDOW}"
    output = repo.root / "models" / FIRST_WINDOW / "tune"
    before = tree_digest(output)
    repo.set_params({"compute": {"result_store": ".tmaxedge/empty"}})  # nothing to restore
    try:
        # the stage kills itself once two trials (of three) of elastic net's first study have
        # finished: a point inside the stage it cannot race past, as it could a kill timed from
        # outside; ridge, the entry before, has finished by then
        killed = subprocess.run(
            [sys.executable, "-m", "dvc", "repro", "--force", "--single-item", stage],
            cwd=repo.root,
            env={**repo.env, KILL_AFTER_TRIALS: "elasticnet-:2"},
            capture_output=True,
            text=True,
        )
        # dvc reports the signal as -9 when it starts the command itself and as 137 (128 + 9)
        # when a shell between them reports it, depending on the platform's shell
        assert killed.returncode != 0, killed.stderr
        assert re.search(r"exited with (-9|137)\b", killed.stderr), killed.stderr
        assert computed(killed) == {("tune", "ridge")}
        leftover = output.parent / ".tune.killed.tmp"  # as a kill while writing leaves it
        leftover.mkdir()
        (leftover / "half-written").write_text("")
        resumed = repo.dvc("repro", "--force", "--single-item", stage)
        assert computed(resumed) == {("tune", "elasticnet"), ("tune", "tmax_dist")}
        assert "tune ridge: restored" in resumed.stderr
        assert not list(output.parent.glob(".tune.*"))  # the killed runs' folders are gone
        assert tree_digest(output) == before
    finally:
        repo.set_params({"compute": {"result_store": ".tmaxedge/store"}})
    assert repo.repro() == set()


def edit_one_quote(folder):
    """Raise one ask of a 2024-05-12 market at 15:00 UTC on its event day: only the first
    window reads that day."""
    quotes_file = folder / "quotes.parquet"
    quotes = pd.read_parquet(quotes_file)
    at = quotes["ticker"].str.contains("24MAY12") & (
        quotes["ts"] == pd.Timestamp("2024-05-12 15:00", tz="UTC")
    )
    row = quotes.index[at & quotes["yes_ask"].between(quotes["yes_bid"].fillna(0) + 1, 98)][0]
    quotes.loc[row, "yes_ask"] += 1
    quotes.to_parquet(quotes_file, index=False)


def test_changing_one_day_of_input_reruns_only_windows_containing_it(repo):
    edit_one_quote(repo.root / "data" / "external")
    assert repo.repro() == {"ingest", "features", "windows"} | stages(FIRST_WINDOW) | DOWNSTREAM
    repo.commit("one day edited")


def test_appending_days_and_replanning_runs_only_the_new_window(repo):
    shutil.rmtree(repo.root / "data" / "external")
    shutil.copytree(repo.root / "saved_full", repo.root / "data" / "external")
    edit_one_quote(repo.root / "data" / "external")  # the user's earlier correction stays
    repo.dvc("repro", "features")
    repo.plan()
    assert f"- '{SECOND_WINDOW}'" in (repo.root / "windows.yaml").read_text()
    assert repo.repro() == {"windows"} | stages(SECOND_WINDOW) | DOWNSTREAM


def fill_store(repo, *options: str):
    return repo.run(sys.executable, "-m", "tmaxedge", "store", "fill", *options, check=False)


def test_store_filled_on_a_dask_cluster_is_what_the_stages_restore(repo):
    """Both windows at once on a local cluster of two workers, into an empty store; the
    windows' stages, forced, then restore every entry of every step: the same bytes."""
    models = repo.root / "models"
    before = {window: tree_digest(models / window) for window in (FIRST_WINDOW, SECOND_WINDOW)}
    repo.set_params({"compute": {"result_store": ".tmaxedge/filled"}})
    try:
        filled = fill_store(repo, "--workers", "2")
        assert filled.returncode == 0, filled.stderr
        assert "2 window(s)" in filled.stdout
        assert "18 result(s) computed, 0 already stored" in filled.stdout  # 2 × 3 steps × 3
        again = fill_store(repo, "--workers", "2", "--window", SECOND_WINDOW)
        assert "0 result(s) computed, 9 already stored" in again.stdout
        assert force_window(repo, FIRST_WINDOW) | force_window(repo, SECOND_WINDOW) == set()
    finally:
        repo.set_params({"compute": {"result_store": ".tmaxedge/store"}})
    assert {window: tree_digest(models / window) for window in before} == before
    assert repo.repro() == set()


def test_store_fill_refuses_stale_inputs_and_unknown_windows(repo):
    path = repo.root / "src" / "tmaxedge" / "modeling" / "calibration.py"
    original = path.read_text()
    path.write_text(original + "\n# a comment\n")  # the engine's fingerprint is stale
    try:
        stale = fill_store(repo)
    finally:
        path.write_text(original)
    assert stale.returncode != 0
    assert "engine changed" in stale.stderr and "dvc repro windows engine" in stale.stderr
    unknown = fill_store(repo, "--window", "2024-01-01")
    assert unknown.returncode != 0
    assert "windows.yaml: no window 2024-01-01" in unknown.stderr
    assert f"{FIRST_WINDOW} .. {SECOND_WINDOW} (2)" in unknown.stderr


def test_enforced_gate_fails_the_run_after_writing_metrics_and_report(repo):
    repo.set_params({"gate": {"enforce": True, "brier_improvement": 0.5}})
    result = repo.dvc("repro", check=False)
    assert result.returncode != 0
    assert "gate failed: ridge brier" in result.stderr + result.stdout
    gate = json.loads((repo.root / "metrics" / "gate.json").read_text())
    assert gate["ridge"]["brier_check"] is False
    assert "brier" in (repo.root / "reports" / "report.md").read_text().lower()
    repo.set_params({"gate": {"enforce": False, "brier_improvement": 0.02}})
    assert repo.dvc("repro", check=False).returncode == 0


def test_stale_plan_stops_the_windows_stage_with_a_clear_message(repo):
    repo.set_params({"windows": {"test_days": 2}})
    result = repo.dvc("repro", "windows", check=False)
    assert result.returncode != 0
    assert "windows.yaml is stale" in result.stderr + result.stdout
    repo.set_params({"windows": {"test_days": 3}})
