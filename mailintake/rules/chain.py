"""The order of the rules, as data, and the decision they lead to."""

from __future__ import annotations

from mailintake.rules.automatic import AutomaticRule
from mailintake.rules.base import MailContext, Rule
from mailintake.rules.file_defects import FileDefectsRule
from mailintake.rules.late import LateRule
from mailintake.rules.pages import AttachedPagesRule
from mailintake.rules.quota import QuotaRule
from mailintake.vocabulary import MailStatus

#: the chain; an ignored mail stops here, every other rule always runs
CHAIN: tuple[Rule, ...] = (AutomaticRule(), LateRule(), AttachedPagesRule(), FileDefectsRule(), QuotaRule())

#: flag codes that make a form need correction
CORRECTION_CODES = frozenset({"incomplete", "overlong", "unreadable", "unsupported_format", "quota_exceeded"})


def run_chain(ctx: MailContext, *, pre_parse: bool) -> None:
    """Pre-parse: only the automatic rule (an ignored mail is not parsed). Then the rest."""
    for rule in CHAIN:
        is_automatic = rule.name == "automatic"
        if is_automatic == pre_parse:
            rule.check(ctx)


def decide(ctx: MailContext) -> MailStatus:
    """accepted | needs_correction | late | no_form | ignored."""
    if ctx.ignored_reason is not None:
        return MailStatus.ignored
    if ctx.late:
        return MailStatus.late
    forms = ctx.forms()
    if not forms and not ctx.defects:
        return MailStatus.no_form
    if ctx.defects:
        return MailStatus.needs_correction
    for file_index, form_index, _outcome, form in forms:
        if any(f.code in CORRECTION_CODES for f in ctx.all_form_flags(file_index, form_index, form)):
            return MailStatus.needs_correction
    return MailStatus.accepted
