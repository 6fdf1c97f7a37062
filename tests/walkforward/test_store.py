"""The result store: a rerun restores what it has, byte for byte, and computes only the rest."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tmaxedge.walkforward.store import (
    ResultStore,
    WindowStep,
    folder_digest,
    frame_digest,
    one_at_a_time,
    result_key,
    run_entries,
)


@dataclass(frozen=True)
class Settings:
    c_max: float
    trials: int


def test_key_depends_on_every_input_and_not_on_their_order():
    base = result_key(step="tune", params=Settings(1.0, 3), manifest={"a": 1, "b": [1, 2]})
    assert base == result_key(manifest={"b": [1, 2], "a": 1}, params=Settings(1.0, 3), step="tune")
    assert base != result_key(step="tune", params=Settings(1.5, 3), manifest={"a": 1, "b": [1, 2]})
    assert base != result_key(step="tune", params=Settings(1.0, 3), manifest={"a": 1, "b": [2, 1]})
    assert base != result_key(
        step="calibrate", params=Settings(1.0, 3), manifest={"a": 1, "b": [1, 2]}
    )


def test_window_step_key_separates_entries_code_and_windows(tmp_path):
    engine = tmp_path / "engine.json"
    engine.write_text('{"modules": {"a.py": "1"}}')
    step = WindowStep.of("tune", {"content_sha256": "x"}, engine)
    key = step.key("ridge", params=Settings(1.0, 3))
    assert key != step.key("elasticnet", params=Settings(1.0, 3))
    assert key != WindowStep.of("tune", {"content_sha256": "y"}, engine).key(
        "ridge", params=Settings(1.0, 3)
    )
    engine.write_text('{"modules": {"a.py": "2"}}')
    assert key != WindowStep.of("tune", {"content_sha256": "x"}, engine).key(
        "ridge", params=Settings(1.0, 3)
    )


def test_folder_digest_sees_names_and_bytes(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "chi_less.fit.json").write_text("{}")
    before = folder_digest(folder)
    (folder / "chi_less.fit.json").write_text("{ }")
    assert folder_digest(folder) != before
    (folder / "chi_less.fit.json").write_text("{}")
    assert folder_digest(folder) == before
    (folder / "chi_less.fit.json").rename(folder / "chi_between.fit.json")
    assert folder_digest(folder) != before


def test_frame_digest_sees_values_order_and_types():
    frame = pd.DataFrame({"ticker": ["A", "B"], "p": [0.1, 0.2]})
    assert frame_digest(frame) == frame_digest(frame.copy())
    assert frame_digest(frame) != frame_digest(frame.iloc[::-1])
    assert frame_digest(frame) != frame_digest(frame.assign(p=[0.1, 0.3]))
    assert frame_digest(frame) != frame_digest(frame.astype({"p": "float32"}))


def write_result(entry, folder):
    """An entry's result as a step leaves it: its groups' files flat in its folder."""
    (folder / "chi_between.fit.json").write_text(f'{{"entry": "{entry}"}}')
    (folder / "chi_less.fit.json").write_text("{}")


def test_a_restored_result_is_the_computed_bytes(tmp_path):
    store = ResultStore(tmp_path / "store")
    first = tmp_path / "first"
    each = one_at_a_time(write_result)
    assert run_entries(["ridge"], first, store, lambda e: "k" + e, each, "tune") == {
        "ridge": "computed"
    }

    def fail(entry, folder):
        raise AssertionError("a stored result was computed again")

    again = tmp_path / "again"
    assert run_entries(["ridge"], again, store, lambda e: "k" + e, one_at_a_time(fail), "t") == {
        "ridge": "restored"
    }
    assert folder_digest(again / "ridge") == folder_digest(first / "ridge")
    assert sorted(p.name for p in (again / "ridge").iterdir()) == [
        "chi_between.fit.json",
        "chi_less.fit.json",
    ]


def test_without_a_store_every_entry_is_computed(tmp_path):
    calls = []

    def compute(entry, folder):
        calls.append(entry)
        write_result(entry, folder)

    for out in ["a", "b"]:
        each = one_at_a_time(compute)
        run_entries(["ridge", "elasticnet"], tmp_path / out, ResultStore(None), str, each, "t")
    assert calls == ["ridge", "elasticnet"] * 2


def test_a_run_killed_at_an_entry_resumes_there(tmp_path):
    store = ResultStore(tmp_path / "store")
    calls = []

    def dies_at_elasticnet(entry, folder):
        calls.append(entry)
        if entry == "elasticnet":
            raise KeyboardInterrupt  # as a kill would stop it
        write_result(entry, folder)

    entries = ["ridge", "elasticnet", "tmax_dist"]
    with pytest.raises(KeyboardInterrupt):
        each = one_at_a_time(dies_at_elasticnet)
        run_entries(entries, tmp_path / "killed", store, str, each, "tune")
    calls.clear()

    def compute(entry, folder):
        calls.append(entry)
        write_result(entry, folder)

    outcome = run_entries(entries, tmp_path / "resumed", store, str, one_at_a_time(compute), "t")
    assert outcome == {"ridge": "restored", "elasticnet": "computed", "tmax_dist": "computed"}
    assert calls == ["elasticnet", "tmax_dist"]


def test_a_half_copied_result_is_never_restored(tmp_path):
    store = ResultStore(tmp_path / "store")
    key = "ab" + "0" * 62
    store.folder(key).parent.mkdir(parents=True)
    (store.folder(key).parent / ".partial.x").mkdir()  # what a kill during keep leaves
    assert not store.restore(key, tmp_path / "out")
    source = tmp_path / "source"
    source.mkdir()
    write_result("ridge", source)
    store.keep(key, source)
    store.keep(key, source)  # filed once; a second keep of the same key changes nothing
    assert store.restore(key, tmp_path / "out")
    assert folder_digest(tmp_path / "out") == folder_digest(source)


def test_only_the_missing_entries_are_computed_and_together(tmp_path):
    store = ResultStore(tmp_path / "store")
    run_entries(["b"], tmp_path / "first", store, str, one_at_a_time(write_result), "t")
    asked = []

    def compute_together(missing):
        asked.append(list(missing))
        for entry in missing:
            yield entry, lambda folder, entry=entry: write_result(entry, folder)

    outcome = run_entries(["a", "b", "c"], tmp_path / "out", store, str, compute_together, "t")
    assert asked == [["a", "c"]]
    assert list(outcome.items()) == [("a", "computed"), ("b", "restored"), ("c", "computed")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "b", "c"]


def test_prune_removes_only_results_unused_lately(tmp_path):
    import os

    store = ResultStore(tmp_path / "store")
    source = tmp_path / "source"
    source.mkdir()
    write_result("ridge", source)
    old, recent, restored = ("a" * 64, "b" * 64, "c" * 64)
    for key in (old, recent, restored):
        store.keep(key, source)
    day = 86400
    os.utime(store.folder(old), (1000 * day, 1000 * day))
    os.utime(store.folder(restored), (1000 * day, 1000 * day))
    assert store.restore(restored, tmp_path / "out")  # a restore counts as a use
    now = store.folder(recent).stat().st_mtime + day
    removed, freed = store.prune(30 * day, now)
    assert (removed, freed) == (1, sum(p.stat().st_size for p in source.iterdir()))
    assert not store.folder(old).exists()
    assert store.folder(recent).is_dir() and store.folder(restored).is_dir()
    assert ResultStore(None).prune(0, now) == (0, 0)


def test_store_prune_command(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tmaxedge.cli.main import main

    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["compute"]["result_store"] = "kept"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "source"
    source.mkdir()
    write_result("ridge", source)
    ResultStore(Path("kept")).keep("d" * 64, source)
    assert ResultStore(Path("kept")).folder("d" * 64).is_dir()
    result = CliRunner().invoke(main, ["store", "prune", "--unused-days", "0"])
    assert result.exit_code == 0, result.output
    assert "kept: removed 1 result(s) unused for 0 days" in result.output
    assert not ResultStore(Path("kept")).folder("d" * 64).exists()
