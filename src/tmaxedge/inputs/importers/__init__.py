"""Importers: real source files -> the contract tables in an output folder (data/external).

One module per source format; each has ``parse(files, options) -> Imported``, a pure function
of ``(file name, text)`` pairs (bytes instead of text for the binary files a kind reads:
``BINARY_SUFFIXES``), or for tabular sources (``TABLE_KINDS``: Parquet or CSV) of
``(file name, frame)`` pairs as ``io.read_source_table`` reads them. ``import_files`` is the
edge: it reads the files, parses them, and under the output folder's lock merges the rows into
what the folder already holds and writes the changed tables (``merge.merge_into``); on any
error nothing is written.

=========================  ====================================================  ===============
kind                       source                                                tables
=========================  ====================================================  ===============
kalshi-markets             Kalshi GET /markets, /historical/markets (JSON)        markets
kalshi-candles             Kalshi market candlesticks (JSON)                      quotes
kalshi-trades              Kalshi GET /markets/trades (JSON), trade tables        quotes (trades)
                           (Parquet, CSV, JSON)
orderbook-log              top-of-book change log (CSV)                           quotes
kalshi-price-history       Kalshi website price-history download (CSV)            quotes, markets
visual-crossing            Visual Crossing timeline (JSON or CSV)                 weather
asos                       IEM ASOS one- and five-minute (CSV)                    weather
nws-cli                    NWS Daily Climate Report text, or IEM CLI CSV          settlements
vc-forecasts               Visual Crossing historical daily forecasts (Parquet    forecasts
                           or CSV)
=========================  ====================================================  ===============
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tmaxedge.core import io
from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import (
    asos,
    kalshi_candles,
    kalshi_markets,
    kalshi_trades,
    nws_cli,
    orderbook_log,
    price_history,
    vc_forecasts,
    visual_crossing,
)
from tmaxedge.inputs.importers.common import Imported, ImportOptions
from tmaxedge.inputs.importers.merge import merge_into

Parser = Callable[[Sequence[tuple[str, str | bytes]], ImportOptions], Imported]
KINDS: dict[str, Parser] = {
    module.KIND: module.parse
    for module in (
        kalshi_markets,
        kalshi_candles,
        kalshi_trades,
        orderbook_log,
        price_history,
        visual_crossing,
        asos,
        nws_cli,
    )
}
# kinds whose files are tables (Parquet or CSV), parsed from frames instead of text
TABLE_KINDS: dict[str, Callable[[Sequence[tuple[str, Any]], ImportOptions], Imported]] = {
    vc_forecasts.KIND: vc_forecasts.parse
}

# kind -> suffixes of the files it reads as bytes (a binary format such as Parquet)
BINARY_SUFFIXES: dict[str, tuple[str, ...]] = {kalshi_trades.KIND: kalshi_trades.BINARY_SUFFIXES}

__all__ = [
    "KINDS",
    "TABLE_KINDS",
    "Imported",
    "ImportOptions",
    "import_files",
    "import_parsed",
    "read_files",
    "read_tables",
]


def read_files(paths: Sequence[Path], binary: Sequence[str] = ()) -> list[tuple[str, str | bytes]]:
    """``(name, text)`` of each file, ``(name, bytes)`` for one whose suffix is in ``binary``; a
    folder stands for its files (sorted, hidden skipped)."""
    return [
        (str(path), path.read_bytes() if path.suffix.lower() in binary else _text(path))
        for path in _source_files(paths)
    ]


def read_tables(paths: Sequence[Path]) -> list[tuple[str, Any]]:
    """``(name, frame)`` of each Parquet or CSV file (``io.read_source_table``: Parquet typed,
    CSV as text); a folder stands for its files."""
    found = _source_files(paths)
    other = [str(path) for path in found if path.suffix not in (".parquet", ".csv")]
    if other:
        raise DataError(f"{other[0]}: expected a .parquet or .csv file.")
    return [(str(path), io.read_source_table(path)) for path in found]


def _source_files(paths: Sequence[Path]) -> list[Path]:
    """The files ``paths`` name; a folder stands for its files (sorted, hidden skipped)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path}: no such file or folder.")
    if not found:
        raise DataError(f"no source files found in {[str(p) for p in paths]}.")
    return found


def _text(path: Path) -> str:
    """The file's text; DataError naming it when it is not UTF-8 (a binary or legacy file)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: cannot be read as UTF-8 text: {error}") from None


def import_files(
    kind: str, paths: Sequence[Path], out: Path, options: ImportOptions
) -> dict[str, Any]:
    """Import ``paths`` of ``kind`` into ``out``; returns the counts (``merge.merge_tables``)."""
    if kind in TABLE_KINDS:
        return import_parsed([TABLE_KINDS[kind](read_tables(paths), options)], out, options)
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; one of {sorted([*KINDS, *TABLE_KINDS])}.")
    files = read_files(paths, BINARY_SUFFIXES.get(kind, ()))
    return import_parsed([KINDS[kind](files, options)], out, options)


def import_parsed(imports: Sequence[Imported], out: Path, options: ImportOptions) -> dict[str, Any]:
    """Merge parsed imports into ``out`` and write the changed tables (all or nothing)."""
    return merge_into(imports, Path(out), options.cities)
