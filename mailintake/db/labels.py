"""The office's words for what is stored: status and kind labels, issue codes, and the small readers of stored flags
(the report, the console, reminders and the hand-off all show them)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from mailintake.db.vocabulary import MailStatus, OutboxStatus

STATUS_LABELS: dict[str, str] = {
    MailStatus.accepted: "已受理",
    MailStatus.needs_correction: "需更正",
    MailStatus.late: "逾期",
    MailStatus.no_form: "无申报表",
    MailStatus.ignored: "已忽略",
    MailStatus.too_large: "过大",
    MailStatus.failed: "处理失败",
}
REPLY_KIND_LABELS: dict[str, str] = {
    "receipt": "回执",
    "correction": "更正通知",
    "late": "逾期告知",
    "no_form": "无申报表提示",
    "report": "日报",
    "reminder": "催报",
    "decision": "办公室决定通知",
    "final_report": "截止报告",
}
OUTBOX_STATUS_LABELS: dict[str, str] = {
    OutboxStatus.pending: "待发送",
    OutboxStatus.sent: "已发送",
    OutboxStatus.failed: "发送失败",
    OutboxStatus.suppressed: "未发送（已拦截）",
}
#: the submission flags the report lists, with their section titles
ISSUE_CODES: dict[str, str] = {
    "overlong": "超过字数限制的申报",
    "incomplete": "填写不完整的申报",
    "quota_exceeded": "超出申报数量限制的申报",
}
NO_UNIT = "（未填写单位）"
#: flag codes that make a form need correction (the rules decide with them; the report lists them)
CORRECTION_CODES = frozenset({"incomplete", "overlong", "unreadable", "unsupported_format", "quota_exceeded"})


def report_title(campaign: str) -> str:
    """“双争双创”活动先进荣誉申报 → “双争双创”活动先进荣誉申报情况日报 (no doubled 申报)."""
    return f"{campaign}情况日报" if campaign.endswith("申报") else f"{campaign}申报情况日报"


def local(value: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    return value.astimezone(tz) if value is not None else None


def flag_messages(flags: list[Any]) -> list[str]:
    """The Chinese message of each stored flag (dicts as written by Flag.to_dict)."""
    out: list[str] = []
    for flag in flags or []:
        if isinstance(flag, dict):
            out.append(str(flag.get("message") or flag.get("code") or ""))
        else:
            out.append(str(flag))
    return [m for m in out if m]


def flag_codes(flags: list[Any]) -> set[str]:
    return {str(f.get("code")) for f in flags or [] if isinstance(f, dict)}
