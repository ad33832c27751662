"""Rendering CLI results as tables, CSV or JSON."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

from collector.cli.units import fmt_number

# Outside a terminal (make demo in CI, pipes) rich would wrap at 80 columns; tables need more.
_WIDTH = None if sys.stdout.isatty() else max(140, shutil.get_terminal_size((140, 40)).columns)
console = Console(width=_WIDTH)
err_console = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format, title: str | None = None,
         headers: Sequence[str] | None = None, units: Mapping[str, Callable[[Any], str]] | None = None) -> None:
    """``rows`` as JSON or CSV (raw values) or as a table, where ``units`` formats the columns it names."""
    if fmt is Format.json:
        sys.stdout.write(json.dumps(list(rows), ensure_ascii=False, indent=2, default=str) + "\n")
        return
    if fmt is Format.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
        return
    table = Table(title=title, header_style="bold")
    for h in headers or columns:
        table.add_column(h)
    for r in rows:
        table.add_row(*[(units or {}).get(c, fmt_number)(r.get(c)) for c in columns])
    console.print(table)
