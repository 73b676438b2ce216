"""Reading the small CSV/TSV tables a user writes by hand, keeping the line number of every row.

Error messages about such a table must point at the line in the file the user opens in an editor or a
spreadsheet, so rows are read with the csv module (pandas renumbers rows after blank lines).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crossfusion_core.errors import PipelineInputError

TAB_SEPARATED_SUFFIXES = (".tsv", ".tab", ".txt")
MAX_NAMED = 10
"""At most this many offending lines are listed in one message."""


@dataclass(frozen=True)
class TableRow:
    """One data row: its 1-based line number in the file and its stripped cell values by column."""

    line: int
    cells: dict[str, str]


def read_rows(path: Path, required: Sequence[str], what: str, fix: str) -> list[TableRow]:
    """The rows of the table at ``path`` (comma separated, or tab separated for .tsv/.tab/.txt).

    ``what`` names the table in messages (``slide sheet``); ``fix`` says which config key points at it.
    A missing file, a missing column or a table without rows is a :class:`PipelineInputError`.
    """
    delimiter = "\t" if path.suffix.lower() in TAB_SEPARATED_SUFFIXES else ","
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            columns = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in required if name not in columns]
            if missing:
                raise PipelineInputError(
                    path,
                    f"{what} lacks column(s) {missing} (found {columns}; separator {delimiter!r})",
                    f"give the columns {list(required)} in a header line",
                )
            rows = [_row(reader.line_num, raw) for raw in reader]
    except FileNotFoundError:
        raise PipelineInputError(path, f"{what} does not exist", fix) from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PipelineInputError(path, f"cannot read the {what} ({error})", fix) from error
    rows = [row for row in rows if any(row.cells.values())]
    if not rows:
        raise PipelineInputError(path, f"{what} has no rows", "list one row per slide or patient")
    return rows


def _row(line: int, raw: dict[str | None, str | list[str] | None]) -> TableRow:
    cells = {str(key).strip(): (value or "").strip() for key, value in raw.items() if isinstance(value, str)}
    return TableRow(line, cells)


def named_lines(rows: Sequence[TableRow], describe: str = "") -> str:
    """``line 3, line 7 (...)`` for a message; ``describe`` is a column whose value is shown per line."""
    shown = [f"line {row.line}" + (f" ({row.cells[describe]!r})" if describe else "") for row in rows]
    more = f" and {len(rows) - MAX_NAMED} more" if len(rows) > MAX_NAMED else ""
    return ", ".join(shown[:MAX_NAMED]) + more


def duplicated_groups(rows: Sequence[TableRow], column: str) -> list[list[TableRow]]:
    """Groups of rows sharing one value of ``column`` (each group listed once, in file order)."""
    by_value: dict[str, list[TableRow]] = {}
    for row in rows:
        by_value.setdefault(row.cells[column], []).append(row)
    return [group for group in by_value.values() if len(group) > 1]
