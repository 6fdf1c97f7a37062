"""The walk-forward plan: keys, bounds, staleness and content-addressed manifests."""

import datetime as dt
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tmaxedge.cli import main as cli
from tmaxedge.core.errors import DataError, ParamsError
from tmaxedge.walkforward.windows import (
    WindowParams,
    check_plan,
    daily_digests,
    has_every_split,
    make_manifest,
    make_plan,
    make_window,
    plan_window_keys,
    split_of,
)

D = dt.date


def every_day(first: dt.date, last: dt.date) -> list[dt.date]:
    return list(pd.date_range(first, last).date)


@given(
    n_days=st.integers(20, 400),
    train_days=st.integers(5, 120),
    test_days=st.integers(1, 14),
    step_days=st.integers(1, 21),
    embargo=st.integers(0, 3),
    offset=st.integers(1, 60),
)
def test_make_window_splits_are_ordered_and_disjoint(
    n_days, train_days, test_days, step_days, embargo, offset
):
    params = WindowParams(train_days, test_days, step_days, 0.2, embargo, offset)
    first, last = D(2024, 1, 1), D(2024, 1, 1) + dt.timedelta(days=n_days - 1)
    days = every_day(first, last)
    # the first test day whose fit period (ending calibration + embargo days before it) holds
    # a day of the data, on the plan's grid of offset + k * step
    first_fit_day = params.calibration_days + embargo + 1
    first_test = offset + step_days * max(0, -(-(first_fit_day - offset) // step_days))
    if first_test + test_days > n_days:
        with pytest.raises(DataError, match="one window needs"):
            plan_window_keys(days, params)
        return
    keys = plan_window_keys(days, params)
    windows = [make_window(k, params) for k in keys]
    assert keys[0] == (first + dt.timedelta(days=first_test)).isoformat()
    for w in windows:
        assert w.train_start < w.fit_end < w.train_end <= w.test_start < w.test_end
        assert (w.test_start - w.train_end).days == embargo
        assert (w.train_end - w.train_start).days == train_days
        assert (w.test_end - w.test_start).days == test_days
        assert first <= w.test_start and w.test_end - dt.timedelta(days=1) <= last
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert (later.test_start - earlier.test_start).days == step_days
        if step_days >= test_days:
            assert earlier.test_end <= later.test_start  # test weeks never overlap


def test_make_window_worked_example_from_the_docstring():
    w = make_window("2024-07-01", WindowParams(90, 7, 7, 0.2, 0))
    assert (w.train_start, w.fit_end, w.train_end) == (D(2024, 4, 2), D(2024, 6, 13), D(2024, 7, 1))
    assert (w.test_start, w.test_end) == (D(2024, 7, 1), D(2024, 7, 8))


def test_split_of_labels_each_boundary_day_once():
    w = make_window("2024-07-01", WindowParams(10, 3, 3, 0.2, 1))
    days = pd.Series(pd.date_range("2024-06-19", "2024-07-05").date)
    split = split_of(days, w)
    labelled = dict(zip(days, split, strict=True))
    assert labelled[D(2024, 6, 19)] == "" and labelled[D(2024, 6, 20)] == "fit"
    assert labelled[D(2024, 6, 27)] == "fit" and labelled[D(2024, 6, 28)] == "calibrate"
    assert labelled[D(2024, 6, 29)] == "calibrate"
    assert labelled[D(2024, 6, 30)] == ""  # the embargo day
    assert labelled[D(2024, 7, 1)] == "test" and labelled[D(2024, 7, 3)] == "test"
    assert labelled[D(2024, 7, 4)] == ""


def test_plan_keys_do_not_depend_on_train_days():
    days = every_day(D(2024, 1, 1), D(2024, 6, 30))
    short = make_plan(days, WindowParams(train_days=90))
    long = make_plan(days, WindowParams(train_days=120))
    assert short == long


def test_plan_skips_windows_a_gap_in_the_data_leaves_without_a_split():
    """A season missing from the data: no window tests inside the gap, nor tests the first
    weeks after it without fit days behind it; the others are planned as without a gap."""
    params = WindowParams(train_days=28, test_days=7, step_days=7, first_test_offset_days=28)
    before = every_day(D(2024, 1, 1), D(2024, 3, 31))
    after = every_day(D(2024, 7, 1), D(2024, 8, 31))
    keys = plan_window_keys(before + after, params)
    windows = [make_window(k, params) for k in keys]
    assert keys[0] == "2024-01-29"
    assert not any(D(2024, 4, 1) <= w.test_start < D(2024, 7, 1) for w in windows)
    after_gap = [w for w in windows if w.test_start >= D(2024, 7, 1)]
    # the first one after the gap is the first on the weekly grid whose fit period holds a day
    one_week_earlier = make_window(
        (after_gap[0].test_start - dt.timedelta(days=7)).isoformat(), params
    )
    assert after_gap[0].fit_end > D(2024, 7, 1) >= one_week_earlier.fit_end
    assert all(has_every_split(w, before + after) for w in windows)
    assert len(keys) == len(plan_window_keys(before, params)) + len(after_gap)


def test_check_plan_names_what_is_stale():
    params = WindowParams()
    plan = make_plan(every_day(D(2024, 1, 1), D(2024, 6, 30)), params)
    check_plan(plan, every_day(D(2024, 1, 1), D(2024, 6, 30)), params)
    with pytest.raises(ParamsError) as error:
        check_plan(plan, every_day(D(2024, 1, 1), D(2024, 7, 7)), params)
    message = str(error.value)
    assert "windows.yaml is stale" in message
    assert "last_day: windows.yaml has '2024-06-30', data and params give '2024-07-07'" in message
    assert "Run `tmaxedge plan`" in message


def test_check_plan_fails_when_test_days_change():
    days = every_day(D(2024, 1, 1), D(2024, 6, 30))
    plan = make_plan(days, WindowParams())
    with pytest.raises(ParamsError, match=re.escape("test_days: windows.yaml has 7")):
        check_plan(plan, days, WindowParams(test_days=3))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"train_days": 0}, "train_days must be an int >= 1; got 0."),
        (
            {"calibration_fraction": 1.0},
            "calibration_fraction must be a number in (0, 1); got 1.0.",
        ),
        ({"embargo_days": -1}, "embargo_days must be an int >= 0; got -1."),
        ({"train_days": 2}, "train_days must be an int leaving >= 2 fit days after 1 calibration"),
    ],
)
def test_window_params_reject_bad_values(change, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        WindowParams(**change)


def feature_rows(days, cities=("chi", "nyc")):
    rows = []
    for city in cities:
        for day in days:
            for minute in range(3):
                rows.append(
                    {
                        "city": city,
                        "event_date": day,
                        "ticker": f"{city}-{day}",
                        "ts": pd.Timestamp(day, tz="UTC") + pd.Timedelta(minutes=minute),
                        "yes_mid": 50.0 + minute,
                    }
                )
    return pd.DataFrame(rows)


def test_manifest_hash_changes_only_for_windows_containing_the_changed_day():
    params = WindowParams(4, 2, 2, 0.25, 0, 4)
    days = list(pd.date_range("2024-01-01", periods=12).date)
    rows = feature_rows(days)
    keys = plan_window_keys(days, params)
    before = {k: make_manifest(make_window(k, params), daily_digests(rows), params) for k in keys}
    changed_day = D(2024, 1, 9)
    edited = rows.copy()
    edited.loc[(edited.city == "chi") & (edited.event_date == changed_day), "yes_mid"] += 1
    after = {k: make_manifest(make_window(k, params), daily_digests(edited), params) for k in keys}
    changed = {k for k in keys if before[k]["content_sha256"] != after[k]["content_sha256"]}
    containing = {
        k
        for k in keys
        if make_window(k, params).train_start <= changed_day < make_window(k, params).test_end
    }
    assert changed == containing and changed and changed != set(keys)


def test_manifest_counts_rows_and_days_per_split():
    params = WindowParams(4, 2, 2, 0.25, 0, 4)
    days = list(pd.date_range("2024-01-01", periods=8).date)
    manifest = make_manifest(
        make_window("2024-01-05", params), daily_digests(feature_rows(days)), params
    )
    assert manifest["splits"] == {
        "fit": {"n_days": 3, "n_rows": 18},
        "calibrate": {"n_days": 1, "n_rows": 6},
        "test": {"n_days": 2, "n_rows": 12},
    }
    assert manifest["cities"] == ["chi", "nyc"]


def plan_arguments(tmp_path) -> list[str]:
    """`tmaxedge plan`'s --features and --params for 20 days of one city (windows from
    2024-01-06, every 3 days)."""
    folder = tmp_path / "features" / "city=chi" / "month=2024-01"
    folder.mkdir(parents=True)
    feature_rows(list(pd.date_range("2024-01-01", periods=20).date), ("chi",)).to_parquet(
        folder / "part-0.parquet", index=False
    )
    (tmp_path / "params.yaml").write_text(
        "windows: {train_days: 5, test_days: 3, step_days: 3, calibration_fraction: 0.2,"
        " embargo_days: 0, first_test_offset_days: 5}\n"
    )
    return ["--features", str(tmp_path / "features"), "--params", str(tmp_path / "params.yaml")]


def test_plan_command_writes_windows_yaml(tmp_path):
    arguments = plan_arguments(tmp_path)
    result = CliRunner().invoke(
        cli.main, ["plan", *arguments, "--out", str(tmp_path / "windows.yaml")]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "windows.yaml").read_text()
    assert "window_keys:\n- '2024-01-06'\n- '2024-01-09'\n- '2024-01-12'\n- '2024-01-15'\n" in text
    assert text.startswith("# The walk-forward plan")


def test_plan_command_without_features_says_what_to_run(tmp_path):
    (tmp_path / "params.yaml").write_text("windows: {}\n")
    result = CliRunner().invoke(
        cli.main,
        ["plan", "--features", str(tmp_path / "none"), "--params", str(tmp_path / "params.yaml")],
    )
    assert result.exit_code != 0
    assert "run `dvc repro features` first" in str(result.exception) + result.output


LOCK = """schema: '2.0'
stages:
  windows:
    cmd: python stages/windows.py
  tune@2024-01-03:
    cmd: python stages/tune.py 2024-01-03
    outs:
    - path: models/2024-01-03/tune
  tune@2024-01-06:
    cmd: python stages/tune.py 2024-01-06
  summarize:
    cmd: python stages/summarize.py
"""


def test_plan_command_drops_the_lock_entries_of_windows_no_longer_planned(tmp_path):
    """DVC keeps a stage's dvc.lock entry after the stage left dvc.yaml, and parses it on every
    `dvc status`; a window that left the plan is such a stage."""
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  windows: {cmd: x}\n  tune: {foreach: '${window_keys}', do: {cmd: y}}\n"
    )
    (tmp_path / "dvc.lock").write_text(LOCK)
    arguments = plan_arguments(tmp_path)
    result = CliRunner().invoke(
        cli.main, ["plan", *arguments, "--out", str(tmp_path / "windows.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "removed 1 entries of windows no longer planned" in result.output
    # planned: 2024-01-06 .. 2024-01-15; 2024-01-03 is not, and the other stages stay
    assert (tmp_path / "dvc.lock").read_text() == LOCK.replace(
        "  tune@2024-01-03:\n    cmd: python stages/tune.py 2024-01-03\n    outs:\n"
        "    - path: models/2024-01-03/tune\n",
        "",
    )
    again = CliRunner().invoke(
        cli.main, ["plan", *arguments, "--out", str(tmp_path / "windows.yaml")]
    )
    assert again.exit_code == 0 and "removed" not in again.output
