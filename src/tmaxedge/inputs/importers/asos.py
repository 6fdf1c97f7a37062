"""IEM ASOS one- and five-minute CSV downloads -> ``weather`` rows of one city (``--city``).

Columns: ``station``, ``valid`` (or ``valid(UTC)``, the one-minute service's spelling) and
``tmpf`` (°F); others are ignored, and comment lines starting with ``#`` are skipped. ``valid``
is UTC unless it names a zone, or unless ``--tz`` says the download was made in another zone.
Missing temperatures (``M`` or empty) are skipped and counted (``n_missing_temp``); other text
is an error. A file may hold one station only: two stations for one city would mix records.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import (
    SOURCE,
    Imported,
    ImportOptions,
    require_city,
    rows_frame,
)

KIND = "asos"
_MISSING = ("M", "")


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Weather rows from ``(file name, text)`` pairs of IEM ASOS CSV downloads."""
    city = require_city(options, KIND)
    tz = v.check_tz(options.tz) or "UTC"
    frames, n_missing = [], 0
    for name, text in files:
        frame, missing = asos_rows(text, name, city, tz)
        frames.append(frame)
        n_missing += missing
    rows = pd.concat(frames, ignore_index=True)
    return Imported({"weather": rows}, {"n_missing_temp": n_missing})


def asos_rows(text: str, where: str, city: str, tz: str) -> tuple[pd.DataFrame, int]:
    """Contract weather rows of one download, and the number of missing temperatures."""
    raw = v.read_csv_text(text, where).rename(columns=lambda name: str(name).strip())
    if "valid" not in raw.columns and "valid(UTC)" in raw.columns:
        raw = raw.rename(columns={"valid(UTC)": "valid"})
    v.require_columns(raw, ["valid", "tmpf"], where, "an IEM ASOS download")
    if "station" in raw.columns and raw["station"].nunique() > 1:
        stations = sorted(raw["station"].dropna().unique())
        raise DataError(f"{where}: holds several stations {stations}; import one station per city.")
    missing = raw["tmpf"].isna() | raw["tmpf"].str.strip().isin(_MISSING)
    raw = raw[~missing]
    ts = v.parse_times(raw, "valid", where, tz, "")
    temp = v.convert_column(raw, "tmpf", v.finite, where, "must be °F (a number) or M (missing)")
    if raw.empty:
        return rows_frame("weather", []), int(missing.sum())
    rows = [
        {"city": city, "ts": t, "temp_f": f, SOURCE: where} for t, f in zip(ts, temp, strict=True)
    ]
    return rows_frame("weather", rows), int(missing.sum())
