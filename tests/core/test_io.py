"""Atomic writes: strict JSON; a gzipped CSV is as reproducible as a plain one."""

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from tmaxedge.core import io


def test_json_written_is_strict_json_with_null_for_non_finite_numbers(tmp_path):
    content = {
        "brier": 0.07,
        "ece": float("nan"),
        "ratio": np.float64("inf"),
        "scores": [1.0, np.nan, -np.inf],
        "coef": np.array([0.5, np.nan]),
        "when": pd.Timestamp("2024-06-30", tz="UTC"),
        "nested": {"n": np.int64(3), "p": np.float32(0.25)},
    }
    target = tmp_path / "metrics.json"
    io.write_json_atomic(content, target)

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    written = json.loads(target.read_text(), parse_constant=refuse)
    assert written == {
        "brier": 0.07,
        "ece": None,
        "ratio": None,
        "scores": [1.0, None, None],
        "coef": [0.5, None],
        "when": "2024-06-30T00:00:00+00:00",
        "nested": {"n": 3, "p": 0.25},
    }


def test_finite_content_is_written_as_before(tmp_path):
    content = {"b": [1, 2.5], "a": np.float64(0.125), "t": pd.Timestamp("2024-01-01")}
    target = tmp_path / "plain.json"
    io.write_json_atomic(content, target)
    plain = {"b": [1, 2.5], "a": 0.125, "t": "2024-01-01T00:00:00"}
    assert target.read_text() == json.dumps(plain, indent=2, sort_keys=True) + "\n"


def test_an_object_json_cannot_hold_is_refused_and_nothing_is_written(tmp_path):
    target = tmp_path / "bad.json"
    with pytest.raises(TypeError, match="cannot write object"):
        io.write_json_atomic({"x": object(), "y": math.nan}, target)
    assert not target.exists()


def test_a_gzipped_csv_is_the_same_bytes_whatever_its_name_and_the_time(tmp_path, monkeypatch):
    frame = pd.DataFrame(
        {
            "market_ticker": ["KXHIGHCHI-B80.5", "KXHIGHCHI-T79"],
            "timestamp": pd.to_datetime(["2024-07-01 12:00", "2024-07-01 12:05"], utc=True),
            "p_model": [0.1 + 0.2, np.nan],
        }
    )
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)
    io.write_csv_atomic(frame, tmp_path / "first.csv.gz")
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    io.write_csv_atomic(frame, tmp_path / "second.csv.gz")
    io.write_csv_atomic(frame, tmp_path / "plain.csv")
    packed = (tmp_path / "first.csv.gz").read_bytes()
    assert packed[:2] == b"\x1f\x8b"  # gzip's magic number: compressed, not plain text
    assert packed == (tmp_path / "second.csv.gz").read_bytes()
    back = pd.read_csv(tmp_path / "first.csv.gz")
    pd.testing.assert_frame_equal(back, pd.read_csv(tmp_path / "plain.csv"))
    assert back["p_model"].iloc[0] == 0.1 + 0.2  # the shortest exact round-trip text
    assert list(tmp_path.glob(".*.tmp")) == []  # no temporary file left beside them
