"""Fixtures shared across test folders: tiny simulated worlds written as feature folders.

This file sits at the tests/ root, so pytest puts tests/ on sys.path for every test below it:
the plain helper modules here (worlds, tables, windows_support, event_bins) import by name from
any folder.
"""

import pytest
from windows_support import window_rows
from worlds import simulated_tables, write_feature_folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two cities (chi with weather, nyc without) over 16 days: (feature folder, tables)."""
    folder = tmp_path_factory.mktemp("features")
    tables = simulated_tables(days=16)
    write_feature_folder(tables, folder)
    return folder, tables


@pytest.fixture(scope="module")
def three_cities(tmp_path_factory):
    """Two weather cities (aus, chi) and nyc: the first window's rows, split."""
    folder = tmp_path_factory.mktemp("features")
    write_feature_folder(simulated_tables(days=16, cities=("aus", "chi", "nyc")), folder)
    _, rows = window_rows(folder)
    return rows
