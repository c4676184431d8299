"""The workbook's office lists and its technical sheet (the rest is in ``workbook``).

- 需人工处理: mails without a form — questions, thanks, chatter — with the first lines of the body;
- 纸质材料: the paper-copy register, received (with the date) and still missing;
- 技术信息: what the office needs only to trace a record (record ids, file paths, Message-IDs),
  kept off the printed sheets.
"""

from __future__ import annotations

from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

from mailintake.report.data import ReportData
from mailintake.report.xlsx.sheet import Styles, table


def manual_sheet(ws: Worksheet, data: ReportData, styles: Styles, title: str) -> None:
    # one page wide on A4 landscape (about 110 character widths at 100 %, as LibreOffice prints them)
    headers = [("序号", 4), ("收件时间", 17), ("发件人", 20), ("主题", 18), ("正文开头", 32), ("附件", 10),
               ("回执编号", 9)]
    rows = [[index, mail.received_at, mail.sender, mail.subject, mail.excerpt, "\n".join(mail.attachments),
             mail.receipt_no] for index, mail in enumerate(data.manual, start=1)]
    table(ws, headers, rows, styles, title=title)


def paper_sheet(ws: Worksheet, data: ReportData, styles: Styles, title: str) -> None:
    headers = [("序号", 4), ("单位", 24), ("类别", 20), ("纸质材料", 8), ("收到日期", 11), ("已报表格", 9),
               ("份数", 5), ("发件人", 22), ("备注", 7)]
    rows: list[list[Any]] = []
    for paper in data.paper_received:
        rows.append([len(rows) + 1, paper.unit, paper.category, "已收到", paper.received_on.isoformat(), "", "", "",
                     paper.note])
    for gap in data.paper_missing:
        rows.append([len(rows) + 1, gap.name, gap.category, "尚未收到", "", "、".join(f"表{t}" for t in gap.tables),
                     gap.forms, "，".join(gap.senders), ""])
    table(ws, headers, rows, styles, title=title)


def technical_sheet(ws: Worksheet, data: ReportData, styles: Styles, title: str) -> None:
    headers = [("表", 6), ("序号", 6), ("记录编号", 10), ("附件", 50), ("回执编号", 12), ("邮件编号", 10),
               ("Message-ID", 50)]
    message_ids = {mail.receipt_no: (mail.id, mail.message_id) for mail in data.mails if mail.receipt_no}
    rows: list[list[Any]] = []
    for definition in data.forms.tables:
        views = [v for v in data.submissions if v.table == definition.table]
        for index, view in enumerate(views, start=1):
            mail_pk, message_id = message_ids.get(view.receipt_no, ("", ""))
            rows.append([f"表{view.table}", index, view.id, view.attachment, view.receipt_no, mail_pk, message_id])
    for mail in data.mails:
        rows.append(["邮件", "", "", "\n".join(mail.attachments), mail.receipt_no, mail.id, mail.message_id])
    table(ws, headers, rows, styles, title=title)
