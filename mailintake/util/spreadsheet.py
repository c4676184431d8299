"""The one guard for applicant text in every file a spreadsheet program opens (汇总表, 公示名单, CSV export).

Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return could be taken for a formula
(CWE-1236). In a workbook such a cell is written as a string with Excel's quote prefix, so it shows the
text as typed and stays text even when edited; in CSV, which has no cell types, it gets a leading ``'``.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import Cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def guard_cell(cell: Cell) -> Cell:
    """Make a written cell inert: a string is never a formula, and formula-like text keeps a quote prefix."""
    if isinstance(cell.value, str):
        if cell.data_type == "f":
            cell.data_type = "s"
        if looks_like_formula(cell.value):
            cell.quotePrefix = True
    return cell


def csv_text(value: Any) -> Any:
    """A CSV field: formula-like text prefixed with ``'`` (a number written as ``-5``/``+86…`` is left alone)."""
    if not looks_like_formula(value):
        return value
    text: str = value
    if text[0] in "+-" and text[1:2].isdigit():
        return text
    return "'" + text
