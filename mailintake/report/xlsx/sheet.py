"""Writing one sheet: cell values Excel can carry, style arrays made once, a formatted table, print setup."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Sequence
from copy import copy
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from parsers.definitions import FormDefinition

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MAX_CELL = 32767

_WRAP = Alignment(wrap_text=True, vertical="top")
_HEAD_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")
_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
TITLE_FONT = Font(bold=True, size=14)


def sheet_title(definition: FormDefinition) -> str:
    """表1 改革创新标兵单位 — the sheet of one table (at most 31 characters, as Excel demands)."""
    return f"表{definition.table} {definition.name}"[:31]


def clean(value: Any) -> Any:
    """Strings without characters XML cannot carry, cut to Excel's cell limit; datetimes made naive."""
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


class Styles:
    """Style arrays made once per workbook and copied onto cells: setting openpyxl styles cell by cell
    hashes every style object and dominates the time for a thousand records."""

    def __init__(self) -> None:
        self._cache: dict[str, StyleArray] = {}

    def apply(self, cell: Cell, kind: str) -> None:
        cached = self._cache.get(kind)
        if cached is None:
            cell.border = _BORDER
            if kind != "plain":
                cell.alignment = _WRAP
            if kind == "date":
                cell.number_format = DATETIME_FORMAT
            self._cache[kind] = copy(cell._style)
        else:
            cell._style = copy(cached)


def put(ws: Worksheet, row: int, col: int, value: Any, styles: Styles) -> None:
    cell = ws.cell(row=row, column=col, value=clean(value))
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"  # text typed by an applicant is never a formula
    styles.apply(cell, "date" if isinstance(cell.value, dt.datetime) else "text")


def table(ws: Worksheet, headers: Sequence[tuple[str, float]], rows: list[list[Any]], styles: Styles, *,
           start: int = 1, title: str = "", repeat_cols: str | None = None) -> None:
    """A header row plus data rows, formatted for screen and print."""
    for col, (label, width) in enumerate(headers, start=1):
        cell = ws.cell(row=start, column=col, value=label)
        cell.font = _HEAD_FONT
        cell.fill = _HEAD_FILL
        cell.alignment = _HEAD_ALIGN
        cell.border = _BORDER
        ws.column_dimensions[get_column_letter(col)].width = width
    for offset, values in enumerate(rows, start=1):
        for col, value in enumerate(values, start=1):
            put(ws, start + offset, col, value, styles)
    grow_rows(ws, [width for _, width in headers], rows, start)
    last = get_column_letter(len(headers))
    ws.freeze_panes = ws.cell(row=start + 1, column=1)
    if rows:
        ws.auto_filter.ref = f"A{start}:{last}{start + len(rows)}"
    ws.print_title_rows = f"{start}:{start}"
    if repeat_cols:
        ws.print_title_cols = repeat_cols
    print_setup(ws, title)


#: points per printed line at the default 11 pt type, and Excel's largest row height
_LINE_POINTS = 15.0
_MAX_ROW_POINTS = 409.0


def text_lines(value: Any, width: float) -> int:
    """How many lines ``value`` wraps to in a column ``width`` characters wide (CJK counts two)."""
    if not isinstance(value, str) or not value:
        return 1
    usable = max(width - 1.5, 1.0)
    total = 0
    for line in value.split("\n"):
        wide = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        total += max(1, math.ceil(wide / usable))
    return total


def grow_rows(ws: Worksheet, widths: list[float], rows: list[list[Any]], start: int) -> None:
    """Row heights that fit the wrapped text: Excel grows rows itself, LibreOffice's print does not."""
    for offset, values in enumerate(rows, start=1):
        lines = max((text_lines(v, w) for v, w in zip(values, widths, strict=False)), default=1)
        if lines > 1:
            ws.row_dimensions[start + offset].height = min(_MAX_ROW_POINTS, lines * _LINE_POINTS)


def print_setup(ws: Worksheet, title: str) -> None:
    """A4 landscape at 100 % (wide sheets continue on further pages rather than shrink the type), a
    page header naming the campaign, the sheet and the date, and 第 N 页 / 共 M 页 in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.scale = 100
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.7
    if title:
        ws.oddHeader.center.text = f"{title} · &A"
        ws.oddHeader.center.size = 10
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        ws.oddFooter.center.size = 10
