"""The office's daily intake report (``build``: HTML summary + 汇总表 workbook, ``mail``: queued for the office),
the 截止报告 (``final_report``) and the JSON/CSV/Excel export (``export``)."""
