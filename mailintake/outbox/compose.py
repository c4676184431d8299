"""Choose the kind of reply a mail gets and render its subject and body from the templates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mailintake.campaign.files import campaign_path, load_forms
from mailintake.campaign.rules import CampaignRules, campaign_rules, default_campaign
from mailintake.config.settings import Settings
from mailintake.config.shipped import warn_once
from mailintake.db.models import Message, Submission
from mailintake.db.vocabulary import MailStatus
from mailintake.errors import ConfigError
from mailintake.mail.model import is_junk_path
from mailintake.outbox import templates
from mailintake.outbox.recipients import header_text
from mailintake.util.text import cn_datetime as local_cn_datetime

if TYPE_CHECKING:
    from parsers.definitions import FormSet

#: message status -> reply kind; statuses not listed (ignored, failed) are never answered
KIND_BY_STATUS: dict[str, str] = {
    MailStatus.accepted: "receipt",
    MailStatus.needs_correction: "correction",
    MailStatus.too_large: "correction",
    MailStatus.late: "late",
    MailStatus.no_form: "no_form",
}
_CN_DIGITS = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}
_RECEIPT_TAG = re.compile(r"\s*\[申报回执[^\]]*\]")
_REPLY_PREFIX = re.compile(r"^\s*re\s*[:：]", re.IGNORECASE)


def reply_kind(message: Message) -> str | None:
    """The reply a mail deserves, or None (ignored, failed, and any automatic mail)."""
    if message.automatic_reason:
        return None
    return KIND_BY_STATUS.get(message.status)


def cn_datetime(value: datetime, settings: Settings) -> str:
    """``2019年12月18日17:30`` in the campaign time zone."""
    return local_cn_datetime(value, settings.campaign.tz)


def receipt_tag(receipt_no: str | None) -> str:
    return f"[申报回执 {header_text(receipt_no, 32)}]" if receipt_no else ""


def reply_subject(original: str, receipt_no: str | None, settings: Settings) -> str:
    """``Re: <original subject> [申报回执 2019-0042]`` — one line, older receipt tags removed."""
    base = _RECEIPT_TAG.sub("", header_text(original, 150)).strip() or settings.campaign.name
    if not _REPLY_PREFIX.match(base):
        base = f"Re: {base}"
    tag = receipt_tag(receipt_no)
    return header_text(f"{base} {tag}" if tag else base, 250)


def _forms(settings: Settings) -> FormSet | None:
    path = campaign_path(settings, "forms")  # a path that does not exist: ConfigError, as everywhere
    try:
        return load_forms(path)
    except Exception:  # a broken forms file must not stop a reply; labels fall back to keys
        return None


def reply_campaign(settings: Settings) -> CampaignRules:
    """The configured campaign's rules; the shipped ones (and a warning) when its file is broken."""
    try:
        return campaign_rules(settings)
    except ConfigError as exc:  # a broken campaign file must not stop a reply (check-config names it)
        warn_once(f"{exc}; replies use the shipped campaign's wording")
        return default_campaign()


def _line(value: object, limit: int = 500) -> str:
    return header_text(value, limit)


@dataclass
class FormView:
    """One recognised form as the templates show it."""

    table: int
    display: str
    name: str
    who: str
    word_count: int
    max_chars: int
    defects: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """表2《为民服务工作先进集体申报表》: the form named once, in book-title marks, so the
        applicant's own details can follow in brackets without a doubled “）（”."""
        table, bracket, rest = self.display.partition("（")
        return f"{table}《{rest.removesuffix('）')}》" if bracket and rest else self.display

    @property
    def words(self) -> str:
        return f"{self.word_count}/{self.max_chars}"

    @property
    def overlong(self) -> bool:
        return self.word_count > self.max_chars


@dataclass
class AttachmentView:
    """One file of the mail: its own problems and the forms read from it."""

    path: str
    defects: list[str] = field(default_factory=list)
    forms: list[FormView] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """Each defect as a line of its own, naming this file once (most messages name it already)."""
        bare = self.path.rsplit("/", 1)[-1]
        return [line if f"“{bare}”" in line or f"“{self.path}”" in line else f"附件“{self.path}”：{line}"
                for line in self.defects]

    @property
    def has_defects(self) -> bool:
        return bool(self.defects) or any(form.defects for form in self.forms)


@dataclass(frozen=True)
class RenderedReply:
    kind: str
    subject: str
    text: str
    html: str | None


class Composer:
    """Builds the template context for one mail."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.forms = _forms(settings)
        self.campaign = reply_campaign(settings)

    def label(self, table: int, key: str) -> str:
        if self.forms is not None:
            try:
                return self.forms.label(table, key)
            except KeyError:
                pass
        return key

    def display(self, submission: Submission) -> tuple[str, str]:
        if self.forms is not None:
            try:
                definition = self.forms.get(submission.table_no)
                return definition.display, definition.name
            except KeyError:
                pass
        title = _line(submission.title, 100)
        return f"表{submission.table_no}（{title}）", title

    def flag_line(self, flag: object, table: int | None = None) -> str:
        """A stored flag as one line: its message verbatim, prefixed by the field's label if not named."""
        if not isinstance(flag, dict):
            return _line(flag)
        message = _line(flag.get("message") or flag.get("code") or "")
        key = flag.get("field")
        if key and table is not None:
            label = self.label(table, str(key))
            if label not in message:
                return f"{label}：{message}"
        return message

    def who(self, submission: Submission) -> str:
        """How the reply names one form's applicant ([table.reply] of the campaign file): the person
        and their unit (“张三，申报单位：某局”), or the unit itself."""
        rules = self.campaign.table(submission.table_no)
        fields = submission.fields or {}
        person = _line(fields.get(rules.person), 60) if rules.person else ""
        if person:
            unit = _line(rules.typed_unit(fields), 120)
            return f"{person}，{rules.unit_label}：{unit}" if unit else person
        typed = _line(rules.typed_unit(fields), 120) if not rules.person else ""
        return typed or _line(submission.unit, 120) or f"（未填写{rules.unit_label or '单位'}）"

    def form_view(self, submission: Submission) -> FormView:
        display, name = self.display(submission)
        limit = self.settings.campaign.max_chars
        # listed under the form's heading, a flag need not name the form again
        defects = [self.flag_line(flag, submission.table_no).removeprefix(display)
                   for flag in submission.flags or []]
        codes = {flag.get("code") for flag in submission.flags or [] if isinstance(flag, dict)}
        if submission.word_count > limit and "overlong" not in codes:
            defects.append(f"字数超出限制（{submission.word_count}/{limit}），请精简至{limit}字以内")
        return FormView(
            table=submission.table_no,
            display=display,
            name=name,
            who=self.who(submission),
            word_count=submission.word_count,
            max_chars=limit,
            defects=_unique(defects),
        )

    def attachment_views(self, message: Message) -> list[AttachmentView]:
        views: dict[int, AttachmentView] = {}
        for attachment in message.attachments:
            views[attachment.id] = AttachmentView(
                path=_line(attachment.path, 200),
                defects=_unique(self.flag_line(flag) for flag in attachment.flags or []),
            )
        for submission in message.submissions:
            view = views.get(submission.attachment_id)
            if view is None:
                view = views.setdefault(submission.attachment_id, AttachmentView(path="（附件）"))
            view.forms.append(self.form_view(submission))
        return [view for view in views.values() if view.defects or view.forms]

    def context(self, message: Message, kind: str) -> dict[str, Any]:
        campaign = self.settings.campaign
        attachments = self.attachment_views(message)
        return {
            "kind": kind,
            "status": message.status,
            "receipt_no": message.receipt_no or "",
            "received_at": cn_datetime(message.received_at, self.settings),
            "deadline": cn_datetime(campaign.deadline, self.settings),
            "campaign_name": campaign.name,
            "office_name": campaign.office_name,
            "office_contact": campaign.office_contact,
            "office_address": campaign.office_address,
            "paper_copies": campaign.paper_copies,
            "paper_copies_cn": _CN_DIGITS.get(campaign.paper_copies, str(campaign.paper_copies)),
            "max_chars": campaign.max_chars,
            "max_projects_per_unit": campaign.max_projects_per_unit,
            "original_subject": _line(message.subject, 150),
            "attachments": attachments,
            "forms": [form for view in attachments for form in view.forms],
            # a file's own flags are listed under that file, not again among the mail's
            "message_flags": [line for line in _unique(self.flag_line(flag) for flag in message.flags or [])
                              if not any(line in view.defects for view in attachments)],
            "too_large": message.status == MailStatus.too_large,
            "has_files": any(not is_junk_path(a.path) for a in message.attachments) or bool(message.flags),
            "after_deadline": message.received_at > campaign.deadline,
            "max_message_mb": self.settings.mailbox.max_message_bytes // (1024 * 1024),
        }


def _unique(lines: Any) -> list[str]:
    seen: list[str] = []
    for line in lines:
        if line and line not in seen:
            seen.append(line)
    return seen


def with_status_line(rendered: RenderedReply, line: str | None) -> RenderedReply:
    """The reply with the status-page line appended (text, and HTML when there is one)."""
    if not line:
        return rendered
    from mailintake.applicant.tokens import append_line

    text = append_line(rendered.text, line)
    html = rendered.html
    if html is not None:
        from markupsafe import escape

        paragraph = f"<p>{escape(line)}</p>"
        html = html.replace("</body>", paragraph + "</body>", 1) if "</body>" in html else html + paragraph
    return replace(rendered, text=text, html=html)


def render_reply(settings: Settings, message: Message, kind: str, attached: Sequence[str] = ()) -> RenderedReply:
    """Subject, plain text and (when an HTML template exists) HTML of the reply ``kind`` to ``message``;
    ``attached``: the names of the files the reply carries (the blank 附件1 with a no-form reply)."""
    context = {**Composer(settings).context(message, kind), "attached_files": list(attached)}
    text = templates.render(settings, f"reply_{kind}.txt.j2", context)
    html = templates.render(settings, f"reply_{kind}.html.j2", context, optional=True)
    assert text is not None
    return RenderedReply(kind, reply_subject(message.subject, message.receipt_no, settings), text, html)
