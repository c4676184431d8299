"""The order of the rules, as data, and the decision they lead to."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from mailintake.config.settings import Settings
from mailintake.db.labels import CORRECTION_CODES
from mailintake.db.vocabulary import MailStatus
from mailintake.mail.model import ParsedMail
from mailintake.rules.automatic import AutomaticRule
from mailintake.rules.base import Findings, MailContext, Rule
from mailintake.rules.file_defects import FileDefectsRule
from mailintake.rules.late import LateRule
from mailintake.rules.pages import AttachedPagesRule
from mailintake.rules.quota import QuotaRule

#: before parsing: a mail these rules ignore is recorded, never parsed nor answered
BEFORE_PARSE: tuple[Rule, ...] = (AutomaticRule(),)
#: after parsing, every rule runs, in this order (a page linked by one is a form's for the next)
AFTER_PARSE: tuple[Rule, ...] = (LateRule(), AttachedPagesRule(), FileDefectsRule(), QuotaRule())



def run_chain(rules: tuple[Rule, ...], ctx: MailContext) -> tuple[MailContext, Findings]:
    """Run ``rules`` in order and collect their findings; the context as the last rule left it."""
    found = Findings()
    for rule in rules:
        findings = rule.check(ctx)
        if findings.files is not None:
            ctx = replace(ctx, files=findings.files)
        found = found.add(findings)
    return ctx, found


def decide(ctx: MailContext, found: Findings) -> MailStatus:
    """accepted | needs_correction | late | no_form | ignored."""
    if found.ignored_reason is not None:
        return MailStatus.ignored
    if found.late:
        return MailStatus.late
    forms = ctx.forms()
    if not forms and not found.defects:
        return MailStatus.no_form
    if found.defects:
        return MailStatus.needs_correction
    for file_index, form_index, _outcome, form in forms:
        if any(f.code in CORRECTION_CODES for f in found.all_form_flags(file_index, form_index, form)):
            return MailStatus.needs_correction
    return MailStatus.accepted


def screen(mail: ParsedMail, received_at: dt.datetime, settings: Settings) -> Findings:
    """The before-parse rules: why the mail is ignored (automatic mail), if it is."""
    return run_chain(BEFORE_PARSE, MailContext(mail=mail, received_at=received_at, settings=settings))[1]
