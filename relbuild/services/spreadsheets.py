"""CSV files people open in spreadsheets."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

BOM = "\ufeff"  # without it, Excel on Windows reads UTF-8 as its local code page: "ZoÃ«" for "Zoë"


def safe_cell(text: str) -> str:
    """Defuse a cell a spreadsheet would run as a formula (=, +, -, @ and control characters)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(header: list[str], rows: Iterable[Iterable[str | None]]) -> str:
    """A CSV file as text: a UTF-8 byte order mark, the header, then every row with its cells defused."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([safe_cell(cell or "") for cell in row] for row in rows)
    return out.getvalue()
