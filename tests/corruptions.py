"""Random corruptions of real-shaped source files, for the importer and ingest fuzz tests.

``corrupt(data, name, content)`` draws one to three edits of a file's bytes as a hostile or
careless source would make them: truncate it, drop a column (a CSV field, a JSON key), put a
value of another type in a cell, insert garbage (text or bytes that are not UTF-8), or repeat a
row (a CSV line, an item of a JSON list) right after itself. It returns the new bytes and
whether every edit was a repeat, after which an import must give exactly the clean result.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# cells a careless export writes where a number, time or name belongs
CELL_TOKENS = (
    "",
    "abc",
    "M",
    "-5",
    "0.5",
    "1.5",
    "42.0",
    "100",
    "101",
    "1e400",
    "NaN",
    "inf",
    "true",
    "2025-11-14",
    "2025-11-14 12:00",
    "2025-11-14T12:00:00Z",
    "-9999",
    '"',
    "°",
)
JSON_VALUES = (None, "", "x", "0.4200", "1", 1.5, -1, 0, 10**30, True, [], {}, "2025-11-14T17:00Z")
OPS = ("truncate", "drop_column", "swap_type", "garbage", "repeat_row")


def corrupt(data: st.DataObject, name: str, content: bytes) -> tuple[bytes, bool]:
    """``content`` after one to three random edits, and whether they were all row repeats."""
    ops = data.draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=3), label="ops")
    neutral = all(op == "repeat_row" for op in ops)
    for op in ops:
        content, kept = _apply(data, op, name, content)
        neutral &= kept
    return content, neutral


def _apply(data: st.DataObject, op: str, name: str, content: bytes) -> tuple[bytes, bool]:
    """One edit; the flag says whether it left the meaning unchanged (a repeat it could make)."""
    if op == "truncate":
        return content[: data.draw(st.integers(0, len(content)), label="cut")], False
    if op == "garbage":
        at = data.draw(st.integers(0, len(content)), label="at")
        junk = data.draw(st.one_of(st.binary(min_size=1, max_size=8), _text_bytes()), label="junk")
        return content[:at] + junk + content[at:], False
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:  # an earlier edit left bytes: only byte edits apply now
        return content, False
    if name.endswith(".json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return content, False
        document, kept = _json_edit(data, op, document)
        return json.dumps(document).encode("utf-8"), kept
    is_csv = name.endswith(".csv")  # a repeated line of a text product is no repeated row
    return _lines_edit(data, op, text, is_csv).encode("utf-8"), op == "repeat_row" and is_csv


def _text_bytes() -> st.SearchStrategy[bytes]:
    return st.text(min_size=1, max_size=8).map(lambda text: text.encode("utf-8"))


# --- CSV and text: lines and comma-separated fields -------------------------------------------


def _lines_edit(data: st.DataObject, op: str, text: str, is_csv: bool) -> str:
    lines = text.split("\n")
    header = next((i for i, line in enumerate(lines) if line and not line.startswith("#")), None)
    rows = [i for i, line in enumerate(lines) if header is not None and i > header and line]
    if not is_csv:  # a text product: a line repeated, or a word changed
        rows = [i for i, line in enumerate(lines) if line.strip()]
    if not rows:
        return text
    row = data.draw(st.sampled_from(rows), label="row")
    if op == "repeat_row":
        return "\n".join(lines[: row + 1] + [lines[row]] + lines[row + 1 :])
    if op == "drop_column" and is_csv:
        column = data.draw(st.integers(0, len(lines[header].split(",")) - 1), label="column")
        return "\n".join(_without_field(line, column) for line in lines)
    fields = lines[row].split("," if is_csv else " ")
    field = data.draw(st.integers(0, len(fields) - 1), label="field")
    fields[field] = data.draw(st.sampled_from(CELL_TOKENS), label="token")
    lines[row] = ("," if is_csv else " ").join(fields)
    return "\n".join(lines)


def _without_field(line: str, column: int) -> str:
    if not line or line.startswith("#"):
        return line
    fields = line.split(",")
    return ",".join(fields[:column] + fields[column + 1 :])


# --- JSON: keys, leaves and list items --------------------------------------------------------


def _json_edit(data: st.DataObject, op: str, document: Any) -> tuple[Any, bool]:
    places = list(_walk(document, ()))
    if op == "drop_column":
        keys = sorted({path[-1] for path, _ in places if path and isinstance(path[-1], str)})
        if not keys:
            return document, False
        return _drop_key(document, data.draw(st.sampled_from(keys), label="key")), False
    if op == "repeat_row":
        lists = [path for path, value in places if isinstance(value, list) and value]
        if not lists:
            return document, True
        path = data.draw(st.sampled_from(lists), label="list")
        items = _get(document, path)
        at = data.draw(st.integers(0, len(items) - 1), label="item")
        items.insert(at + 1, json.loads(json.dumps(items[at])))
        return document, True
    leaves = [path for path, value in places if path and not isinstance(value, dict | list)]
    if not leaves:
        return document, False
    path = data.draw(st.sampled_from(leaves), label="leaf")
    _get(document, path[:-1])[path[-1]] = data.draw(st.sampled_from(JSON_VALUES), label="value")
    return document, False


def _walk(value: Any, path: tuple) -> Any:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _get(document: Any, path: tuple) -> Any:
    for step in path:
        document = document[step]
    return document


def _drop_key(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _drop_key(item, key) for k, item in value.items() if k != key}
    if isinstance(value, list):
        return [_drop_key(item, key) for item in value]
    return value
