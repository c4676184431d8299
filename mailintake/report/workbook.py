"""Write the 汇总表 workbook: a 汇总 sheet, one sheet per table with every current record, a 邮件 sheet,
the office's lists (需人工处理, 纸质材料) and the technical columns on a sheet of their own.

Made to be printed and worked from: Chinese headers, frozen header row, wrapped text, A4 landscape
at full size (never shrunk below the type size), the header row and the first columns repeated on
every page, a page header with the campaign and the date, page numbers in the footer. Times are real
Excel datetimes in the campaign time zone (Excel has no time zones, so they are written naive).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from mailintake.db.vocabulary import OutboxStatus
from mailintake.report.data import ReportData
from mailintake.report.rows import SubmissionView
from mailintake.report.workbook_office import manual_sheet, paper_sheet, technical_sheet
from mailintake.report.xlsx.sheet import TITLE_FONT, Styles, put, sheet_title, table
from parsers.definitions import FormDefinition


def record_headers(definition: FormDefinition, extra_keys: list[str]) -> list[tuple[str, float]]:
    """Column headers of a table sheet: the form's fields in order, then what the office needs."""
    headers: list[tuple[str, float]] = [("序号", 6)]
    for item in definition.fields:
        headers.append((item.label, 55 if item.narrative else 16))
    headers += [(key, 20) for key in extra_keys]
    headers += [("字数", 7), ("问题", 36), ("名录单位", 18), ("名录类别", 14), ("发件人", 24), ("发件人姓名", 12),
                ("收件时间", 18), ("回执编号", 12), ("办公室决定", 24)]
    return headers


def record_row(index: int, view: SubmissionView, definition: FormDefinition, extra_keys: list[str]) -> list[Any]:
    values: list[Any] = [index]
    values += [view.fields.get(item.key, "") for item in definition.fields]
    values += [view.fields.get(key, "") for key in extra_keys]
    values += [view.word_count, "\n".join(view.flag_texts), view.roster_unit, view.category, view.sender,
               view.sender_name,
               view.received_at, view.receipt_no,
               view.decision.text(view.received_at.tzinfo or dt.UTC) if view.decision else ""]
    return values


def _summary_sheet(ws: Worksheet, data: ReportData, styles: Styles, title: str) -> None:
    ws.title = "汇总"
    ws.cell(row=1, column=1, value=f"{data.campaign.removesuffix('申报')}申报汇总表").font = TITLE_FONT
    since = data.since.strftime("%Y-%m-%d %H:%M") if data.since else "开始收件"
    facts: list[tuple[str, Any]] = [
        ("报告日期", data.for_date.isoformat()),
        ("生成时间", data.generated_at),
        ("申报截止", data.deadline),
        (f"新收邮件（{since}以来）", data.counts.mails_since),
        ("累计邮件", data.counts.mails_total),
        (f"新收申报表（{since}以来）", data.counts.forms_since),
        ("累计申报表", data.counts.forms_total),
        ("当前有效申报表", data.counts.current_forms),
        ("其中已受理", sum(h.accepted for h in data.honours)),
        ("其中待更正", sum(h.to_correct for h in data.honours)),
        ("逾期邮件", len(data.late_mails)),
        ("超过字数", len(data.issues.get("overlong", []))),
        ("填写不完整", len(data.issues.get("incomplete", []))),
        ("超出申报数量", len(data.issues.get("quota_exceeded", []))),
        ("待更正未重报", len(data.pending_corrections)),
        ("回复发送失败", len(data.failed_replies)),
        ("尚未报送的名录单位", len(data.silent_units)),
        ("纸质材料未收到", len(data.paper_missing)),
        ("纸质材料已收到", len(data.paper_received)),
        ("需人工处理的邮件", len(data.manual)),
        ("其中待答复", data.manual_waiting),
        ("未匹配名录的单位名称", len(data.unmatched)),
    ]
    for row, (label, value) in enumerate(facts, start=3):
        put(ws, row, 1, label, styles)
        put(ws, row, 2, value, styles)
    start = len(facts) + 5
    rows: list[list[Any]] = []
    for honour in data.honours:
        for category in honour.categories:
            rows.append([f"表{honour.table} {honour.name}", category.category, category.quota_text, category.count,
                         f"超出{category.over}个" if category.over else "", category.accepted, category.to_correct])
        rows.append([f"表{honour.table} {honour.name}", "合计", honour.total_text, honour.count, "", honour.accepted,
                     honour.to_correct])
    table(ws, [("荣誉", 26), ("类别", 30), ("名额配比", 16), ("当前申报", 10), ("说明", 16), ("已受理", 10),
                ("待更正", 10)], rows, styles, start=start, title=title)
    ws.freeze_panes = None
    ws.print_title_rows = None
    # one page wide, as many pages down as it takes: the last column (待更正) never spills onto pages of its own
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0


def _mail_sheet(ws: Worksheet, data: ReportData, styles: Styles, title: str) -> None:
    headers = [("序号", 6), ("收件时间", 20), ("发件人", 28), ("发件人姓名", 14), ("主题", 36), ("状态", 10),
               ("回执编号", 14), ("附件", 30), ("申报表数", 9), ("问题", 40), ("回复", 40)]
    rows = []
    for index, mail in enumerate(data.mails, start=1):
        replies = [
            f"{r.kind_label}：{r.status_label}"
            + (f" {r.sent_at:%Y-%m-%d %H:%M}" if r.sent_at else "")
            + (f"（{r.last_error}）" if r.status == OutboxStatus.failed and r.last_error else "")
            + (f" → {'，'.join(r.recipients)}" if r.recipients else "")
            for r in mail.replies
        ]
        rows.append([index, mail.received_at, mail.from_addr, mail.from_name, mail.subject, mail.status_label,
                     mail.receipt_no, "\n".join(mail.attachments), mail.form_count, "\n".join(mail.flags),
                     "\n".join(replies)])
    table(ws, headers, rows, styles, title=title, repeat_cols="A:C")


def page_title(data: ReportData) -> str:
    """The page header: the campaign and the report's date."""
    return f"{data.campaign} 汇总表（{data.for_date.isoformat()}）"


def write_workbook(data: ReportData, path: Path) -> Path:
    """Write the whole workbook in one pass and return its path."""
    wb = Workbook()
    styles = Styles()
    title = page_title(data)
    _summary_sheet(wb.active, data, styles, title)
    for definition in data.forms.tables:
        views = [v for v in data.submissions if v.table == definition.table]
        known = set(definition.keys)
        extra = sorted({k for v in views for k in v.fields if k not in known})
        ws = wb.create_sheet(sheet_title(definition))
        rows = [record_row(i, v, definition, extra) for i, v in enumerate(views, start=1)]
        table(ws, record_headers(definition, extra), rows, styles, title=title, repeat_cols="A:B")
    manual_sheet(wb.create_sheet("需人工处理"), data, styles, title)
    paper_sheet(wb.create_sheet("纸质材料"), data, styles, title)
    _mail_sheet(wb.create_sheet("邮件"), data, styles, title)
    technical_sheet(wb.create_sheet("技术信息"), data, styles, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
