"""Real `dvc repro` on a tiny world: what runs, what is skipped, what is byte-identical."""

import hashlib

import pytest
from dvcrepo import DvcRepo, ran

pytestmark = pytest.mark.pipeline

TINY = {
    "simulate": {"days": 3, "cities": ["chi", "nyc"], "start": "2024-11-02"},
    "features": {"every_minutes": 30},
}


def tree_digest(path):
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = DvcRepo(tmp_path_factory.mktemp("pipeline"), TINY)
    repo.first_run = repo.repro("features")
    return repo


def test_repro_runs_every_stage_once_then_nothing(repo):
    assert repo.first_run == {"simulate", "ingest", "features"}
    assert repo.repro("features") == set()
    assert "up to date" in repo.dvc("status", "features").stdout


def test_repro_after_a_features_param_change_reruns_only_features(repo):
    repo.set_params({"features": {"every_minutes": 60}})
    assert repo.repro("features") == {"features"}
    repo.set_params({"features": {"every_minutes": 30}})
    output = repo.dvc("repro", "features").stdout
    # seen before: DVC's run cache restores the earlier output instead of rerunning the stage
    assert "Stage 'features' is cached - skipping run" in output
    assert ran(output) == set()


def test_repro_is_byte_identical_when_forced(repo):
    before = {
        name: tree_digest(repo.root / "data" / name) for name in ["synthetic", "raw", "features"]
    }
    metrics_before = (repo.root / "metrics" / "ingest.json").read_bytes()
    assert repo.repro("--force", "features") == {"simulate", "ingest", "features"}
    after = {
        name: tree_digest(repo.root / "data" / name) for name in ["synthetic", "raw", "features"]
    }
    assert before == after
    assert (repo.root / "metrics" / "ingest.json").read_bytes() == metrics_before


def test_repro_after_a_simulate_seed_change_reruns_downstream(repo):
    repo.set_params({"simulate": {"seed": 99}})
    assert repo.repro("features") == {"simulate", "ingest", "features"}
