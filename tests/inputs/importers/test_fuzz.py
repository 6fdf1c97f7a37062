"""Fuzz every importer with corrupted copies of its real-shaped fixtures.

Whatever a corruption does (``corruptions.corrupt``: truncate, drop a column, swap a type,
insert garbage, repeat a row), an import either succeeds exactly or fails with a ``UserError``
whose message names a source file, and then writes nothing. Exactly: the tables it writes pass
the contract schema, importing the same files again changes no byte, and after repeated rows
alone the tables equal those of the clean files. The source files never change.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from corruptions import corrupt
from hypothesis import event, given, settings
from hypothesis import strategies as st
from importer_support import EVERYTHING, read_out, run, snapshot

from tmaxedge.core.errors import UserError

CLEAN: dict[str, dict[str, pd.DataFrame]] = {}  # kind -> tables of the clean fixtures


def clean_tables(kind: str, files: list[Path], options: dict) -> dict[str, pd.DataFrame]:
    if kind not in CLEAN:
        with tempfile.TemporaryDirectory() as folder:
            run(kind, files, Path(folder) / "out", **options)
            CLEAN[kind] = read_out(Path(folder) / "out")
    return CLEAN[kind]


@pytest.mark.parametrize("kind, files, options", EVERYTHING, ids=[case[0] for case in EVERYTHING])
@settings(max_examples=30, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_corrupted_file_imports_exactly_or_fails_naming_it(kind, files, options, data):
    expected = clean_tables(kind, files, options)
    victim = data.draw(st.sampled_from(files), label="file")
    content, neutral = corrupt(data, victim.name, victim.read_bytes())
    prefilled = data.draw(st.booleans(), label="prefilled")  # merging into earlier imports
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sources = []
        for path in files:
            sources.append(folder / path.name)
            sources[-1].write_bytes(content if path == victim else path.read_bytes())
        given_bytes = {path: path.read_bytes() for path in sources}
        out = folder / "out"
        if prefilled:
            run(kind, files, out, **options)
        before = snapshot(out) if out.exists() else None
        try:
            run(kind, sources, out, **options)
        except UserError as error:
            event("refused")  # pytest --hypothesis-show-statistics shows how often
            message = str(error)
            assert any(str(path) in message for path in sources), message
            assert (snapshot(out) if out.exists() else None) == before
        else:
            event(f"imported{' (repeated rows only)' if neutral else ''}")
            written = read_out(out)  # every table passes the contract schema
            first = snapshot(out)
            run(kind, sources, out, **options)
            assert snapshot(out) == first  # the same files again: not a byte changes
            if neutral:
                assert written.keys() == expected.keys()
                for table, frame in expected.items():
                    pd.testing.assert_frame_equal(written[table], frame)
        assert {path: path.read_bytes() for path in sources} == given_bytes
        shutil.rmtree(out, ignore_errors=True)
