"""Helpers shared by the importer tests: fixture paths, running an import, reading the output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from tmaxedge.inputs import contract
from tmaxedge.inputs.importers import ImportOptions, import_files
from tmaxedge.inputs.ingest import check_schema, coerce_table

FIXTURES = Path(__file__).parent / "fixtures"
EVENT = "KXHIGHCHI-25NOV14"
MARKET_PAGES = [FIXTURES / "kalshi_markets_page1.json", FIXTURES / "kalshi_markets_page2.json"]
EVERYTHING = [  # (kind, files, options): one event of Chicago from every kind of source
    ("kalshi-markets", MARKET_PAGES, {}),
    (
        "kalshi-candles",
        [FIXTURES / f"{EVENT}-B44.5.json", FIXTURES / f"historical_candles_{EVENT}-B42.5.json"],
        {},
    ),
    ("kalshi-trades", [FIXTURES / "kalshi_trades.json"], {}),
    ("orderbook-log", [FIXTURES / f"orderbook_log_{EVENT}.csv"], {"tz": "America/Los_Angeles"}),
    ("kalshi-price-history", [FIXTURES / "kalshi-price-history-kxhighchi-25nov14-minute.csv"], {}),
    (
        "visual-crossing",
        [FIXTURES / "visual_crossing_chi.json", FIXTURES / "visual_crossing_chi.csv"],
        {"city": "chi"},
    ),
    ("asos", [FIXTURES / "asos_mdw_5min.csv", FIXTURES / "asos_mdw_1min.csv"], {"city": "chi"}),
    ("nws-cli", [FIXTURES / "cli_mdw_25nov14.txt", FIXTURES / "iem_cli_mdw.csv"], {"city": "chi"}),
]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC").as_unit("us")


def run(kind: str, paths, out: Path, **options) -> dict:
    """``import_files`` with the shipped cities and ``options``."""
    return import_files(kind, [Path(p) for p in paths], out, ImportOptions(**options))


def read_out(out: Path) -> dict[str, pd.DataFrame]:
    """The contract tables in ``out`` as ingest reads them: coerced, checked by the schema (the
    trade ledger, which ingest does not read, is left out)."""
    tables = {}
    for path in sorted(Path(out).glob("*.parquet")):
        if path.stem not in contract.RAW_DTYPES:
            assert path.stem == "trades", path  # the only other table the importers write
            continue
        frame, ignored = coerce_table(pd.read_parquet(path), path.stem, str(path), False)
        assert ignored == [], ignored  # only contract columns are written
        check_schema(frame, path.stem, str(path))
        tables[path.stem] = frame
    return tables


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` with its bytes: equal snapshots = nothing written."""
    return {
        str(p.relative_to(out)): p.read_bytes() for p in sorted(Path(out).rglob("*")) if p.is_file()
    }


def write(folder: Path, name: str, text: str) -> Path:
    """A hand-made source file for one malformed case."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_json(folder: Path, name: str, content) -> Path:
    return write(folder, name, json.dumps(content))


def starts(text: str) -> str:
    """A ``match`` pattern for an error message starting with ``text``."""
    return re.escape(text)


def rows(frame: pd.DataFrame, columns: list[str]) -> set[tuple]:
    """Rows as a set of tuples, nulls as None, for exact-set asserts."""
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    return set(map(tuple, values.itertuples(index=False)))


def contract_columns(table: str) -> list[str]:
    return list(contract.RAW_DTYPES[table])
