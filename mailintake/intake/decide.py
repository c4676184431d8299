"""Intake stage 4, decide (rules): a parsed mail's status and flags, from the rule chains.

(The before-parse rules ran in the read stage: ``mailintake.rules.chain.screen``.)
``decide_mail`` runs the after-parse rules on its files and turns all findings into a status.
The quota counts come in from the record stage, which holds the database session.
"""

from __future__ import annotations

from dataclasses import replace

from mailintake.campaign.identity import UnitNamer, normalise_unit
from mailintake.config.settings import Settings
from mailintake.db.vocabulary import MailStatus
from mailintake.intake.model import Decision, ParsedFiles
from mailintake.rules.base import FileOutcome, MailContext, Quota
from mailintake.rules.chain import AFTER_PARSE, decide, run_chain
from parsers.records import Flag


def too_large_flag(size: int, settings: Settings) -> Flag:
    limit_mb = settings.mailbox.max_message_bytes / 1024 / 1024
    return Flag(
        "too_large",
        f"邮件大小约为{size / 1024 / 1024:.1f}MB，超过{limit_mb:.0f}MB的接收限制，未能读取。"
        "请仅附Word格式（.docx）申报表后重新发送。",
    )


def decide_mail(parsed: ParsedFiles, settings: Settings, quota: Quota,
                unit_namer: UnitNamer = normalise_unit) -> Decision:
    """Run the after-parse rules (unless the mail was screened out) and decide its status."""
    read = parsed.read
    found = read.screened
    if read.fetched.raw is None and found.ignored_reason is None:
        return Decision(MailStatus.too_large, (too_large_flag(read.fetched.size, settings),), found, ())
    files = tuple(FileOutcome(attachment=stored.attachment, result=result, sha256=stored.sha256,
                              storage_path=stored.storage_path)
                  for stored, result in zip(read.files, parsed.results, strict=True))
    ctx = MailContext(mail=read.mail, received_at=read.fetched.received_at, settings=settings, files=files,
                      quota=quota, unit_namer=unit_namer)
    if found.ignored_reason is None:
        ctx, after = run_chain(AFTER_PARSE, ctx)
        found = found.add(replace(after, files=None))
    return Decision(decide(ctx, found), (*found.defects, *found.notes), found, ctx.files)
