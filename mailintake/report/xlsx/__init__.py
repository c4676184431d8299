"""Sheet helpers for openpyxl, public and free of report data: styles made once, tables formatted for
screen and print, cell values Excel can carry. The report's workbook (``report/workbook.py``) is built with them."""
