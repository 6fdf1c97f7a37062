"""Atomic writes of tables: a gzipped CSV is as reproducible as a plain one."""

import time

import numpy as np
import pandas as pd

from tmaxedge.core import io


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
