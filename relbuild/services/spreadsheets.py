"""Cells for CSV files people open in spreadsheets."""


def safe_cell(text: str) -> str:
    """Defuse a cell a spreadsheet would run as a formula (=, +, -, @ and control characters)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
